#!/usr/bin/env node
/**
 * `campus-card-mock`: runs the mock platform with demo data.
 *
 * Usage: `campus-card-mock [--port 8080] [--host 127.0.0.1] [--db path|:memory:] [--record file.jsonl] [--seed n] [--day-utc-offset +08:00] [--no-demo] [--no-admin]`.
 * `PORT` is honoured (default 8080); `--port` wins. A malformed port, seed or offset, or an unknown
 * option, exits 2 with `campus-card-mock: ` and the {@link parseCliArgs} error, then the usage; a
 * database whose demo data was made with another seed exits 2 too. A platform that cannot start (the port is in use, the database cannot be opened)
 * exits 1 with one line saying why ({@link startupFailure}).
 *
 * @module
 */
import { closeSync, openSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_DAY_UTC_OFFSET, formatUtcOffset, parseUtcOffset } from '@campus-card/core';
import { DemoIncompleteError, DemoSeedMismatchError } from './demo.js';
import { NotAPlatformDatabaseError, SchemaTooNewError } from './lib/db.js';
import { ensureDir } from './lib/ensure-dir.js';
import { isMainModule } from './lib/is-main.js';
import { DEFAULT_DB_PATH } from './platform.js';
import { startMockPlatform } from './server.js';

const USAGE = `usage: campus-card-mock [--port <0-65535>] [--host <addr>] [--db <file|:memory:>]
                        [--record <file.jsonl>] [--seed <integer>] [--day-utc-offset <±HH:MM>]
                        [--no-demo] [--no-admin]

  --port      the port (wins over PORT; default 8080; 0 picks a free one)
  --host      the address to listen on (default 127.0.0.1)
  --db        the SQLite file, or :memory: (default ${DEFAULT_DB_PATH})
  --record    append every request and push to this JSON lines file
  --seed      seed of demo keys and fault injection (default 1)
  --day-utc-offset
              the UTC offset of the business day, -14:00 to +14:00 (default ${DEFAULT_DAY_UTC_OFFSET},
              China Standard Time): offline daily caps and daily statements run from 00:00
              to 24:00 at it (a negative one is written --day-utc-offset=-05:00)
  --no-demo   start without the demo school
  --no-admin  turn the unsigned /admin routes off
`;

/** What a command line asks for (see {@link parseCliArgs}). */
export interface CliOptions {
  readonly help: boolean;
  readonly port: number;
  readonly host: string;
  readonly dbPath: string;
  readonly recordFile: string | undefined;
  readonly seed: number;
  /** The UTC offset of the business day, `±HH:MM` (`--day-utc-offset`); default `+08:00`. */
  readonly dayUtcOffset: string;
  readonly demo: boolean;
  readonly admin: boolean;
}

/** A command line that cannot run: the CLI prints the message and the usage, and exits 2. */
export class CliUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliUsageError';
  }
}

/**
 * A port as written: 1 to 5 decimal digits, at most 65535. `Number.parseInt` read `0x1F90`,
 * `0abc` and `0.5` as 0 (a random port) and `9000abc` as 9000.
 */
function portOf(text: string, from: string): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n <= 65_535)) {
    throw new CliUsageError(`invalid port ${text} (${from}): a whole number from 0 to 65535`);
  }
  return n;
}

/**
 * Reads the command line (`argv` without the node and script paths) and the environment (`PORT`;
 * empty counts as unset). Pure: no I/O, no exit.
 *
 * @throws {@link CliUsageError} for an unknown option, a missing value, a port that is not 0 to
 * 65535 in decimal digits, a seed that is not a decimal integer, or a `--day-utc-offset` that is
 * not `±HH:MM` from -14:00 to +14:00.
 * @example
 * ```ts
 * parseCliArgs(['--port', '9000'], {}).port; // 9000
 * ```
 */
export function parseCliArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): CliOptions {
  let values: {
    port?: string | undefined;
    host?: string | undefined;
    db?: string | undefined;
    record?: string | undefined;
    seed?: string | undefined;
    'day-utc-offset'?: string | undefined;
    'no-demo'?: boolean | undefined;
    'no-admin'?: boolean | undefined;
    help?: boolean | undefined;
  };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        db: { type: 'string' },
        record: { type: 'string' },
        seed: { type: 'string' },
        'day-utc-offset': { type: 'string' },
        'no-demo': { type: 'boolean' },
        'no-admin': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new CliUsageError((error as Error).message);
  }
  const port =
    values.port !== undefined
      ? portOf(values.port, '--port')
      : env.PORT !== undefined && env.PORT !== ''
        ? portOf(env.PORT, 'PORT')
        : 8080;
  let seed = 1;
  if (values.seed !== undefined) {
    seed = /^-?\d{1,16}$/.test(values.seed) ? Number(values.seed) : Number.NaN;
    if (!Number.isSafeInteger(seed))
      throw new CliUsageError(`invalid seed ${values.seed}: a decimal integer`);
  }
  let dayUtcOffset = DEFAULT_DAY_UTC_OFFSET;
  if (values['day-utc-offset'] !== undefined) {
    try {
      dayUtcOffset = formatUtcOffset(parseUtcOffset(values['day-utc-offset'], '--day-utc-offset'));
    } catch (error) {
      throw new CliUsageError((error as Error).message);
    }
  }
  return {
    help: values.help === true,
    port,
    host: values.host ?? '127.0.0.1',
    dbPath: values.db ?? DEFAULT_DB_PATH,
    recordFile: values.record,
    seed,
    dayUtcOffset,
    demo: values['no-demo'] !== true,
    admin: values['no-admin'] !== true,
  };
}

/** What the CLI prints and exits with when the platform cannot start. */
export interface StartupFailure {
  /** One line, without a stack trace. */
  readonly message: string;
  /** 1 (cannot start), or 2 for demo data made with another seed (a command line to change). */
  readonly exitCode: 1 | 2;
}

const errorCode = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};
const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** A `--record` file that cannot be written. */
class RecordFileError extends Error {}

/** Creates the recording file (and its folder) up front, so that a bad path is one line, not a crash. */
function openRecordFile(file: string): void {
  try {
    ensureDir(dirname(file));
    closeSync(openSync(file, 'a'));
  } catch (error) {
    throw new RecordFileError(`cannot write the recording ${file}: ${messageOf(error)}`);
  }
}

/**
 * The one line the CLI prints for an error that stopped the platform from starting: the port in
 * use, a host that is not this machine's, a database that cannot be opened, a recording file that
 * cannot be written, demo data made with another seed. Pure.
 *
 * @example
 * ```ts
 * startupFailure(Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' }), options).message;
 * // 'port 8080 is in use on 127.0.0.1 (set PORT or --port)'
 * ```
 */
export function startupFailure(error: unknown, options: CliOptions): StartupFailure {
  const { port, host, dbPath } = options;
  if (error instanceof RecordFileError) return { exitCode: 1, message: error.message };
  if (error instanceof SchemaTooNewError || error instanceof NotAPlatformDatabaseError)
    return { exitCode: 1, message: `cannot open database ${dbPath}: ${error.message}` };
  if (error instanceof DemoIncompleteError) {
    return {
      exitCode: 1,
      message: `the demo data in ${dbPath} is incomplete (an earlier start was stopped while loading it) and could not be completed (${error.reason}): delete ${dbPath}, or use another --db`,
    };
  }
  if (error instanceof DemoSeedMismatchError) {
    const fix = `or use a fresh --db (another file, or :memory:)`;
    return {
      exitCode: 2,
      message:
        error.dataSeed === undefined
          ? `the demo data in ${dbPath} was made with another seed than ${error.seed} (its keys do not match): start with the --seed it was made with, ${fix}`
          : `the demo data in ${dbPath} was made with --seed ${error.dataSeed}, not ${error.seed}: start with --seed ${error.dataSeed}, ${fix}`,
    };
  }
  const code = errorCode(error);
  const syscall = (error as { syscall?: unknown } | null)?.syscall;
  if (code === 'EADDRINUSE')
    return { exitCode: 1, message: `port ${port} is in use on ${host} (set PORT or --port)` };
  if (code === 'EACCES' && syscall === 'listen') {
    return {
      exitCode: 1,
      message: `no permission to listen on port ${port} of ${host} (set PORT or --port)`,
    };
  }
  if (code === 'EADDRNOTAVAIL') {
    return { exitCode: 1, message: `cannot listen on ${host}: not an address of this machine (--host)` };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return { exitCode: 1, message: `cannot listen on ${host}: unknown host (--host)` };
  }
  if (code?.startsWith('SQLITE_') || (error instanceof Error && error.name === 'SqliteError')) {
    return { exitCode: 1, message: `cannot open database ${dbPath}: ${messageOf(error)}` };
  }
  const path = (error as { path?: unknown } | null)?.path;
  // a folder on the way to the database file that cannot be made, or the file itself
  const db = resolve(dbPath);
  if (
    typeof path === 'string' &&
    dbPath !== ':memory:' &&
    (db === resolve(path) || db.startsWith(resolve(path) + sep))
  ) {
    return { exitCode: 1, message: `cannot open database ${dbPath}: ${messageOf(error)}` };
  }
  return { exitCode: 1, message: `cannot start: ${messageOf(error)}` };
}

async function main(): Promise<void> {
  let options: CliOptions;
  try {
    options = parseCliArgs(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof CliUsageError)) throw error;
    console.error(`campus-card-mock: ${error.message}\n${USAGE}`);
    process.exit(2);
  }
  if (options.help) {
    console.log(USAGE);
    return;
  }
  // Set before the platform starts: a signal while it opens the database or loads the demo exits
  // at once, with code 0, and leaves the database as it was (the demo loads in one transaction).
  let server: Awaited<ReturnType<typeof startMockPlatform>> | undefined;
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server?.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  watchLauncher(process.env, () => void stop());
  try {
    if (options.recordFile !== undefined) openRecordFile(options.recordFile);
    server = await startMockPlatform({
      port: options.port,
      host: options.host,
      dbPath: options.dbPath,
      demo: options.demo,
      admin: options.admin,
      seed: options.seed,
      dayUtcOffset: options.dayUtcOffset,
      ...(options.recordFile === undefined ? {} : { recordFile: options.recordFile }),
    });
  } catch (error) {
    if (stopping) return; // a signal's exit is under way
    const failure = startupFailure(error, options);
    console.error(`campus-card-mock: ${failure.message}`);
    process.exit(failure.exitCode);
  }
  const demo = server.platform.demo;
  console.log(`campus-card mock platform listening on ${server.url}`);
  console.log(`  OpenAPI:  ${server.url}/openapi.json`);
  console.log(`  health:   ${server.url}/health`);
  console.log(`  database: ${options.dbPath}`);
  console.log(`  business day: 00:00 to 24:00 at UTC${server.platform.state.settings.dayUtcOffset}`);
  if (demo !== undefined) {
    console.log(
      '\nDemo credentials (sign requests with RFC 9421, keyid = the id; root_public_jwk: the school root key readers trust, rootKeys of createVerifier):',
    );
    console.log(
      JSON.stringify(
        {
          school_id: demo.schoolId,
          root_public_jwk: demo.rootPublicJwk,
          operator: demo.operator,
          devices: demo.devices,
          merchants: demo.merchants,
        },
        null,
        2,
      ),
    );
    console.log(
      '\nDemo cards (the phone key and the credential make QR codes: docs/guides/mock-platform.md):',
    );
    for (const c of demo.cards) {
      console.log(
        JSON.stringify({
          card_id: c.cardId,
          person_id: c.personId,
          role: c.role,
          physical_uid_hex: c.physicalUidHex,
          holder_private_jwk: c.holderPrivateJwk,
          credential: c.credential,
        }),
      );
    }
  }
}

/**
 * Under `npm start` or `npx`, npm runs the command through a shell, and stopping npm (a CI job's
 * `kill $PID`) signals that shell, not this process: the platform went on holding its port after
 * its launcher was gone. So, when npm launched it (`npm_lifecycle_event` or `npm_command` in the
 * environment), it stops once its parent process has exited (checked every 500 ms). Run directly,
 * e.g. under `nohup`, it outlives its shell as any server does.
 */
function watchLauncher(environment: NodeJS.ProcessEnv, onGone: () => void): void {
  if (environment.npm_lifecycle_event === undefined && environment.npm_command === undefined) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone();
  }, 500);
  timer.unref();
}

if (isMainModule(import.meta.url)) {
  await main().catch((error: unknown) => {
    console.error(`campus-card-mock: ${messageOf(error)}`);
    process.exit(1);
  });
}
