/**
 * Deterministic CBOR (RFC 8949 §4.2.1): a strict scan that enforces the size, nesting, type and
 * determinism rules of spec §2.1 before any decoding work, a decoder for the validated subset,
 * and encoding with cbor-x (configured to emit no tags).
 * Internal: not exported from the package.
 *
 * @module
 */
import { Encoder, type Options } from 'cbor-x';
import { CampusCardError } from '../errors.js';

/** A CBOR value of the subset this format allows. */
export type CborValue = number | string | boolean | Uint8Array | CborValue[] | CborMap;
/** A CBOR map with integer or text keys. */
export type CborMap = Map<number | string, CborValue>;

const encoderOptions: Options & { useTag259ForMaps?: boolean } = {
  useRecords: false,
  mapsAsObjects: false,
  tagUint8Array: false,
  useTag259ForMaps: false,
  variableMapSize: true,
  pack: false,
};
// Module-private codec instances, configured once; no tags are registered anywhere.
const encoder = new Encoder(encoderOptions);

/** Size and nesting limits for `scanCbor`. */
export interface CborLimits {
  /** Maximum input length, bytes. */
  maxBytes: number;
  /** Maximum nesting depth of arrays and maps. Default 8. */
  maxDepth?: number;
  /** Maximum number of elements in one array or map. Default 65 536. */
  maxItems?: number;
}

const MAX_SAFE = 2 ** 53 - 1;

/**
 * Checks that `bytes` is exactly one well-formed, deterministically encoded CBOR item of the
 * allowed subset, within `limits`. Throws a typed {@link CampusCardError}; never anything else.
 */
export function scanCbor(bytes: Uint8Array, limits: CborLimits, what: string): void {
  if (bytes.length > limits.maxBytes) {
    throw new CampusCardError(
      'ERR_INPUT_TOO_LARGE',
      `${what} is ${bytes.length} bytes; the limit is ${limits.maxBytes}`,
      {
        section: '2.1',
      },
    );
  }
  if (bytes.length === 0)
    throw new CampusCardError('ERR_CBOR_MALFORMED', `${what} is empty`, { section: '2.1' });
  const maxDepth = limits.maxDepth ?? 8;
  let end: number;
  try {
    end = scanItem(bytes, 0, 0, maxDepth, limits.maxItems ?? 65_536, what);
  } catch (error) {
    // "unsupported" and "not deterministic" are verdicts on well-formed CBOR only: input that is not
    // CBOR at all (RFC 8949 Appendix C: a float, tag or indefinite-length item cut short, a tag with
    // no content, a break where no item may end, trailing bytes, ...) is ERR_CBOR_MALFORMED whatever
    // else the scan met first (spec §9)
    if (
      error instanceof CampusCardError &&
      (error.code === 'ERR_CBOR_UNSUPPORTED_TYPE' || error.code === 'ERR_CBOR_NOT_DETERMINISTIC') &&
      wellFormed(bytes, maxDepth) === false
    ) {
      throw malformed(what, `not well-formed CBOR (${error.message.slice(what.length + 2)})`);
    }
    throw error;
  }
  if (end !== bytes.length) {
    throw new CampusCardError('ERR_CBOR_MALFORMED', `${what} has ${bytes.length - end} trailing bytes`, {
      section: '2.1',
    });
  }
}

function malformed(what: string, detail: string): CampusCardError {
  return new CampusCardError('ERR_CBOR_MALFORMED', `${what}: ${detail}`, { section: '2.1' });
}

function unsupported(what: string, detail: string): CampusCardError {
  return new CampusCardError('ERR_CBOR_UNSUPPORTED_TYPE', `${what}: ${detail}`, { section: '2.1' });
}

function notDeterministic(what: string, detail: string): CampusCardError {
  return new CampusCardError('ERR_CBOR_NOT_DETERMINISTIC', `${what}: ${detail}`, { section: '2.1' });
}

/** Length of the head last read by {@link readArg} (a module slot, so the hot path allocates no tuple). */
let headLen = 0;

/** Reads the argument of the head at `pos` and returns it; sets `headLen`. Enforces shortest form. */
function readArg(b: Uint8Array, pos: number, what: string): number {
  const ai = (b[pos] as number) & 0x1f;
  if (ai < 24) {
    headLen = 1;
    return ai;
  }
  const n = b.length;
  switch (ai) {
    case 24: {
      if (pos + 2 > n) throw malformed(what, 'truncated');
      const v = b[pos + 1] as number;
      if (v < 24) throw notDeterministic(what, `non-shortest argument at ${pos}`);
      headLen = 2;
      return v;
    }
    case 25: {
      if (pos + 3 > n) throw malformed(what, 'truncated');
      const v = ((b[pos + 1] as number) << 8) | (b[pos + 2] as number);
      if (v < 256) throw notDeterministic(what, `non-shortest argument at ${pos}`);
      headLen = 3;
      return v;
    }
    case 26: {
      if (pos + 5 > n) throw malformed(what, 'truncated');
      const v =
        (b[pos + 1] as number) * 0x1000000 +
        (((b[pos + 2] as number) << 16) | ((b[pos + 3] as number) << 8) | (b[pos + 4] as number));
      if (v < 65_536) throw notDeterministic(what, `non-shortest argument at ${pos}`);
      headLen = 5;
      return v;
    }
    case 27: {
      if (pos + 9 > n) throw malformed(what, 'truncated');
      const hi =
        (b[pos + 1] as number) * 0x1000000 +
        (((b[pos + 2] as number) << 16) | ((b[pos + 3] as number) << 8) | (b[pos + 4] as number));
      const lo =
        (b[pos + 5] as number) * 0x1000000 +
        (((b[pos + 6] as number) << 16) | ((b[pos + 7] as number) << 8) | (b[pos + 8] as number));
      if (hi === 0) throw notDeterministic(what, `non-shortest argument at ${pos}`);
      const v = hi * 0x100000000 + lo;
      if (v > MAX_SAFE) throw unsupported(what, `integer or length above 2^53-1 at ${pos}`);
      headLen = 9;
      return v;
    }
    case 31: {
      // only strings, arrays and maps have an indefinite-length form (RFC 8949 §3.2)
      const major = (b[pos] as number) >> 5;
      if (major < 2 || major === 6)
        throw malformed(what, `additional information 31 with major type ${major} at ${pos}`);
      throw unsupported(what, `indefinite length at ${pos}`);
    }
    default:
      throw malformed(what, `reserved additional information ${ai} at ${pos}`);
  }
}

/** Offset just past the head last read by {@link readHead} (a module slot: no tuple per head). */
export let headEnd = 0;

/**
 * Reads, at `pos` and before `limit`, a CBOR head of major type `major` in shortest form with an
 * argument of at most 32 bits; returns the argument and sets {@link headEnd}. Anything else (another
 * type, a longer or non-shortest head, truncation) gives -1: the non-throwing {@link readArg} of a
 * decoder that steps aside for the general one.
 */
export function readHead(b: Uint8Array, pos: number, limit: number, major: number): number {
  if (pos >= limit) return -1;
  const ib = b[pos] as number;
  if (ib >> 5 !== major) return -1;
  const ai = ib & 0x1f;
  if (ai < 24) {
    headEnd = pos + 1;
    return ai;
  }
  if (ai === 24) {
    if (pos + 2 > limit) return -1;
    const v = b[pos + 1] as number;
    headEnd = pos + 2;
    return v < 24 ? -1 : v;
  }
  if (ai === 25) {
    if (pos + 3 > limit) return -1;
    const v = ((b[pos + 1] as number) << 8) | (b[pos + 2] as number);
    headEnd = pos + 3;
    return v < 256 ? -1 : v;
  }
  if (ai === 26) {
    if (pos + 5 > limit) return -1;
    const v =
      (b[pos + 1] as number) * 0x1000000 +
      (((b[pos + 2] as number) << 16) | ((b[pos + 3] as number) << 8) | (b[pos + 4] as number));
    headEnd = pos + 5;
    return v < 65_536 ? -1 : v;
  }
  return -1;
}

function compareBytes(b: Uint8Array, a0: number, a1: number, c0: number, c1: number): number {
  const la = a1 - a0;
  const lc = c1 - c0;
  const m = Math.min(la, lc);
  for (let i = 0; i < m; i++) {
    const d = (b[a0 + i] as number) - (b[c0 + i] as number);
    if (d !== 0) return d;
  }
  return la - lc;
}

function scanItem(
  b: Uint8Array,
  pos: number,
  depth: number,
  maxDepth: number,
  maxItems: number,
  what: string,
): number {
  if (pos >= b.length) throw malformed(what, 'truncated');
  const ib = b[pos] as number;
  const major = ib >> 5;
  switch (major) {
    case 0:
      readArg(b, pos, what);
      return pos + headLen;
    case 1:
      // the value is −1 − argument: argument 2^53 − 1 would be −2^53, whose magnitude is over
      // the 2^53 − 1 of spec §2.1 (and not a safe integer)
      if (readArg(b, pos, what) === MAX_SAFE)
        throw unsupported(what, `negative integer below -(2^53-1) at ${pos}`);
      return pos + headLen;
    case 2:
    case 3: {
      const len = readArg(b, pos, what);
      const start = pos + headLen;
      const end = start + len;
      if (end > b.length) throw malformed(what, `string at ${pos} runs past the end`);
      if (major === 3) checkUtf8(b, start, end, what);
      return end;
    }
    case 4:
    case 5: {
      const count = readArg(b, pos, what);
      const h = headLen;
      if (depth + 1 > maxDepth) {
        throw new CampusCardError(
          'ERR_CBOR_TOO_DEEP',
          `${what}: nesting deeper than the limit of ${maxDepth}`,
          {
            section: '2.1',
          },
        );
      }
      if (count > maxItems) {
        throw new CampusCardError(
          'ERR_INPUT_TOO_LARGE',
          `${what}: ${count} elements in the ${major === 4 ? 'array' : 'map'} at ${pos}; the limit is ${maxItems}`,
          { section: '2.1' },
        );
      }
      // each element needs at least one byte: a cheap bound before walking
      if (count * (major === 5 ? 2 : 1) > b.length - pos - h)
        throw malformed(what, `container at ${pos} runs past the end`);
      let p = pos + h;
      if (major === 4) {
        for (let i = 0; i < count; i++) p = scanItem(b, p, depth + 1, maxDepth, maxItems, what);
        return p;
      }
      let prevStart = -1;
      let prevEnd = -1;
      for (let i = 0; i < count; i++) {
        const keyStart = p;
        const kb = b[p];
        if (kb === undefined) throw malformed(what, 'truncated');
        const km = kb >> 5;
        if (km !== 0 && km !== 1 && km !== 3) throw unsupported(what, `map key of major type ${km} at ${p}`);
        p = scanItem(b, p, depth + 1, maxDepth, maxItems, what);
        if (prevStart >= 0 && compareBytes(b, prevStart, prevEnd, keyStart, p) >= 0) {
          throw notDeterministic(what, `map keys out of order or duplicated at ${keyStart}`);
        }
        prevStart = keyStart;
        prevEnd = p;
        p = scanItem(b, p, depth + 1, maxDepth, maxItems, what);
      }
      return p;
    }
    case 6: {
      // a well-formed tag is unsupported; a head no tag can have is malformed (RFC 8949 §3)
      const ai = ib & 0x1f;
      if (ai >= 28) throw malformed(what, `reserved additional information ${ai} in a tag at ${pos}`);
      throw unsupported(what, `tag at ${pos}`);
    }
    default: {
      const ai = ib & 0x1f;
      if (ai === 20 || ai === 21) return pos + 1;
      if (ai === 31) throw malformed(what, `unexpected break at ${pos}`);
      if (ai >= 28) throw malformed(what, `reserved additional information ${ai} at ${pos}`);
      if (ai === 24) {
        // a simple value below 32 takes the one-byte head; the two-byte form of one is not CBOR (§3.3)
        const v = b[pos + 1];
        if (v === undefined) throw malformed(what, 'truncated');
        if (v < 32) throw malformed(what, `two-byte simple value ${v} below 32 at ${pos}`);
      }
      throw unsupported(what, `simple value or float (0x${ib.toString(16)}) at ${pos}`);
    }
  }
}

/**
 * Whether `b` is exactly one well-formed CBOR data item (RFC 8949 Appendix C) of any kind, tags,
 * floats, simple values and indefinite lengths included, with every text string valid UTF-8 (spec
 * §2.1 counts invalid UTF-8 as malformed). `undefined` when arrays and maps nest deeper than
 * `maxDepth` before the answer is known: the walk keeps one counter per open container, so its
 * memory is bounded by the depth limit, never by the input. Only run on the error path of
 * {@link scanCbor}, to tell "not CBOR" from "CBOR this format does not take".
 */
function wellFormed(b: Uint8Array, maxDepth: number): boolean | undefined {
  const n = b.length;
  // per open item: what it still expects (n ≥ 0: n more items; -1: items or chunks until a break;
  // -2 / -3: an indefinite-length map before a key / before a value), and for an indefinite-length
  // string the major type its chunks must have (else -1). The bottom frame is the one top-level item.
  const left: number[] = [1];
  const chunkMajor: number[] = [-1];
  // a tag head was just read: its content comes next and fills the tag's slot
  let tagged = false;
  let pos = 0;
  while (left.length > 0) {
    const top = left.length - 1;
    const expected = left[top] as number;
    if (expected === 0) {
      left.pop();
      chunkMajor.pop();
      continue;
    }
    if (pos >= n) return false;
    const ib = b[pos] as number;
    if (ib === 0xff) {
      // a break ends an indefinite-length item: never a definite one, a tag or half a map pair
      if ((expected !== -1 && expected !== -2) || tagged) return false;
      pos++;
      left.pop();
      chunkMajor.pop();
      continue;
    }
    const major = ib >> 5;
    const ai = ib & 0x1f;
    const chunk = chunkMajor[top] as number;
    // the chunks of an indefinite-length string are definite-length strings of its own type
    if (chunk !== -1 && (major !== chunk || ai === 31)) return false;
    let arg = ai;
    let head = 1;
    if (ai >= 24 && ai <= 27) {
      const size = 1 << (ai - 24);
      if (pos + 1 + size > n) return false;
      arg = 0;
      for (let i = 1; i <= size; i++) arg = arg * 256 + (b[pos + i] as number);
      head = 1 + size;
    } else if (ai >= 28 && ai <= 30) {
      return false;
    } else if (ai === 31 && (major === 0 || major === 1 || major === 6)) {
      return false;
    }
    if (major === 7 && ai === 24 && arg < 32) return false;
    pos += head;
    if (major === 6) {
      tagged = true;
      continue;
    }
    tagged = false;
    left[top] = expected > 0 ? expected - 1 : expected === -2 ? -3 : expected === -3 ? -2 : -1;
    if (major === 2 || major === 3) {
      if (ai === 31) {
        left.push(-1);
        chunkMajor.push(major);
      } else {
        if (arg > n - pos) return false;
        if (major === 3 && !isUtf8(b, pos, pos + arg)) return false;
        pos += arg;
      }
    } else if (major === 4 || major === 5) {
      // (no string frame is open here: chunks are strings, so containers nest in containers only)
      if (left.length > maxDepth) return undefined;
      if (ai === 31) {
        left.push(major === 4 ? -1 : -2);
      } else {
        const count = major === 5 ? arg * 2 : arg;
        // every item takes at least one byte
        if (count > n - pos) return false;
        left.push(count);
      }
      chunkMajor.push(-1);
    }
  }
  return pos === n;
}

function isUtf8(b: Uint8Array, start: number, end: number): boolean {
  try {
    checkUtf8(b, start, end, '');
    return true;
  } catch {
    return false;
  }
}

// `ignoreBOM`: a leading U+FEFF is part of the text (a WHATWG decoder drops it by default, which
// would make two encodings of a signed text the same string); see `textDecoder` below
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function checkUtf8(b: Uint8Array, start: number, end: number, what: string): void {
  for (let i = start; i < end; i++) {
    if ((b[i] as number) >= 0x80) {
      try {
        utf8.decode(b.subarray(start, end));
      } catch {
        throw malformed(what, `text string at ${start} is not valid UTF-8`);
      }
      return;
    }
  }
}

/** The end offset of the (already scanned, well-formed) item that starts at `pos`. */
export function itemEnd(bytes: Uint8Array, pos: number): number {
  return scanItem(bytes, pos, 0, 64, Number.MAX_SAFE_INTEGER, 'item');
}

/** Makes integers beyond 32 bits bigints, so cbor-x writes them as 8-byte integers, not floats. */
function widenInts(v: CborValue): unknown {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new RangeError(`cannot encode ${v}: only safe integers are allowed`);
    return v > 0xffffffff || v < -0x100000000 ? BigInt(v) : v;
  }
  if (Array.isArray(v)) return v.map(widenInts);
  if (v instanceof Map) {
    const m = new Map<unknown, unknown>();
    for (const [k, x] of v) m.set(widenInts(k), widenInts(x));
    return m;
  }
  return v;
}

function needsWidening(v: CborValue): boolean {
  if (typeof v === 'number') return !(v <= 0xffffffff && v >= -0x100000000 && Number.isInteger(v));
  if (Array.isArray(v)) return v.some(needsWidening);
  if (v instanceof Map) {
    for (const [k, x] of v) if (needsWidening(k) || needsWidening(x)) return true;
  }
  return false;
}

/**
 * Decodes signed text strings: `fatal` refuses invalid UTF-8, and `ignoreBOM` keeps a leading
 * U+FEFF (`EF BB BF`) in the string instead of silently dropping it, so that `EF BB BF "T-0042"` and
 * `"T-0042"` stay two different card ids.
 */
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** End of the item last built by {@link buildItem} (a module slot: no tuple per item). */
let builtEnd = 0;

/**
 * Builds the value of an item that `scanCbor` already validated (so no check is repeated
 * here) and sets `builtEnd`. Byte strings are views into `b`.
 */
function buildItem(b: Uint8Array, pos: number): CborValue {
  const ib = b[pos] as number;
  const major = ib >> 5;
  const arg = readArg(b, pos, 'item');
  let p = pos + headLen;
  switch (major) {
    case 0:
      builtEnd = p;
      return arg;
    case 1:
      builtEnd = p;
      return -1 - arg;
    case 2:
      builtEnd = p + arg;
      return b.subarray(p, p + arg);
    case 3: {
      const end = p + arg;
      builtEnd = end;
      let ascii = true;
      for (let i = p; i < end; i++) {
        if ((b[i] as number) >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (!ascii) return textDecoder.decode(b.subarray(p, end));
      let text = '';
      for (let i = p; i < end; i++) text += String.fromCharCode(b[i] as number);
      return text;
    }
    case 4: {
      const out: CborValue[] = new Array(arg);
      for (let i = 0; i < arg; i++) {
        out[i] = buildItem(b, p);
        p = builtEnd;
      }
      builtEnd = p;
      return out;
    }
    case 5: {
      const out: CborMap = new Map();
      for (let i = 0; i < arg; i++) {
        const k = buildItem(b, p);
        const v = buildItem(b, builtEnd);
        out.set(k as number | string, v);
        p = builtEnd;
      }
      builtEnd = p;
      return out;
    }
    default:
      builtEnd = pos + 1;
      return ib === 0xf5;
  }
}

/**
 * Scans (see `scanCbor`) and decodes one item. Decoding is done here, on the validated
 * subset, rather than by cbor-x: it is a few lines once the scan has checked everything, and
 * several times faster on the hot path of a reader. Byte strings are copies, never views into
 * the caller's buffer.
 */
export function decodeCbor(bytes: Uint8Array, limits: CborLimits, what: string): CborValue {
  scanCbor(bytes, limits, what);
  return buildItem(bytes.slice(), 0);
}

/**
 * {@link decodeCbor} without the copy: byte strings are views into `bytes`. Only for bytes the
 * caller owns and never hands out or changes (e.g. a buffer it just decoded from QR text, or a
 * view into such a buffer).
 */
export function decodeCborOwned(bytes: Uint8Array, limits: CborLimits, what: string): CborValue {
  scanCbor(bytes, limits, what);
  return buildItem(bytes, 0);
}

function keyRank(k: number | string): number {
  return typeof k === 'string' ? 2 : k >= 0 ? 0 : 1;
}

const textEncoder = new TextEncoder();

/** The deterministic order of map keys (RFC 8949 §4.2.1) for integer and text keys. */
export function compareKeys(a: number | string, b: number | string): number {
  const ra = keyRank(a);
  const rb = keyRank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === 'number' && typeof b === 'number') return ra === 0 ? a - b : b - a;
  const ea = textEncoder.encode(a as string);
  const eb = textEncoder.encode(b as string);
  if (ea.length !== eb.length) return ea.length - eb.length;
  for (let i = 0; i < ea.length; i++) if (ea[i] !== eb[i]) return (ea[i] as number) - (eb[i] as number);
  return 0;
}

/** Builds a map with keys in deterministic order; entries whose value is `undefined` are left out. */
export function cmap(entries: ReadonlyArray<readonly [number | string, CborValue | undefined]>): CborMap {
  const kept = entries.filter((e): e is readonly [number | string, CborValue] => e[1] !== undefined);
  kept.sort((x, y) => compareKeys(x[0], y[0]));
  return new Map(kept);
}

/** Encodes a value deterministically. Maps must have been built with {@link cmap}. */
export function encodeCbor(value: CborValue): Uint8Array {
  const out = encoder.encode(needsWidening(value) ? widenInts(value) : value) as Uint8Array;
  // copy out of cbor-x's shared buffer into a plain Uint8Array we own
  return new Uint8Array(out);
}
