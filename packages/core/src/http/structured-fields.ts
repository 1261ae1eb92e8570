/**
 * A strict subset of RFC 8941 Structured Field Values: dictionaries, inner lists and items
 * (integer, decimal, string, token, byte sequence, boolean) with parameters. Parsing follows
 * the algorithms of RFC 8941 §4.2 and returns `undefined` instead of throwing on any error.
 *
 * @module
 */
import { fromBase64, toBase64 } from './bytes.js';

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

class Parser {
  i = 0;
  constructor(readonly s: string) {}
  peek(): string {
    return this.s.charAt(this.i);
  }
  eof(): boolean {
    return this.i >= this.s.length;
  }
  skipSP(): void {
    while (this.peek() === ' ') this.i++;
  }
  skipOWS(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.i++;
  }
}

const KEY_START = /[a-z*]/;
const KEY_CHAR = /[a-z0-9_\-.*]/;
const TOKEN_START = /[A-Za-z*]/;
const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/;
const B64_CHAR = /[A-Za-z0-9+/=]/;

function parseKey(p: Parser): string | undefined {
  if (!KEY_START.test(p.peek())) return undefined;
  let key = '';
  while (!p.eof() && KEY_CHAR.test(p.peek())) key += p.s.charAt(p.i++);
  return key;
}

function parseNumber(p: Parser): number | SfDecimal | undefined {
  let sign = 1;
  if (p.peek() === '-') {
    sign = -1;
    p.i++;
  }
  if (!/[0-9]/.test(p.peek())) return undefined;
  let num = '';
  let decimal = false;
  while (!p.eof()) {
    const c = p.peek();
    if (/[0-9]/.test(c)) num += c;
    else if (c === '.' && !decimal) {
      if (num.length > 12) return undefined;
      num += c;
      decimal = true;
    } else break;
    p.i++;
    if (!decimal && num.length > 15) return undefined;
    if (decimal && num.length > 16) return undefined;
  }
  if (decimal) {
    if (num.endsWith('.')) return undefined;
    if ((num.split('.')[1] ?? '').length > 3) return undefined;
    return { decimal: sign * Number(num) };
  }
  return sign * Number(num);
}

function parseString(p: Parser): string | undefined {
  p.i++; // opening DQUOTE
  let out = '';
  while (!p.eof()) {
    const c = p.s.charAt(p.i++);
    if (c === '\\') {
      if (p.eof()) return undefined;
      const next = p.s.charAt(p.i++);
      if (next !== '"' && next !== '\\') return undefined;
      out += next;
    } else if (c === '"') {
      return out;
    } else {
      const code = c.charCodeAt(0);
      if (code < 0x20 || code > 0x7e) return undefined;
      out += c;
    }
  }
  return undefined;
}

function parseToken(p: Parser): SfToken {
  let out = '';
  while (!p.eof() && TOKEN_CHAR.test(p.peek())) out += p.s.charAt(p.i++);
  return { token: out };
}

function parseByteSequence(p: Parser): Uint8Array | undefined {
  p.i++; // opening colon
  const end = p.s.indexOf(':', p.i);
  if (end < 0) return undefined;
  const content = p.s.slice(p.i, end);
  p.i = end + 1;
  for (const c of content) if (!B64_CHAR.test(c)) return undefined;
  return fromBase64(content);
}

function parseBareItem(p: Parser): SfBareItem | undefined {
  const c = p.peek();
  if (c === '-' || /[0-9]/.test(c)) return parseNumber(p);
  if (c === '"') return parseString(p);
  if (c === ':') return parseByteSequence(p);
  if (c === '?') {
    p.i++;
    const b = p.s.charAt(p.i++);
    if (b === '1') return true;
    if (b === '0') return false;
    return undefined;
  }
  if (TOKEN_START.test(c)) return parseToken(p);
  return undefined;
}

function parseParams(p: Parser): SfParams | undefined {
  const params: Array<readonly [string, SfBareItem]> = [];
  while (p.peek() === ';') {
    p.i++;
    p.skipSP();
    const key = parseKey(p);
    if (key === undefined) return undefined;
    let value: SfBareItem = true;
    if (p.peek() === '=') {
      p.i++;
      const v = parseBareItem(p);
      if (v === undefined) return undefined;
      value = v;
    }
    const existing = params.findIndex(([k]) => k === key);
    if (existing >= 0) params.splice(existing, 1);
    params.push([key, value]);
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
    if (p.peek() === ')') {
      p.i++;
      const params = parseParams(p);
      if (params === undefined) return undefined;
      return { items, params };
    }
    const item = parseItem(p);
    if (item === undefined) return undefined;
    items.push(item);
    const c = p.peek();
    if (c !== ' ' && c !== ')') return undefined;
  }
  return undefined;
}

/**
 * Parses an RFC 8941 dictionary strictly (§4.2.2).
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
    if (p.peek() === '=') {
      p.i++;
      member = p.peek() === '(' ? parseInnerList(p) : parseItem(p);
    } else {
      const params = parseParams(p);
      member = params === undefined ? undefined : { value: true, params };
    }
    if (member === undefined) return undefined;
    dict.delete(key);
    dict.set(key, member);
    p.skipOWS();
    if (p.eof()) return dict;
    if (p.s.charAt(p.i++) !== ',') return undefined;
    p.skipOWS();
    if (p.eof()) return undefined; // trailing comma
  }
  p.skipSP();
  return dict;
}

/** Serialises an RFC 8941 string; throws `TypeError` for characters outside printable ASCII. */
export function serializeString(s: string): string {
  if (!/^[\x20-\x7e]*$/.test(s)) throw new TypeError('structured field strings must be printable ASCII');
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
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
    if (!/^[a-z*][a-z0-9_\-.*]*$/.test(k)) throw new TypeError(`invalid parameter key: ${k}`);
    out += v === true ? `;${k}` : `;${k}=${serializeBareItem(v)}`;
  }
  return out;
}

/** Serialises an RFC 8941 inner list with its parameters. */
export function serializeInnerList(list: SfInnerList): string {
  const items = list.items.map((it) => serializeBareItem(it.value) + serializeParams(it.params));
  return `(${items.join(' ')})${serializeParams(list.params)}`;
}
