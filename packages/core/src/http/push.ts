/**
 * Signing and verification of platform pushes (webhooks): POST requests from the platform to
 * a vendor endpoint, signed with RFC 9421 request signatures that also cover a `Push-Id` header.
 *
 * @module
 */
import type { SigningKey } from './keys.js';
import type { HeaderInput, HttpRequestLike } from './message.js';
import { getHeader, headersToRecord } from './message.js';
import { type SignatureHeaders, signRequest } from './sign-request.js';
import {
  type VerifyRequestOptions,
  type VerifyResult,
  type VerifySuccess,
  verifyRequest,
} from './verify-request.js';

/** Header carrying the push (event) id; stable across redeliveries of the same push. */
export const PUSH_ID_HEADER = 'push-id';

/** Components covered by push signatures. */
export const PUSH_COVERED_COMPONENTS: readonly string[] = Object.freeze([
  '@method',
  '@path',
  '@query',
  'content-digest',
  PUSH_ID_HEADER,
]);

/** Options of {@link signPush}. */
export interface SignPushOptions {
  /** The vendor endpoint URL (absolute). */
  readonly url: string;
  /** Exact JSON body bytes; must not be empty. */
  readonly body: Uint8Array;
  /** Push id, e.g. a UUID; sent as `Push-Id` and covered. Reuse it on redelivery. */
  readonly pushId: string;
  /** Platform key id (`keyid`). */
  readonly keyId: string;
  /** Platform private key. */
  readonly key: SigningKey;
  /** `created`: Unix time in **seconds**. */
  readonly created: number;
  /** Fresh nonce per delivery attempt. */
  readonly nonce: string;
  /** Other headers to send (e.g. `content-type`); not covered. */
  readonly headers?: HeaderInput;
  /** Signature label; default `'sig1'`. */
  readonly label?: string;
}

/** Headers produced by {@link signPush}. */
export interface PushHeaders extends SignatureHeaders {
  /** The `Push-Id` value. */
  readonly 'push-id': string;
  /** The `Content-Digest` value (always present: pushes have a body). */
  readonly 'content-digest': string;
}

/**
 * Signs a push (a `POST` from the platform to a vendor) and returns the headers to send.
 *
 * @param options - endpoint, body, push id, key and parameters.
 * @returns `push-id`, `content-digest`, `signature-input` and `signature` header values.
 * @throws TypeError for an empty body, an empty push id or invalid signing options.
 *
 * @example
 * ```ts
 * const headers = signPush({ url, body, pushId: crypto.randomUUID(), keyId: 'platform-1', key, created, nonce });
 * ```
 */
export function signPush(options: SignPushOptions): PushHeaders {
  if (!(options.body instanceof Uint8Array) || options.body.length === 0) {
    throw new TypeError('push body must be a non-empty Uint8Array');
  }
  if (typeof options.pushId !== 'string' || options.pushId === '' || /[\r\n]/.test(options.pushId)) {
    throw new TypeError('pushId must be a non-empty single-line string');
  }
  const headers = options.headers === undefined ? {} : headersToRecord(options.headers);
  headers[PUSH_ID_HEADER] = options.pushId;
  const signed = signRequest(
    { method: 'POST', url: options.url, headers, body: options.body },
    {
      keyId: options.keyId,
      key: options.key,
      created: options.created,
      nonce: options.nonce,
      components: PUSH_COVERED_COMPONENTS,
      ...(options.label === undefined ? {} : { label: options.label }),
    },
  );
  return { ...signed, 'push-id': options.pushId, 'content-digest': signed['content-digest'] ?? '' };
}

/** Options of {@link verifyPush}: those of `verifyRequest` minus `requiredComponents`. */
export type VerifyPushOptions = Omit<VerifyRequestOptions, 'requiredComponents'>;

/** A verified push. */
export interface VerifyPushSuccess extends VerifySuccess {
  /** The verified `Push-Id`. */
  readonly pushId: string;
}

/** Result of {@link verifyPush}. */
export type VerifyPushResult = VerifyPushSuccess | Exclude<VerifyResult, VerifySuccess>;

/**
 * Verifies a received push: an RFC 9421 signature covering `@method`, `@path`, `@query`,
 * `content-digest` and `push-id`, a matching body digest, `created` within ±tolerance
 * (default 300 s) and, with a `nonceStore`, a fresh nonce.
 *
 * @param request - method, URL (absolute or origin-form + `Host`), headers and the **raw** body bytes.
 * @param options - the platform key lookup, clock and policy.
 * @returns the verification result, with `pushId` on success.
 *
 * @example
 * ```ts
 * const r = await verifyPush({ method, url, headers, body: rawBody }, { keyLookup: () => platformKey, now: Date.now() });
 * ```
 */
export async function verifyPush(
  request: HttpRequestLike & { readonly body: Uint8Array },
  options: VerifyPushOptions,
): Promise<VerifyPushResult> {
  const result = await verifyRequest(request, { ...options, requiredComponents: PUSH_COVERED_COMPONENTS });
  if (!result.ok) return result;
  const pushId = getHeader(request.headers, PUSH_ID_HEADER) ?? '';
  return { ...result, pushId };
}
