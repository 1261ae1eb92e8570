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
 *
 * Every root is read and bound, and every material file read, before the dump is printed: a usage
 * error, a file that cannot be read, or a file given to an option that does not take it (a status
 * list as `--trust-list`, a QR text, the mock's whole startup output as `--root`: what it is is
 * read from it unverified, with core's `decode*`) stops the command with no dump. A trust list
 * refused `UNKNOWN_ISSUER` is named with the authority it states and the root that signed it (the
 * `--root` bound to another authority, or the kid of a root not given), and a status list or
 * roster then refused `NO_TRUST_LIST` says the trust lists given were refused. A dump whose Base45
 * does not decode has a `hint`: double quotes let a shell expand the `$` of Base45 text.
 *
 * Exit codes ({@link EXIT_CODES}): 0 accepted, or (dump only) the QR text decodes;
 * 1 denied, or (dump only) the QR text does not decode; 2 usage error, or material unreadable,
 * given to the wrong option, or refused (each file named on stderr; no dump but for a refusal).
 * Material that is only too old for `--now` is no refusal: the verifier holds it, as a gate would,
 * and the decision denies the code `*_STALE` (exit 1).
 *
 * @module
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  bytesEqual,
  decodeCredential,
  decodePresentation,
  decodeQr,
  decodeRoster,
  decodeStatusList,
  decodeTrustList,
  fromBase64Url,
  fromHex,
  importPublicJwk,
  isCampusCardError,
  type PublicKey,
  QR_PREFIX,
  toHex,
} from '@campus-card/core';
import { createVerifier } from './create-verifier.js';
import { nodeBackend } from './node.js';
import type { LoadResult } from './trust-store.js';

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
   * A usage error, or trust material that cannot be read, that is given to an option that does not
   * take it (a status list as `--trust-list`), or that the verifier refuses (not its format, a bad
   * signature, an unknown issuer). Material that is merely stale at `--now` is held, and the
   * decision denies `*_STALE`: exit {@link EXIT_CODES.denied}.
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

A file given to an option that does not take it (a status list as --trust-list, a QR text, the
mock's whole startup output as --root: save its root_public_jwk object alone) is named with what
it is and the option that takes it, exit 2. Roots, bindings and files are checked before the dump:
a usage error or a file that cannot be read prints no dump. A trust list refused UNKNOWN_ISSUER is
named with the authority it states and the root that signed it (a --root bound to another
authority, or the kid of a root not given). A QR text whose Base45 does not decode gets a "hint" in
the dump (a shell expands "$…" inside double quotes).

Exit codes:
  0  accepted; without trust material: the QR text decodes
  1  denied; without trust material: the QR text does not decode
  2  usage error, or trust material that cannot be read or is refused, or a file given to the
     wrong option (each named on stderr);
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
 * @throws an `Error` (JSON or JWK) for a file that holds neither, naming what it holds when that is
 * other material ({@link identify}), or the mock's startup output (whose `root_public_jwk` object
 * alone is a JWK).
 */
function rootKey(bytes: Uint8Array): { key: PublicKey; school: string | undefined } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch (error) {
    throw new Error(notRootKey(bytes) ?? (error instanceof Error ? error.message : String(error)));
  }
  const answer = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as {
    jwk?: unknown;
    kty?: unknown;
    school_id?: unknown;
  };
  if (answer.kty === undefined && answer.jwk === undefined) {
    throw new Error(
      notRootKey(bytes) ?? 'this is not a JWK (it has no "kty") nor a root-key answer (it has no "jwk")',
    );
  }
  if (answer.kty !== undefined || answer.jwk === undefined) {
    return { key: importPublicJwk(parsed), school: undefined };
  }
  const school = typeof answer.school_id === 'string' ? answer.school_id : undefined;
  return { key: importPublicJwk(answer.jwk), school };
}

/** Why a `--root` file that is not a root key is not: it is other material, or the mock's output. */
function notRootKey(bytes: Uint8Array): string | undefined {
  const found = identify(bytes);
  if (found === undefined || found.option === 'root') return undefined;
  return `this ${found.is}, ${TAKES.root}: ${found.fix}`;
}

/** A file identified by {@link identify}: what it is, and where it belongs. */
interface Identified {
  /** The option that takes it; `undefined` for what none takes (a QR text, the mock's output). */
  readonly option: OptionName | undefined;
  /** What it is, after "this": `is a status list (school sch-demo)`. */
  readonly is: string;
  /** How to give it instead: `give it as --status-list`. */
  readonly fix: string;
}

/** What a file given to each option is not, when {@link identify} finds it is other material. */
const TAKES: Readonly<Record<Exclude<OptionName, 'now'>, string>> = {
  root: 'not a JWK nor a root-key answer ({ "school_id", "jwk" })',
  'trust-list': 'not a trust list',
  'status-list': 'not a status list',
  roster: 'not a roster',
};

/** Where a code to check goes. */
const QR_ARGUMENT = "as the first argument, in single quotes: campus-card-verify 'CC1:…'";

/**
 * What a file given to an option holds, decoded without verification (core's `decode*`, which
 * tell trust lists, status lists, rosters, credentials and presentations apart by their payload's
 * structure), or a JWK, a root-key answer, a QR text or the mock's startup output. `undefined` for
 * none of them: the option's own load then names what is wrong.
 */
function identify(file: Uint8Array): Identified | undefined {
  const text = new TextDecoder().decode(file).trim();
  if (text.includes('"root_public_jwk"')) {
    return {
      option: undefined,
      is: "looks like the mock's startup output",
      fix: 'save its root_public_jwk object alone in a file, and give that file as --root',
    };
  }
  if (text.startsWith(QR_PREFIX)) {
    return { option: undefined, is: 'is a QR text', fix: `give it ${QR_ARGUMENT}` };
  }
  if (text.startsWith('{')) {
    try {
      const json = JSON.parse(text) as { kty?: unknown; jwk?: unknown; school_id?: unknown } | null;
      if (json?.kty !== undefined) return { option: 'root', is: 'is a JWK', fix: 'give it as --root' };
      if (json?.jwk !== undefined) {
        const school = typeof json.school_id === 'string' ? ` (school ${json.school_id})` : '';
        return { option: 'root', is: `is a root-key answer${school}`, fix: 'give it as --root' };
      }
    } catch {
      // not JSON: maybe a stored copy (below)
    }
  }
  let bytes: Uint8Array;
  try {
    bytes = material(file, '');
  } catch {
    return undefined;
  }
  const attempts: (() => Identified)[] = [
    () => {
      const { authority } = decodeTrustList(bytes).trustList;
      const is = `is a trust list (authority ${JSON.stringify(authority)})`;
      return { option: 'trust-list', is, fix: 'give it as --trust-list' };
    },
    () => {
      const { school } = decodeStatusList(bytes).statusList;
      return {
        option: 'status-list',
        is: `is a status list (school ${school})`,
        fix: 'give it as --status-list',
      };
    },
    () => {
      const { school } = decodeRoster(bytes).roster;
      return { option: 'roster', is: `is a roster (school ${school})`, fix: 'give it as --roster' };
    },
    () => {
      decodePresentation(bytes);
      const is = 'is a presentation (the bytes a QR code carries)';
      return { option: undefined, is, fix: `give its QR text ${QR_ARGUMENT}` };
    },
    () => {
      const { cardId, school } = decodeCredential(bytes).claims;
      const of = school === undefined ? '' : ` of school ${school}`;
      return {
        option: undefined,
        is: `is a credential (card ${cardId}${of})`,
        fix: `a reader gets it inside a presentation: give the QR text of one ${QR_ARGUMENT}`,
      };
    },
  ];
  for (const attempt of attempts) {
    try {
      return attempt();
    } catch {
      // not this kind
    }
  }
  return undefined;
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

/**
 * The dump's `hint` when the text after `CC1:` is no Base45 or carries no bytes: what a shell does
 * to a code in double quotes, the likeliest cause at a command line.
 */
const SHELL_QUOTE_HINT =
  'a shell expands "$…" inside double quotes, and Base45 text has "$": a code given as "CC1:…" ' +
  "loses characters; quote it in single quotes, campus-card-verify 'CC1:…'";

/**
 * Builds the unverified dump of a QR text. A text that does not decode has an `error` (a core error
 * as `{ code, message }`); when its Base45 does not decode it also has a `hint`
 * ({@link SHELL_QUOTE_HINT}).
 */
export function dumpQr(text: string): Record<string, unknown> {
  const dump: Record<string, unknown> = { textChars: text.length };
  let bytes: Uint8Array;
  try {
    bytes = decodeQr(text);
  } catch (error) {
    dump.error = isCampusCardError(error) ? { code: error.code, message: error.message } : String(error);
    // the prefix, the type and the length are checked first: a Base45 error (or no bytes at all)
    // means the text after CC1: is not what the code showed
    if (isCampusCardError(error) && (error.code === 'ERR_QR_BASE45' || error.code === 'ERR_CBOR_MALFORMED')) {
      dump.hint = SHELL_QUOTE_HINT;
    }
    return dump;
  }
  try {
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
  // every file is read, and every root bound, before the dump: a usage error or a file that cannot
  // be read or is given to the wrong option prints no dump
  let setup: Setup | undefined;
  if (opts.root.length > 0 && opts['trust-list'].length > 0) {
    try {
      setup = prepare(args, io);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      for (const line of message.split('\n')) io.err(`campus-card-verify: ${line}`);
      if (error instanceof UsageError) io.err(USAGE);
      return EXIT_CODES.usage;
    }
  }
  const dump = dumpQr(qr);
  io.out(JSON.stringify({ qr: dump }, null, 2));
  if (setup === undefined) return dump.error === undefined ? EXIT_CODES.ok : EXIT_CODES.denied;
  const { roots, verifier } = setup;
  const now = opts.now[0] === undefined ? io.now() : Number(opts.now[0]);
  // trust lists first, in order (one held per authority), then the status lists and the roster
  // they vouch for
  const loads = [
    ...setup.trustLists.map((m) => ({ ...m, result: verifier.loadTrustList(m.bytes, { now }) })),
    ...setup.statusLists.map((m) => ({ ...m, result: verifier.loadStatusList(m.bytes, { now }) })),
    ...setup.roster.map((m) => ({ ...m, result: verifier.loadRoster(m.bytes, { now }) })),
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
  // material the verifier refused (not its format, a bad signature, an unknown issuer, a root that
  // does not anchor its authority): the decision was not made with what was given, so it is no
  // answer about the card. Stale material is not refused at load (a gate holds it too): the
  // decision denies the code *_STALE, exit 1, which is the answer a gate holding that material
  // gives at that time (--now shows another)
  const trustListsRefused = loads.filter((l) => l.result.material === 'trustList' && !l.result.ok).length;
  const refused = loads.flatMap((l) =>
    l.result.ok ? [] : [`${l.label}: ${refusal(l.result, l.bytes, roots, trustListsRefused)}`],
  );
  if (refused.length > 0) {
    for (const r of refused) io.err(`campus-card-verify: ${r}`);
    return EXIT_CODES.usage;
  }
  return decision.accepted ? EXIT_CODES.ok : EXIT_CODES.denied;
}

/** A material file read: its label in messages (`--trust-list tl.bin`), path and signed bytes. */
interface MaterialFile {
  readonly label: string;
  readonly path: string;
  readonly bytes: Uint8Array;
}

/** What a verifying run holds before it prints the dump. */
interface Setup {
  readonly roots: readonly Root[];
  readonly verifier: ReturnType<typeof createVerifier>;
  readonly trustLists: readonly MaterialFile[];
  readonly statusLists: readonly MaterialFile[];
  readonly roster: readonly MaterialFile[];
}

/**
 * Reads the roots and binds them, makes the verifier and reads every material file, refusing each
 * file given to an option that does not take it ({@link identify}), all before anything loads.
 *
 * @throws {@link UsageError} for roots that cannot be bound; {@link MaterialFileError} for a file
 * that cannot be read, or files given to the wrong option (one line each); the verifier's own
 * `TypeError` for root keys it refuses.
 */
function prepare(args: Args, io: CliIo): Setup {
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
    rootKeys: roots.map((r) => (r.authority === undefined ? r.key : { key: r.key, authority: r.authority })),
    backend: nodeBackend,
  });
  const misplaced: string[] = [];
  const read = (option: 'trust-list' | 'status-list' | 'roster', path: string): MaterialFile => {
    const label = `--${option} ${path}`;
    const raw = file(label, path);
    const found = identify(raw);
    if (found !== undefined && found.option !== option) {
      misplaced.push(`${label}: this ${found.is}, ${TAKES[option]}: ${found.fix}`);
    }
    return { label, path, bytes: material(raw, label) };
  };
  const { opts } = args;
  const trustLists = opts['trust-list'].map((p) => read('trust-list', p));
  const statusLists = opts['status-list'].map((p) => read('status-list', p));
  const roster = opts.roster.map((p) => read('roster', p));
  if (misplaced.length > 0) throw new MaterialFileError(misplaced.join('\n'));
  return { roots, verifier, trustLists, statusLists, roster };
}

/**
 * The message of a load the verifier refused, with what the CLI can tell of the cause: for a trust
 * list of an unknown issuer, which root signed it (its kid, decoded without verification) and the
 * authority it states; for a status list or roster refused for want of a trust list, that the
 * trust lists given were refused.
 */
function refusal(
  result: Extract<LoadResult, { ok: false }>,
  bytes: Uint8Array,
  roots: readonly Root[],
  trustListsRefused: number,
): string {
  const base = `${result.reason}${result.detail ? ` (${result.detail})` : ''}`;
  if (result.reason === 'NO_TRUST_LIST' && trustListsRefused > 0) {
    const given =
      trustListsRefused === 1
        ? 'the --trust-list given was'
        : `the ${trustListsRefused} --trust-list given were`;
    return `NO_TRUST_LIST (no trust list was loaded to check it: ${given} refused, see above)`;
  }
  if (result.material !== 'trustList' || result.reason !== 'UNKNOWN_ISSUER') return base;
  let authority: string;
  let kid: Uint8Array | undefined;
  try {
    const decoded = decodeTrustList(bytes);
    authority = decoded.trustList.authority;
    kid = decoded.sign1.kid;
  } catch {
    return base;
  }
  if (kid === undefined) return base;
  const states = `the list states authority ${JSON.stringify(authority)}`;
  const signer = roots.find((r) => bytesEqual(r.key.kid, kid));
  if (signer === undefined) {
    return `${base}: ${states} and is signed by a root key that no --root gives (kid ${toHex(kid)})`;
  }
  if (signer.authority === undefined || signer.authority === authority) return base;
  // the CLI cannot tell a misbound root from a list its root may not sign (a school's root
  // signing a list that states "platform"): the fix is named for the first case only
  const { given, file } = signer.option;
  return (
    `${base}: ${states} and is signed by --root ${given}: ` +
    `if ${file} is the root key of ${JSON.stringify(authority)}, give --root ${authority}=${file}`
  );
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
