#!/usr/bin/env node
/**
 * `campus-card-verify`: a debugging tool for vendors. Prints a readable dump of a QR text (decoded
 * without verification) and, given trust material, the verifier's decision as JSON.
 *
 * ```
 * campus-card-verify <qr-text> [--root [<authority>=]<jwk-file>]... --trust-list <file>...
 *                    [--status-list <file>]... [--roster <file>] [--now <unix-seconds>]
 * ```
 * Options take their value as the next argument or after `=` (`--root=root.jwk`). `--root`,
 * `--trust-list` and `--status-list` may be repeated; `--roster` and `--now` may not. `--root`
 * takes a JWK or the platform's `{ "school_id", "jwk" }` root-key answer. One root may be given bare
 * (`--root root.jwk`): it anchors whatever authority its trust lists state. `--root platform=<file>`
 * or `--root <school_id>=<file>` binds a root to the authority whose trust lists it signs (spec §3);
 * with several roots each must be bound, and a root-key answer given bare is bound to its
 * `school_id` (a bound one must name the same school). Trust lists load in order, then status
 * lists, then the roster: the verifier holds one trust list per authority and one status list per
 * school; the decision's `audit.trustListAuthority` names the authority whose list vouched for the
 * card. Material files hold the signed bytes, raw or as hex text (whitespace and line breaks
 * ignored, as `xxd -p` writes it), or are a gate client's stored copy (`material/*.json`).
 * Exit codes ({@link EXIT_CODES}): 0 accepted, or (dump only) the QR text decodes;
 * 1 denied, or (dump only) the QR text does not decode; 2 usage error, or material unreadable or
 * refused (each refused file named on stderr). Material that is only too old for `--now` is no
 * refusal: the verifier holds it, as a gate would, and the decision denies the code `*_STALE` (exit 1).
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
  type PublicKey,
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

const USAGE = `usage: campus-card-verify <qr-text> [--root [<authority>=]<jwk-file>]... --trust-list <file>...
                          [--status-list <file>]... [--roster <file>] [--now <unix-seconds>]

  <qr-text>      the text of the QR code, in single quotes: 'CC1:…' (Base45 text contains
                 spaces, and "$" that a shell expands inside double quotes)
  --root         a root public key (the platform's or a school's): a JWK file, or the platform's
                 { "school_id", "jwk" } answer (from the mock: GET /v1/schools/{id}/root-key,
                 signed, or the root_public_jwk object it prints at start: a school's root).
                 Repeatable. One root may be given bare: it anchors whatever authority its trust
                 lists state. Bind a root to the authority whose trust lists it signs with
                 --root platform=<file> or --root <school_id>=<file> (the mock's root:
                 --root sch-demo=<file>); with several roots each must be bound (a root-key
                 answer given bare is bound to its school_id). A file whose name has "=": ./name
  --trust-list   a signed trust list, repeatable (one per authority: the platform's, a school's),
                 loaded in the order given (needed with --root: both or neither); from the mock:
                 GET /v1/schools/{id}/trust-list, signed, the school's own list (no platform list)
  --status-list  the signed status list of a school, repeatable (one per school); a code is
                 accepted only with its school's (NO_STATUS_LIST otherwise)
  --roster       the signed roster (compact codes, physical cards)
  --now          the time to verify at, unix seconds below 10^11 (default: this machine's clock)

Options take their value as the next argument or after "=" (--root=root.jwk). Material files hold
the signed bytes, raw or as hex text (whitespace and line breaks are ignored), or are a gate
client's stored copy (material/*.json). Without --root and --trust-list it prints only the dump of
the QR text, decoded, not verified. With them it prints the roots (each with its authority, null
for a bare one), each load and the decision, whose audit.trustListAuthority names the authority
whose trust list vouched for the card.

Exit codes:
  0  accepted; without trust material: the QR text decodes
  1  denied; without trust material: the QR text does not decode
  2  usage error, or trust material that cannot be read or is refused (each named on stderr);
     material too old at --now is no refusal: the decision denies it (*_STALE), exit 1`;

/** The options that take a value. */
const OPTIONS = ['root', 'trust-list', 'status-list', 'roster', 'now'] as const;
type OptionName = (typeof OPTIONS)[number];
/** The options that may be given more than once (each value kept, in order). */
const REPEATABLE: readonly OptionName[] = ['root', 'trust-list', 'status-list'];

/** A command line that cannot run: printed with the usage, exit 2. */
class UsageError extends Error {}

/** A file that is not material in any format the CLI reads: printed alone, exit 2. */
class MaterialFileError extends Error {}

/**
 * The authority of a bound `--root` (`"platform"` or a school id): the school id pattern of the
 * platform's HTTP API, so a path (`./x`, `../x`, a `/` or `\` anywhere before the `=`) is never one.
 */
const AUTHORITY = /^(?:[A-Za-z0-9_.:-]*[A-Za-z0-9_:-][A-Za-z0-9_.:-]*|\.{3,})$/;

/** One `--root` as given: its file, and the authority it is bound to (`undefined`: bare). */
interface RootOption {
  /** The value as given (`root.jwk`, `platform=root.jwk`), to name it in messages. */
  readonly given: string;
  readonly file: string;
  readonly authority: string | undefined;
}

/**
 * Reads a `--root` value: `<authority>=<file>` when the text before the first `=` holds no `/` or
 * `\` (a bound root), else the whole value is a file (a bare root).
 *
 * @throws {@link UsageError} for a bound form whose authority is not `"platform"` or a school id
 * (1 to 64 characters of `A-Z a-z 0-9 _ . : -`), or that names no file.
 */
function rootOption(given: string): RootOption {
  const eq = given.indexOf('=');
  const sep = given.search(/[/\\]/);
  if (eq === -1 || (sep !== -1 && sep < eq)) return { given, file: given, authority: undefined };
  const authority = given.slice(0, eq);
  const file = given.slice(eq + 1);
  if (!AUTHORITY.test(authority) || authority.length > 64) {
    throw new UsageError(
      `--root ${given}: ${JSON.stringify(authority)} is no authority ("platform" or a school id, ` +
        '1 to 64 characters of A-Z a-z 0-9 _ . : -); a file whose name has "=" is given as ./name',
    );
  }
  if (file === '') throw new UsageError(`--root ${given}: no file after "="`);
  return { given, file, authority };
}

interface Args {
  readonly help: boolean;
  readonly qr: string | undefined;
  /** Each option's values in the order given (one at most for an option not {@link REPEATABLE}). */
  readonly opts: Readonly<Record<OptionName, readonly string[]>>;
  readonly roots: readonly RootOption[];
}

function parseArgs(argv: readonly string[]): Args {
  const opts: Record<OptionName, string[]> = {
    root: [],
    'trust-list': [],
    'status-list': [],
    roster: [],
    now: [],
  };
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') return { help: true, qr: undefined, opts, roots: [] };
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
    if (opts[name].length > 0 && !REPEATABLE.includes(name)) {
      throw new UsageError(`${flag} is given twice`);
    }
    opts[name].push(value);
  }
  if (positionals.length === 0) throw new UsageError('the QR text is missing');
  if (positionals.length > 1) {
    const shown = positionals.map((p) => JSON.stringify(p.length > 24 ? `${p.slice(0, 24)}…` : p));
    throw new UsageError(
      `one QR text expected, got ${positionals.length} arguments (${shown.join(', ')}): ` +
        `a QR text contains spaces, so quote it, e.g. campus-card-verify 'CC1:…'`,
    );
  }
  return { help: false, qr: positionals[0], opts, roots: opts.root.map(rootOption) };
}

/** A root key read from its file, with the authority it anchors (`undefined`: bare). */
interface Root {
  readonly option: RootOption;
  readonly key: PublicKey;
  readonly authority: string | undefined;
}

/**
 * The root key of a `--root` file: a JWK, or the platform's answer to
 * `GET /v1/schools/{id}/root-key`, `{ "school_id": …, "jwk": {…} }` (its `school` is that answer's
 * `school_id`, if a string).
 *
 * @throws an `Error` (JSON or JWK) for a file that holds neither.
 */
function rootKey(bytes: Uint8Array): { key: PublicKey; school: string | undefined } {
  const parsed = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  const answer = parsed as { jwk?: unknown; kty?: unknown; school_id?: unknown } | null;
  if (answer?.kty !== undefined || answer?.jwk === undefined) {
    return { key: importPublicJwk(parsed), school: undefined };
  }
  const school = typeof answer.school_id === 'string' ? answer.school_id : undefined;
  return { key: importPublicJwk(answer.jwk), school };
}

/**
 * Binds each root read to its authority (spec §3): one bare root stays bare (it anchors whatever
 * authority its lists state); among several, a bare root-key answer is bound to its `school_id`,
 * and any other bare root is refused, as `createVerifier` refuses a bare key among several.
 *
 * @throws {@link UsageError} for a bare JWK among several roots, or a root bound to another
 * authority than the school its root-key answer names.
 */
function bindRoots(
  read: readonly { option: RootOption; key: PublicKey; school: string | undefined }[],
): Root[] {
  return read.map(({ option, key, school }) => {
    if (option.authority !== undefined && school !== undefined && school !== option.authority) {
      throw new UsageError(
        `--root ${option.given}: the file is the root key of school ${JSON.stringify(school)} ` +
          `(its school_id), not of ${JSON.stringify(option.authority)}: give --root ${school}=${option.file}`,
      );
    }
    const authority = option.authority ?? (read.length > 1 ? school : undefined);
    if (read.length > 1 && authority === undefined) {
      throw new UsageError(
        `--root ${option.given} is a bare key among ${read.length} roots: with several roots, bind each ` +
          'to the authority whose trust lists it signs, --root platform=<file> or --root <school_id>=<file> ' +
          "(so that one school's root cannot speak for the platform or for another school)",
      );
    }
    return { option, key, authority };
  });
}

/**
 * The signed bytes of a material file: hex text (ASCII whitespace and line breaks ignored, as
 * `xxd -p` writes it), a gate client's stored copy (`material/*.json`: a JSON object whose `bytes`
 * is base64url), or raw bytes.
 *
 * @throws {@link MaterialFileError} for hex text with an odd number of digits, or a JSON object
 * whose `bytes` is not base64url.
 */
function material(bytes: Uint8Array, what: string): Uint8Array {
  const stored = storedCopy(bytes);
  if (stored !== undefined) {
    const decoded = fromBase64Url(stored);
    if (decoded === undefined) throw new MaterialFileError(`${what}: its "bytes" is not base64url`);
    return decoded;
  }
  const text = new TextDecoder().decode(bytes).replace(/[ \t\r\n\f\v]+/g, '');
  if (!/^[0-9a-fA-F]+$/.test(text)) return bytes;
  const decoded = fromHex(text);
  if (decoded === undefined) {
    throw new MaterialFileError(`${what} is hex text with an odd number of digits (${text.length})`);
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
 * // the platform's root and school 10001's, each with its trust list
 * await main(['CC1:…', '--root', 'platform=platform.jwk', '--root', '10001=school.jwk',
 *   '--trust-list', 'platform-tl.bin', '--trust-list', 'school-tl.bin'], io);
 * ```
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
    const { opts } = args;
    const given = OPTIONS.filter((o) => opts[o].length > 0);
    const missing = (['root', 'trust-list'] as const).filter((o) => opts[o].length === 0);
    if (given.length > 0 && missing.length > 0) {
      const list = (names: readonly string[]) => names.map((o) => `--${o}`).join(', ');
      throw new UsageError(
        `${list(given)} given without ${list(missing)}: verifying needs both --root and --trust-list`,
      );
    }
    const nowText = opts.now[0];
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
  if (opts.root.length === 0 || opts['trust-list'].length === 0) {
    return dump.error === undefined ? EXIT_CODES.ok : EXIT_CODES.denied;
  }
  const now = opts.now[0] === undefined ? io.now() : Number(opts.now[0]);
  try {
    const file = (label: string, path: string) => {
      try {
        return io.readFile(path);
      } catch (error) {
        throw new MaterialFileError(`${label}: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    const roots = bindRoots(
      args.roots.map((option) => {
        const label = `--root ${option.given}`;
        const bytes = file(label, option.file);
        try {
          return { option, ...rootKey(bytes) };
        } catch (error) {
          throw new MaterialFileError(`${label}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }),
    );
    const verifier = createVerifier({
      rootKeys: roots.map((r) =>
        r.authority === undefined ? r.key : { key: r.key, authority: r.authority },
      ),
      backend: nodeBackend,
    });
    // every file is read (and a bad one named) before anything loads
    const read = (option: OptionName, path: string) => {
      const label = `--${option} ${path}`;
      return { label, path, bytes: material(file(label, path), label) };
    };
    const trustLists = opts['trust-list'].map((p) => read('trust-list', p));
    const statusLists = opts['status-list'].map((p) => read('status-list', p));
    const roster = opts.roster.map((p) => read('roster', p));
    // trust lists first, in order (one held per authority), then the status lists and the roster
    // they vouch for
    const loads = [
      ...trustLists.map((m) => ({ ...m, result: verifier.loadTrustList(m.bytes, { now }) })),
      ...statusLists.map((m) => ({ ...m, result: verifier.loadStatusList(m.bytes, { now }) })),
      ...roster.map((m) => ({ ...m, result: verifier.loadRoster(m.bytes, { now }) })),
    ];
    const decision = await verifier.verify(qr, { now, reader: { id: 'campus-card-verify' } });
    io.out(
      JSON.stringify(
        {
          // authority null: a bare root, anchoring whatever authority its lists state
          roots: roots.map((r) => ({
            file: r.option.file,
            authority: r.authority ?? null,
            kid: toHex(r.key.kid),
          })),
          loads: loads.map((l) => ({ file: l.path, ...l.result })),
          decision,
        },
        null,
        2,
      ),
    );
    // material the verifier refused (not its format, a bad signature, an unknown issuer, a root
    // that does not anchor its authority): the decision was not made with what was given, so it is
    // no answer about the card. Stale material is not refused at load (a gate holds it too): the
    // decision denies the code *_STALE, exit 1, which is the answer a gate holding that material
    // gives at that time (--now shows another)
    const refused = loads.flatMap(({ label, result: l }) =>
      l.ok ? [] : [`${label}: ${l.reason}${l.detail ? ` (${l.detail})` : ''}`],
    );
    if (refused.length > 0) {
      for (const r of refused) io.err(`campus-card-verify: ${r}`);
      return EXIT_CODES.usage;
    }
    return decision.accepted ? EXIT_CODES.ok : EXIT_CODES.denied;
  } catch (error) {
    io.err(`campus-card-verify: ${error instanceof Error ? error.message : String(error)}`);
    if (error instanceof UsageError) io.err(USAGE);
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
