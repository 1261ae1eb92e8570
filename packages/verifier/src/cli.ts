#!/usr/bin/env node
/**
 * `campus-card-verify`: a debugging tool for vendors. Prints a readable dump of a QR text (decoded
 * without verification) and, given trust material, the verifier's decision as JSON.
 *
 * ```
 * campus-card-verify <qr-text> [--root <jwk-file> --trust-list <file> [--status-list <file>]
 *                    [--roster <file>] [--now <unix-seconds>]]
 * ```
 * Options take their value as the next argument or after `=` (`--root=root.jwk`). Material files
 * hold the signed bytes, raw or as hex text (whitespace and line breaks ignored, as `xxd -p`
 * writes it), or are a gate client's stored copy (`material/*.json`); `--root` takes a JWK or the
 * platform's `{ "jwk": … }` answer. Exit codes ({@link EXIT_CODES}): 0 accepted, or (dump only) the QR text decodes;
 * 1 denied, or (dump only) the QR text does not decode; 2 usage error, or material unreadable or refused.
 * Material that is only too old for `--now` is no refusal: the verifier holds it, as a gate would,
 * and the decision denies the code `*_STALE` (exit 1).
 *
 * @module
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  decodeCredential,
  decodePresentation,
  decodeQr,
  fromBase64Url,
  fromHex,
  importPublicJwk,
  isCampusCardError,
  toHex,
} from '@campus-card/core';
import { createVerifier } from './create-verifier.js';
import { nodeBackend } from './node.js';

/** Where the CLI writes and reads; injectable for tests. */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly readFile: (path: string) => Uint8Array;
  /** The clock used when `--now` is absent, unix seconds. */
  readonly now: () => number;
}

/** The exit codes of {@link main}. */
export const EXIT_CODES = Object.freeze({
  /** Accepted; without trust material: the QR text decodes. */
  ok: 0,
  /** Denied; without trust material: the QR text does not decode (the dump has an `error`). */
  denied: 1,
  /**
   * A usage error, or trust material that cannot be read or that the verifier refuses (not its
   * format, a bad signature, an unknown issuer). Material that is merely stale at `--now` is held,
   * and the decision denies `*_STALE`: exit {@link EXIT_CODES.denied}.
   */
  usage: 2,
});

const USAGE = `usage: campus-card-verify <qr-text> [--root <jwk-file> --trust-list <file>
                          [--status-list <file>] [--roster <file>] [--now <unix-seconds>]]

  <qr-text>      the text of the QR code, in single quotes: 'CC1:…' (Base45 text contains
                 spaces, and "$" that a shell expands inside double quotes)
  --root         the root public key (the platform's or the school's), a JWK file; from the
                 mock: GET /v1/schools/{id}/root-key (signed), or root_public_jwk at its start
  --trust-list   the signed trust list (needed with --root: both or neither)
  --status-list  the signed status list of the card's school
  --roster       the signed roster (compact codes, physical cards)
  --now          the time to verify at, unix seconds below 10^11 (default: this machine's clock)

Options take their value as the next argument or after "=" (--root=root.jwk). Material files hold
the signed bytes, raw or as hex text (whitespace and line breaks are ignored), or are a gate
client's stored copy (material/*.json). --root takes a JWK or the platform's { "jwk": … } answer.
Without --root and --trust-list it prints only the dump of the QR text, decoded, not verified.

Exit codes:
  0  accepted; without trust material: the QR text decodes
  1  denied; without trust material: the QR text does not decode
  2  usage error, or trust material that cannot be read or is refused (named on stderr);
     material too old at --now is no refusal: the decision denies it (*_STALE), exit 1`;

/** The options that take a value. */
const OPTIONS = ['root', 'trust-list', 'status-list', 'roster', 'now'] as const;
type OptionName = (typeof OPTIONS)[number];

/** A command line that cannot run: printed with the usage, exit 2. */
class UsageError extends Error {}

interface Args {
  readonly help: boolean;
  readonly qr: string | undefined;
  readonly opts: Partial<Record<OptionName, string>>;
}

function parseArgs(argv: readonly string[]): Args {
  const opts: Partial<Record<OptionName, string>> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') return { help: true, qr: undefined, opts };
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const flag = eq === -1 ? a : a.slice(0, eq);
    const name = flag.slice(2) as OptionName;
    if (!flag.startsWith('--') || !OPTIONS.includes(name)) {
      throw new UsageError(`unknown option ${flag}`);
    }
    let value: string | undefined;
    if (eq !== -1) {
      value = a.slice(eq + 1);
    } else {
      value = argv[i + 1];
      if (value?.startsWith('--')) {
        throw new UsageError(`${flag} needs a value, got the option ${value}`);
      }
      i++;
    }
    if (value === undefined || value === '') throw new UsageError(`${flag} needs a value`);
    if (opts[name] !== undefined) throw new UsageError(`${flag} is given twice`);
    opts[name] = value;
  }
  if (positionals.length === 0) throw new UsageError('the QR text is missing');
  if (positionals.length > 1) {
    const shown = positionals.map((p) => JSON.stringify(p.length > 24 ? `${p.slice(0, 24)}…` : p));
    throw new UsageError(
      `one QR text expected, got ${positionals.length} arguments (${shown.join(', ')}): ` +
        `a QR text contains spaces, so quote it, e.g. campus-card-verify 'CC1:…'`,
    );
  }
  return { help: false, qr: positionals[0], opts };
}

/**
 * The signed bytes of a material file: hex text (ASCII whitespace and line breaks ignored, as
 * `xxd -p` writes it), a gate client's stored copy (`material/*.json`: a JSON object whose `bytes`
 * is base64url), or raw bytes.
 *
 * @throws {@link UsageError} for hex text with an odd number of digits, or a JSON object whose
 * `bytes` is not base64url.
 */
function material(bytes: Uint8Array, what: string): Uint8Array {
  const stored = storedCopy(bytes);
  if (stored !== undefined) {
    const decoded = fromBase64Url(stored);
    if (decoded === undefined) throw new UsageError(`${what}: its "bytes" is not base64url`);
    return decoded;
  }
  const text = new TextDecoder().decode(bytes).replace(/[ \t\r\n\f\v]+/g, '');
  if (!/^[0-9a-fA-F]+$/.test(text)) return bytes;
  const decoded = fromHex(text);
  if (decoded === undefined) {
    throw new UsageError(`${what} is hex text with an odd number of digits (${text.length})`);
  }
  return decoded;
}

/** The `bytes` of a JSON object holding a stored copy (a gate client's `material/*.json`). */
function storedCopy(bytes: Uint8Array): string | undefined {
  if (bytes[0] !== 0x7b) return undefined; // '{'; a signed COSE_Sign1 starts with 0x84 or 0xd2
  try {
    const v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
    const b = (v as { bytes?: unknown } | null)?.bytes;
    return typeof b === 'string' ? b : undefined;
  } catch {
    return undefined;
  }
}

/** Builds the unverified dump of a QR text. */
export function dumpQr(text: string): Record<string, unknown> {
  const dump: Record<string, unknown> = { textChars: text.length };
  try {
    const bytes = decodeQr(text);
    dump.presentationBytes = bytes.length;
    const p = decodePresentation(bytes);
    dump.mode = p.mode;
    dump.header = { alg: p.sign1.alg };
    dump.t = p.t;
    dump.nonce = toHex(p.nonce);
    dump.scene = p.scene ?? null;
    if (p.mode === 'compact') {
      dump.cardId = p.cardId;
      dump.holderKid = toHex(p.holderKid as Uint8Array);
    } else {
      const c = decodeCredential(p.credential as Uint8Array);
      dump.credentialBytes = (p.credential as Uint8Array).length;
      dump.credentialHeader = { alg: c.sign1.alg, kid: c.sign1.kid ? toHex(c.sign1.kid) : null };
      const { holderKey, school, physicalCard, ...claims } = c.claims;
      dump.claimsUnverified = {
        school: school ?? null,
        ...(school === undefined
          ? { schoolNote: 'not in the credential: a reader takes it from the trust list (spec §4.1)' }
          : {}),
        ...claims,
        physicalCard: physicalCard ?? null,
        holderKey: { alg: holderKey.alg, kid: toHex(holderKey.kid) },
      };
    }
  } catch (error) {
    dump.error = isCampusCardError(error) ? { code: error.code, message: error.message } : String(error);
  }
  return dump;
}

/**
 * Runs the CLI with `argv` (without node and the script). Resolves to the exit code
 * ({@link EXIT_CODES}).
 *
 * @example
 * ```ts
 * const code = await main(['CC1:…', '--root', 'root.jwk', '--trust-list', 'tl.bin'], io);
 * ```
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
    const given = OPTIONS.filter((o) => args.opts[o] !== undefined);
    const missing = (['root', 'trust-list'] as const).filter((o) => args.opts[o] === undefined);
    if (given.length > 0 && missing.length > 0) {
      const list = (names: readonly string[]) => names.map((o) => `--${o}`).join(', ');
      throw new UsageError(
        `${list(given)} given without ${list(missing)}: verifying needs both --root and --trust-list`,
      );
    }
    const nowText = args.opts.now;
    // the verifier's own bound: a time of 10^11 or more is in milliseconds, not seconds. The value
    // is bounded, not the number of digits: zero-padded seconds (0001767225600, a fixed-width log
    // field) are the same time, and Number() reads decimal digits as decimal
    if (nowText !== undefined && !(/^\d+$/.test(nowText) && Number(nowText) < 1e11)) {
      throw new UsageError(
        `invalid --now ${nowText}: unix seconds, decimal digits only, below 10^11 (a time in milliseconds is refused)`,
      );
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`campus-card-verify: ${error.message}`);
    io.err(USAGE);
    return EXIT_CODES.usage;
  }
  const { qr, opts } = args;
  if (args.help || qr === undefined) {
    io.out(USAGE);
    return EXIT_CODES.ok;
  }
  const dump = dumpQr(qr);
  io.out(JSON.stringify({ qr: dump }, null, 2));
  if (opts.root === undefined || opts['trust-list'] === undefined) {
    return dump.error === undefined ? EXIT_CODES.ok : EXIT_CODES.denied;
  }
  const now = opts.now === undefined ? io.now() : Number(opts.now);
  try {
    const file = (option: OptionName, path: string) => {
      try {
        return io.readFile(path);
      } catch (error) {
        throw new Error(`--${option} ${path}: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    let root: ReturnType<typeof importPublicJwk>;
    try {
      const parsed = JSON.parse(new TextDecoder().decode(file('root', opts.root))) as unknown;
      // a JWK, or the platform's answer to GET /v1/schools/{id}/root-key: { "jwk": {…} }
      const jwk =
        (parsed as { jwk?: unknown; kty?: unknown } | null)?.kty === undefined
          ? ((parsed as { jwk?: unknown } | null)?.jwk ?? parsed)
          : parsed;
      root = importPublicJwk(jwk);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(message.startsWith('--root ') ? message : `--root ${opts.root}: ${message}`);
    }
    const verifier = createVerifier({ rootKeys: [root], backend: nodeBackend });
    const read = (option: OptionName, path: string) => material(file(option, path), `--${option} ${path}`);
    const loads = [verifier.loadTrustList(read('trust-list', opts['trust-list']), { now })];
    const MATERIAL_OPTIONS: OptionName[] = ['trust-list'];
    if (opts['status-list'] !== undefined) {
      loads.push(verifier.loadStatusList(read('status-list', opts['status-list']), { now }));
      MATERIAL_OPTIONS.push('status-list');
    }
    if (opts.roster !== undefined) {
      loads.push(verifier.loadRoster(read('roster', opts.roster), { now }));
      MATERIAL_OPTIONS.push('roster');
    }
    const decision = await verifier.verify(qr, { now, reader: { id: 'campus-card-verify' } });
    io.out(JSON.stringify({ loads, decision }, null, 2));
    // material the verifier refused (not its format, a bad signature, an unknown issuer): the
    // decision was not made with what was given, so it is no answer about the card. Stale material
    // is not refused at load (a gate holds it too): the decision denies the code *_STALE, exit 1,
    // which is the answer a gate holding that material gives at that time (--now shows another)
    const refused = loads.flatMap((l, i) =>
      l.ok ? [] : [`${MATERIAL_OPTIONS[i] ?? 'material'}: ${l.reason}${l.detail ? ` (${l.detail})` : ''}`],
    );
    if (refused.length > 0) {
      for (const r of refused) io.err(`campus-card-verify: --${r}`);
      return EXIT_CODES.usage;
    }
    return decision.accepted ? EXIT_CODES.ok : EXIT_CODES.denied;
  } catch (error) {
    io.err(`campus-card-verify: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_CODES.usage;
  }
}

/** Whether this module is the program node runs (not imported), whatever the file is named. */
function isMain(): boolean {
  const arg = process.argv[1];
  if (arg === undefined) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  // a reader that stops early (`campus-card-verify … | head`) closes the pipe: that is no error
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  main(process.argv.slice(2), {
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
    readFile: (p) => new Uint8Array(readFileSync(p)),
    now: () => Math.floor(Date.now() / 1000),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`campus-card-verify: ${String(error)}\n`);
      process.exitCode = EXIT_CODES.usage;
    },
  );
}
