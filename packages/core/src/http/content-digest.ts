/**
 * RFC 9530 `Content-Digest` for `sha-256` and `sha-512`.
 *
 * @module
 */
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { equalBytes, toBase64 } from './bytes.js';
import { isInnerList, parseDictionary } from './structured-fields.js';

/** Digest algorithms supported in `Content-Digest` (RFC 9530 §5, "standard" status). */
export type ContentDigestAlgorithm = 'sha-256' | 'sha-512';

/**
 * Computes the raw digest of `body` with `alg`, in place of the built-in pure-JS hashes
 * (`@noble/hashes`), e.g. with `node:crypto`'s `createHash` for speed. It must return the digest
 * itself (32 bytes for `sha-256`, 64 for `sha-512`).
 */
export type DigestFunction = (alg: ContentDigestAlgorithm, body: Uint8Array) => Uint8Array;

const HASHES: Record<ContentDigestAlgorithm, (b: Uint8Array) => Uint8Array> = {
  'sha-256': (b) => sha256(b),
  'sha-512': (b) => sha512(b),
};

/** The digest of `body`, by `digest` when given (checked for its length), else by `hash`. */
function digestWith(
  digest: DigestFunction | undefined,
  alg: ContentDigestAlgorithm,
  hash: (b: Uint8Array) => Uint8Array,
  body: Uint8Array,
): Uint8Array {
  if (digest === undefined) return hash(body);
  const d = digest(alg, body);
  if (!(d instanceof Uint8Array) || d.length !== (alg === 'sha-256' ? 32 : 64)) {
    throw new TypeError(`the digest function must return the ${alg} digest bytes`);
  }
  return d;
}

function assertBytes(body: unknown): asserts body is Uint8Array {
  if (!(body instanceof Uint8Array)) throw new TypeError('body must be a Uint8Array');
}

/**
 * Computes an RFC 9530 `Content-Digest` header value over the exact body bytes.
 *
 * @param body - the message content as sent on the wire (after any content coding).
 * @param alg - digest algorithm; defaults to `'sha-256'`.
 * @returns the header value, e.g. `sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:`.
 * @throws TypeError when `body` is not a `Uint8Array` or `alg` is unsupported.
 *
 * @example
 * ```ts
 * createContentDigest(new TextEncoder().encode('{"hello": "world"}'));
 * // 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:'
 * ```
 */
export function createContentDigest(
  body: Uint8Array,
  alg: ContentDigestAlgorithm = 'sha-256',
  digest?: DigestFunction,
): string {
  assertBytes(body);
  const hash = Object.hasOwn(HASHES, alg) ? HASHES[alg] : undefined;
  if (hash === undefined) throw new TypeError(`unsupported content digest algorithm: ${String(alg)}`);
  return `${alg}=:${toBase64(digestWith(digest, alg, hash, body))}:`;
}

/** Options of {@link verifyContentDigest}. */
export interface VerifyContentDigestOptions {
  /** Algorithms accepted; defaults to `['sha-256', 'sha-512']`. At least one must be present. */
  readonly algorithms?: readonly ContentDigestAlgorithm[];
  /** Computes the digests in place of the built-in pure-JS hashes (see {@link DigestFunction}). */
  readonly digest?: DigestFunction;
}

/**
 * What {@link checkContentDigest} found, so that a bad header and a bad body can be told apart:
 *
 * - `'valid'`: every accepted algorithm present matches the body, and at least one is present.
 * - `'mismatch'`: the header is well-formed, but an accepted algorithm's digest is not the body's.
 * - `'unsupported'`: the header is well-formed but names none of the accepted algorithms.
 * - `'malformed'`: the value is not an RFC 8941 dictionary whose members are all byte sequences
 *   (this includes an empty value).
 * - `'missing'`: there is no header (`undefined`).
 */
export type ContentDigestStatus = 'valid' | 'mismatch' | 'unsupported' | 'malformed' | 'missing';

/**
 * Checks an RFC 9530 `Content-Digest` header value against the body, telling a header that does
 * not parse (or names no accepted algorithm) apart from a digest that does not match.
 *
 * The value must parse as an RFC 8941 dictionary whose members are byte sequences (`=` padding
 * optional, RFC 8941 §4.2.7). Members with unknown algorithm names are ignored, but at least one
 * accepted algorithm must be present and every accepted algorithm present must match. A header
 * that is malformed is reported so even when another member would not match.
 *
 * @param header - the `Content-Digest` field value (multiple field lines joined with `", "`).
 * @param body - the message content bytes.
 * @returns `'valid'` only when the digest is well-formed and matches; see {@link ContentDigestStatus}.
 * @throws TypeError when `body` is not a `Uint8Array`, or `options.digest` returns no digest of the right length.
 *
 * @example
 * ```ts
 * const status = checkContentDigest(req.headers['content-digest'], rawBody);
 * if (status !== 'valid') reply.code(status === 'mismatch' ? 401 : 400);
 * ```
 */
export function checkContentDigest(
  header: string | undefined,
  body: Uint8Array,
  options: VerifyContentDigestOptions = {},
): ContentDigestStatus {
  assertBytes(body);
  if (typeof header !== 'string') return 'missing';
  const dict = parseDictionary(header);
  if (dict === undefined || dict.size === 0) return 'malformed';
  const accepted = options.algorithms ?? ['sha-256', 'sha-512'];
  const expected: Array<readonly [ContentDigestAlgorithm, Uint8Array]> = [];
  for (const [alg, member] of dict) {
    if (isInnerList(member) || !(member.value instanceof Uint8Array)) return 'malformed';
    if (accepted.includes(alg as ContentDigestAlgorithm) && Object.hasOwn(HASHES, alg)) {
      expected.push([alg as ContentDigestAlgorithm, member.value]);
    }
  }
  if (expected.length === 0) return 'unsupported';
  for (const [alg, value] of expected) {
    if (!equalBytes(digestWith(options.digest, alg, HASHES[alg], body), value)) return 'mismatch';
  }
  return 'valid';
}

/**
 * Verifies an RFC 9530 `Content-Digest` header value against the body, failing closed.
 *
 * The value must parse as an RFC 8941 dictionary whose members are byte sequences (`=` padding
 * optional, RFC 8941 §4.2.7). Members with unknown algorithm names are ignored, but at least one
 * accepted algorithm must be present and every accepted algorithm present must match. Use
 * {@link checkContentDigest} to tell a malformed header from a digest that does not match.
 *
 * @param header - the `Content-Digest` field value (multiple field lines joined with `", "`).
 * @param body - the message content bytes.
 * @returns `true` only when the digest is well-formed and matches.
 * @throws TypeError when `body` is not a `Uint8Array`, or `options.digest` returns no digest of the right length.
 *
 * @example
 * ```ts
 * verifyContentDigest(req.headers['content-digest'], rawBody); // boolean
 * ```
 */
export function verifyContentDigest(
  header: string | undefined,
  body: Uint8Array,
  options: VerifyContentDigestOptions = {},
): boolean {
  return checkContentDigest(header, body, options) === 'valid';
}
