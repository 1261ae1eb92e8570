/**
 * RFC 9421 request signing with this project's default profile.
 *
 * @module
 */
import { toBase64, utf8 } from './bytes.js';
import { type ContentDigestAlgorithm, createContentDigest, type DigestFunction } from './content-digest.js';
import { type SignatureAlgorithm, type SigningKey, signBytes } from './keys.js';
import { type HttpRequestLike, headersToRecord } from './message.js';
import { createSignatureBase } from './signature-base.js';

/** The default signature label used in `Signature-Input` / `Signature`. */
export const DEFAULT_SIGNATURE_LABEL = 'sig1';

/** Components covered by default for every request (the body digest is added when there is a body). */
export const DEFAULT_COVERED_COMPONENTS: readonly string[] = Object.freeze(['@method', '@path', '@query']);

/**
 * The default covered components for a request: `("@method" "@path" "@query")`, plus
 * `"content-digest"` exactly when the request has a non-empty body.
 *
 * @param body - the exact body bytes, if any.
 */
export function defaultCoveredComponents(body: Uint8Array | undefined): string[] {
  return body !== undefined && body.length > 0
    ? [...DEFAULT_COVERED_COMPONENTS, 'content-digest']
    : [...DEFAULT_COVERED_COMPONENTS];
}

/** Options of {@link signRequest}. */
export interface SignRequestOptions {
  /** Key identifier, sent as the `keyid` parameter. */
  readonly keyId: string;
  /** The private key (see `importSigningKey`). */
  readonly key: SigningKey;
  /** Algorithm; must equal `key.alg` when given. */
  readonly alg?: SignatureAlgorithm;
  /** `created` parameter: Unix time in **seconds** (integer). There is no hidden clock. */
  readonly created: number;
  /** `nonce` parameter: a fresh unique value per signature. Required by this project's verifier profile. */
  readonly nonce?: string;
  /** `expires` parameter: Unix time in seconds (integer); omitted by default. */
  readonly expires?: number;
  /** `tag` parameter; omitted by default. */
  readonly tag?: string;
  /** Covered components; defaults to {@link defaultCoveredComponents}. */
  readonly components?: readonly string[];
  /** Signature label; defaults to `'sig1'`. */
  readonly label?: string;
  /** Whether to emit the `alg` parameter; defaults to `true` (the project profile requires it). */
  readonly includeAlg?: boolean;
  /** Digest algorithm for the `Content-Digest` header; defaults to `'sha-256'`. */
  readonly digestAlgorithm?: ContentDigestAlgorithm;
  /** Computes the `Content-Digest` in place of the built-in pure-JS hashes, e.g. with `node:crypto`. */
  readonly digest?: DigestFunction;
  /**
   * Signs the UTF-8 signature base in place of the built-in pure-JS signer (`signBytes`), e.g.
   * with `node:crypto` or WebCrypto for speed, or with secure hardware. It must return the raw
   * 64-byte signature of `key.alg` (ECDSA P-256 over SHA-256 as r ‖ s, or Ed25519).
   */
  readonly signer?: (base: Uint8Array, key: SigningKey) => Uint8Array;
}

/** Headers produced by {@link signRequest}; add them to the outgoing request. */
export interface SignatureHeaders {
  /** `Signature-Input` field value, e.g. `sig1=("@method" "@path" "@query");created=…`. */
  readonly 'signature-input': string;
  /** `Signature` field value, e.g. `sig1=:base64:`. */
  readonly signature: string;
  /** `Content-Digest` field value; present exactly when the request has a non-empty body. */
  readonly 'content-digest'?: string;
}

/**
 * Signs an HTTP request per RFC 9421 and returns the headers to add.
 *
 * With a non-empty body, a `Content-Digest` (RFC 9530) is computed over the exact bytes; it
 * replaces any `Content-Digest` in `request.headers` and, with the default components, is covered
 * by the signature.
 *
 * The URL is signed as the HTTP client sends it: for an absolute URL, the path and query of the
 * WHATWG-parsed URL, which is what undici and fetch put on the request line (so
 * `https://api.example/x?a=it's` is signed with `"@query": ?a=it%27s`). Pass the same URL string
 * to the client. An origin-form `url` (with a `Host` header) is signed verbatim.
 *
 * @param request - method, URL (absolute, or origin-form with a `Host` header), headers and body bytes.
 * @param options - key, parameters and covered components.
 * @returns the `signature-input`, `signature` and (with a body) `content-digest` header values.
 * @throws TypeError for an invalid label, a key/alg mismatch, or a covered component absent from the request.
 *
 * @example
 * ```ts
 * const headers = signRequest(
 *   { method: 'POST', url: 'https://api.example/v1/payments', headers: {}, body },
 *   { keyId: 'pos-1', key: importSigningKey(jwk), created: Math.floor(Date.now() / 1000), nonce },
 * );
 * ```
 */
export function signRequest(request: HttpRequestLike, options: SignRequestOptions): SignatureHeaders {
  const { key, keyId } = options;
  if (typeof keyId !== 'string' || keyId === '') throw new TypeError('keyId must be a non-empty string');
  if (options.alg !== undefined && options.alg !== key.alg) {
    throw new TypeError(`alg ${options.alg} does not match the key's algorithm ${key.alg}`);
  }
  const label = options.label ?? DEFAULT_SIGNATURE_LABEL;
  if (!/^[a-z*][a-z0-9_\-.*]*$/.test(label)) throw new TypeError('label must be an RFC 8941 key');
  if (request.body !== undefined && !(request.body instanceof Uint8Array)) {
    throw new TypeError('body must be a Uint8Array');
  }
  const headers = headersToRecord(request.headers);
  let contentDigest: string | undefined;
  if (request.body !== undefined && request.body.length > 0) {
    contentDigest = createContentDigest(request.body, options.digestAlgorithm, options.digest);
    headers['content-digest'] = contentDigest;
  }
  const components = options.components ?? defaultCoveredComponents(request.body);
  const { base, signatureInput } = createSignatureBase({ ...request, headers }, components, {
    created: options.created,
    keyid: keyId,
    ...(options.includeAlg === false ? {} : { alg: key.alg }),
    ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
    ...(options.expires === undefined ? {} : { expires: options.expires }),
    ...(options.tag === undefined ? {} : { tag: options.tag }),
  });
  const baseBytes = utf8(base);
  const signature = options.signer === undefined ? signBytes(key, baseBytes) : options.signer(baseBytes, key);
  if (!(signature instanceof Uint8Array) || signature.length !== 64) {
    throw new TypeError('the signer must return a 64-byte signature');
  }
  return {
    'signature-input': `${label}=${signatureInput}`,
    signature: `${label}=:${toBase64(signature)}:`,
    ...(contentDigest === undefined ? {} : { 'content-digest': contentDigest }),
  };
}
