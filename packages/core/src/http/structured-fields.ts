/**
 * A strict subset of RFC 8941 Structured Field Values: dictionaries, inner lists and items
 * (integer, decimal, string, token, byte sequence, boolean) with parameters. Parsing follows
 * the algorithms of RFC 8941 §4.2 and returns `undefined` instead of throwing on any error.
 *
 * @module
 */
import { fromBase64Lenient, toBase64 } from './bytes.js';

/** An RFC 8941 token, kept apart from strings so serialisation round-trips. */
export interface SfToken {
  /** The token text. */
  readonly token: string;
}

/** An RFC 8941 decimal, kept apart from integers so `1.0` is never taken for the integer `1`. */
export interface SfDecimal {
  /** The decimal's value (at most three fractional digits). */
  readonly decimal: number;
}

/** An RFC 8941 bare item: `number` is always an integer. */
export type SfBareItem = number | string | boolean | Uint8Array | SfToken | SfDecimal;

/** Ordered RFC 8941 parameters. */
export type SfParams = ReadonlyArray<readonly [string, SfBareItem]>;

/** An RFC 8941 item with its parameters. */
export interface SfItem {
  /** The bare item. */
  readonly value: SfBareItem;
  /** The item's parameters, in order. */
  readonly params: SfParams;
}

/** An RFC 8941 inner list with its parameters. */
export interface SfInnerList {
  /** The list members. */
  readonly items: readonly SfItem[];
  /** The inner list's parameters, in order. */
  readonly params: SfParams;
}

/** An RFC 8941 dictionary: ordered members keyed by unique keys. */
export type SfDictionary = ReadonlyMap<string, SfItem | SfInnerList>;

/** Whether a dictionary member is an inner list. */
export function isInnerList(member: SfItem | SfInnerList): member is SfInnerList {
  return 'items' in member;
}

// Character classes of RFC 8941, one bit each, for the ASCII range (anything else is in none).
const KEY_START = 1; // lcalpha / "*"
const KEY_CHAR = 2; // lcalpha / DIGIT / "_" / "-" / "." / "*"
const TOKEN_START = 4; // ALPHA / "*"
const TOKEN_CHAR = 8; // tchar / ":" / "/"
const B64_CHAR = 16; // ALPHA / DIGIT / "+" / "/" / "="
const DIGIT = 32;

const CLASSES = /* @__PURE__ */ (() => {
  const t = new Uint8Array(128);
  const mark = (chars: string, bit: number) => {
    for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = (t[chars.charCodeAt(i)] as number) | bit;
  };
  const lower = 'abcdefghijklmnopqrstuvwxyz';
  const upper = lower.toUpperCase();
  const digits = '0123456789';
  mark(`${lower}*`, KEY_START);
  mark(`${lower}${digits}_-.*`, KEY_CHAR);
  mark(`${lower}${upper}*`, TOKEN_START);
  mark(`!#$%&'*+-.^_\`|~${digits}${upper}${lower}:/`, TOKEN_CHAR);
  mark(`${upper}${lower}${digits}+/=`, B64_CHAR);
  mark(digits, DIGIT);
  return t;
})();

/** Whether code unit `c` (NaN past the end) is in class `bit`. */
function is(c: number, bit: number): boolean {
  return c < 128 && ((CLASSES[c] as number) & bit) !== 0;
}

const SP = 0x20;
const HTAB = 0x09;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The parse position over one field value. Every parse function leaves `i` after what it read. */
class Parser {
  i = 0;
  constructor(readonly s: string) {}
  /** The code unit at the position, NaN at the end. */
  code(): number {
    return this.s.charCodeAt(this.i);
  }
  eof(): boolean {
    return this.i >= this.s.length;
  }
  skipSP(): void {
    while (this.s.charCodeAt(this.i) === SP) this.i++;
  }
  skipOWS(): void {
    for (let c = this.s.charCodeAt(this.i); c === SP || c === HTAB; c = this.s.charCodeAt(this.i)) this.i++;
  }
}

function parseKey(p: Parser): string | undefined {
  const s = p.s;
  const start = p.i;
  if (!is(s.charCodeAt(start), KEY_START)) return undefined;
  let i = start + 1;
  while (is(s.charCodeAt(i), KEY_CHAR)) i++;
  p.i = i;
  return s.slice(start, i);
}

function parseNumber(p: Parser): number | SfDecimal | undefined {
  const s = p.s;
  let i = p.i;
  let sign = 1;
  if (s.charCodeAt(i) === 0x2d) {
    sign = -1;
    i++;
  }
  const start = i;
  if (!is(s.charCodeAt(i), DIGIT)) return undefined;
  let dot = -1;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === 0x2e && dot < 0) {
      if (i - start > 12) return undefined;
      dot = i;
    } else if (!is(c, DIGIT)) break;
    i++;
    if (i - start > (dot < 0 ? 15 : 16)) return undefined;
  }
  p.i = i;
  const num = s.slice(start, i);
  if (dot >= 0) {
    const fraction = i - dot - 1;
    if (fraction === 0 || fraction > 3) return undefined;
    return { decimal: sign * Number(num) };
  }
  return sign * Number(num);
}

function parseString(p: Parser): string | undefined {
  const s = p.s;
  let i = p.i + 1; // after the opening DQUOTE
  let from = i;
  let out = '';
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === BACKSLASH) {
      const next = s.charCodeAt(i + 1);
      if (next !== DQUOTE && next !== BACKSLASH) return undefined; // NaN at the end
      out += s.slice(from, i);
      from = i + 1; // the escaped character starts the next run
      i += 2;
    } else if (c === DQUOTE) {
      p.i = i + 1;
      return out + s.slice(from, i);
    } else if (c < 0x20 || c > 0x7e) {
      return undefined;
    } else {
      i++;
    }
  }
  return undefined;
}

function parseToken(p: Parser): SfToken {
  const s = p.s;
  const start = p.i;
  let i = start + 1; // the first character was checked by the caller
  while (is(s.charCodeAt(i), TOKEN_CHAR)) i++;
  p.i = i;
  return { token: s.slice(start, i) };
}

function parseByteSequence(p: Parser): Uint8Array | undefined {
  const s = p.s;
  const start = p.i + 1; // after the opening colon
  const end = s.indexOf(':', start);
  if (end < 0) return undefined;
  for (let i = start; i < end; i++) if (!is(s.charCodeAt(i), B64_CHAR)) return undefined;
  p.i = end + 1;
  // §4.2.7: parsers SHOULD NOT fail on missing `=` padding or non-zero pad bits. This decodes
  // nothing else loosely, and RFC 9421 signs the field text as sent, not these bytes.
  return fromBase64Lenient(s.slice(start, end));
}

function parseBareItem(p: Parser): SfBareItem | undefined {
  const c = p.code();
  if (c === 0x2d || is(c, DIGIT)) return parseNumber(p);
  if (c === DQUOTE) return parseString(p);
  if (c === 0x3a) return parseByteSequence(p);
  if (c === 0x3f) {
    const b = p.s.charCodeAt(p.i + 1);
    p.i += 2;
    if (b === 0x31) return true;
    if (b === 0x30) return false;
    return undefined;
  }
  if (is(c, TOKEN_START)) return parseToken(p);
  return undefined;
}

function parseParams(p: Parser): SfParams | undefined {
  const params: Array<readonly [string, SfBareItem]> = [];
  while (p.code() === 0x3b) {
    p.i++;
    p.skipSP();
    const key = parseKey(p);
    if (key === undefined) return undefined;
    let value: SfBareItem = true;
    if (p.code() === 0x3d) {
      p.i++;
      const v = parseBareItem(p);
      if (v === undefined) return undefined;
      value = v;
    }
    // a repeated key is overwritten in place: its last value, at its first position (§4.2.3.2)
    let k = 0;
    while (k < params.length && (params[k] as readonly [string, SfBareItem])[0] !== key) k++;
    params[k] = [key, value];
  }
  return params;
}

function parseItem(p: Parser): SfItem | undefined {
  const value = parseBareItem(p);
  if (value === undefined) return undefined;
  const params = parseParams(p);
  if (params === undefined) return undefined;
  return { value, params };
}

function parseInnerList(p: Parser): SfInnerList | undefined {
  p.i++; // opening paren
  const items: SfItem[] = [];
  while (!p.eof()) {
    p.skipSP();
    if (p.code() === 0x29) {
      p.i++;
      const params = parseParams(p);
      if (params === undefined) return undefined;
      return { items, params };
    }
    const item = parseItem(p);
    if (item === undefined) return undefined;
    items.push(item);
    const c = p.code();
    if (c !== SP && c !== 0x29) return undefined;
  }
  return undefined;
}

/**
 * Parses an RFC 8941 dictionary strictly (§4.2.2), lenient only where §4.2.7 asks it to be: a byte
 * sequence may lack its `=` padding or carry non-zero pad bits.
 *
 * @param input - the field value; multiple field lines must already be joined with `", "`.
 * @returns the dictionary, or `undefined` when the value is not a valid dictionary.
 */
export function parseDictionary(input: string): SfDictionary | undefined {
  if (typeof input !== 'string') return undefined;
  const p = new Parser(input);
  p.skipSP();
  const dict = new Map<string, SfItem | SfInnerList>();
  while (!p.eof()) {
    const key = parseKey(p);
    if (key === undefined) return undefined;
    let member: SfItem | SfInnerList | undefined;
    if (p.code() === 0x3d) {
      p.i++;
      member = p.code() === 0x28 ? parseInnerList(p) : parseItem(p);
    } else {
      const params = parseParams(p);
      member = params === undefined ? undefined : { value: true, params };
    }
    if (member === undefined) return undefined;
    dict.set(key, member); // a repeated key is overwritten in place (§4.2.2): Map.set keeps its position
    p.skipOWS();
    if (p.eof()) return dict;
    if (p.s.charCodeAt(p.i++) !== 0x2c) return undefined;
    p.skipOWS();
    if (p.eof()) return undefined; // trailing comma
  }
  p.skipSP();
  return dict;
}

/** Serialises an RFC 8941 string; throws `TypeError` for characters outside printable ASCII. */
export function serializeString(s: string): string {
  if (typeof s !== 'string') throw new TypeError('structured field strings must be strings');
  let escapes = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) throw new TypeError('structured field strings must be printable ASCII');
    if (c === DQUOTE || c === BACKSLASH) escapes = true;
  }
  return escapes ? `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : `"${s}"`;
}

/** Whether `k` is a valid RFC 8941 key. */
function isKey(k: string): boolean {
  if (!is(k.charCodeAt(0), KEY_START)) return false;
  for (let i = 1; i < k.length; i++) if (!is(k.charCodeAt(i), KEY_CHAR)) return false;
  return true;
}

/** Serialises an RFC 8941 bare item. */
export function serializeBareItem(v: SfBareItem): string {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || Math.abs(v) > 999_999_999_999_999) {
      throw new RangeError('structured field integers must be integers within ±999999999999999');
    }
    return String(v);
  }
  if (typeof v === 'string') return serializeString(v);
  if (typeof v === 'boolean') return v ? '?1' : '?0';
  if (v instanceof Uint8Array) return `:${toBase64(v)}:`;
  if ('decimal' in v) {
    if (!Number.isFinite(v.decimal)) throw new RangeError('structured field decimals must be finite');
    const str = String(Math.round(v.decimal * 1000) / 1000);
    return str.includes('.') ? str : `${str}.0`;
  }
  if (!/^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*$/.test(v.token)) throw new TypeError('invalid token');
  return v.token;
}

/** Serialises RFC 8941 parameters (`;key=value…`, `true` values bare). */
export function serializeParams(params: SfParams): string {
  let out = '';
  for (const [k, v] of params) {
    if (!isKey(k)) throw new TypeError(`invalid parameter key: ${k}`);
    out += v === true ? `;${k}` : `;${k}=${serializeBareItem(v)}`;
  }
  return out;
}

/** Serialises an RFC 8941 inner list with its parameters. */
export function serializeInnerList(list: SfInnerList): string {
  let out = '(';
  for (let i = 0; i < list.items.length; i++) {
    const it = list.items[i] as SfItem;
    if (i > 0) out += ' ';
    out += serializeBareItem(it.value) + serializeParams(it.params);
  }
  return `${out})${serializeParams(list.params)}`;
}
