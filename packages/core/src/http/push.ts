/**
 * Signing and verification of platform pushes (webhooks): POST requests from the platform to
 * a vendor endpoint, signed with RFC 9421 request signatures that also cover the endpoint's
 * authority and a `Push-Id` header.
 *
 * @module
 */
import type { SigningKey } from './keys.js';
import type { HeaderInput, HttpRequestLike } from './message.js';
import { getHeader, headersToRecord } from './message.js';
import { type SignatureHeaders, signRequest } from './sign-request.js';
import { buildSignatureBase } from './signature-base.js';
import {
  type VerifyFailure,
  type VerifyRequestOptions,
  type VerifyResult,
  type VerifySuccess,
  verifyRequest,
} from './verify-request.js';

/** Header carrying the push (event) id; stable across redeliveries of the same push. */
export const PUSH_ID_HEADER = 'push-id';

/**
 * Components covered by push signatures. `@authority` (the subscribed URL's host and port) binds a
 * push to its receiver: without it, a receiver could replay a push it got, within the signature
 * tolerance, to another receiver at the same path, whose nonce store has not seen it.
 */
export const PUSH_COVERED_COMPONENTS: readonly string[] = Object.freeze([
  '@method',
  '@authority',
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

/** Options of {@link verifyPush}: those of `verifyRequest` minus `requiredComponents`, plus `authority`. */
export interface VerifyPushOptions extends Omit<VerifyRequestOptions, 'requiredComponents'> {
  /**
   * The authority (`host` or `host:port`, as in the URL the receiver is subscribed at) the push
   * must have been signed for. Default: the request's own: its `Host` header (over HTTP/2,
   * `:authority`), or, for an absolute-form target (`POST https://a.example/x`), the target's,
   * which then wins over `Host` (RFC 9112 §3.2.2). The request's authority is the sender's to
   * choose: give this option to refuse a push replayed to this receiver with another receiver's
   * authority (a `Host` check in front of the handler, e.g. a virtual host, does not see an
   * absolute-form target's), and where the `Host` a receiver sees is not the subscribed URL's
   * (behind a proxy that rewrites it).
   *
   * It is normalised as the platform normalises the subscribed URL's (the WHATWG URL host:
   * lowercased, IPv6 in canonical form, the port without leading zeros), and its port is dropped
   * when it is the default one of the request's `scheme` (the receiver's configuration, never an
   * absolute-form target's when `scheme` is given), else of an absolute URL's scheme, else of
   * `http`. So with an origin-form `url` and no `scheme`, `'b.example:443'` stays `b.example:443`
   * and refuses the pushes signed for `https://b.example/`: give `scheme: 'https'`, or leave the
   * default port out.
   */
  readonly authority?: string;
}

/** RFC 3986 authority without userinfo (as `Host` carries it). */
const AUTHORITY = /^(?:\[[0-9A-Za-z:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::[0-9]*)?$/;
const ABSOLUTE_HTTP_URL = /^https?:\/\//i;

/**
 * `authority` as the platform's signer reads it from the subscribed URL `scheme://authority/`: the
 * WHATWG URL host (lowercased, percent-decoded, IDN to punycode, IP literals in canonical form,
 * the port without leading zeros and left out when it is the scheme's default). `undefined` when
 * no URL has that authority (no push can have been signed for it).
 */
function normaliseAuthority(authority: string, scheme: string): string | undefined {
  try {
    return new URL(`${scheme === 'https' ? 'https' : 'http'}://${authority}/`).host;
  } catch {
    return undefined;
  }
}

/**
 * The request as the receiver at `authority` sees it: an origin-form target whose `Host` is
 * `authority` (an absolute URL gives its path and query; its own authority is dropped). The
 * scheme that decides the default port is the request's `scheme` (the receiver's configuration),
 * else an absolute URL's, else `http`: never an absolute-form target's when `scheme` is given,
 * so that a sender cannot pick which port of the authority counts as the default one.
 * `undefined` when `authority` is no URL's.
 */
function atAuthority(request: HttpRequestLike & { readonly body: Uint8Array }, authority: string) {
  let url = request.url;
  let scheme = typeof request.scheme === 'string' ? request.scheme.toLowerCase() : undefined;
  if (ABSOLUTE_HTTP_URL.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return request; // not a URL: it fails as it is
    }
    url = parsed.pathname + parsed.search;
    scheme ??= parsed.protocol.slice(0, -1);
  }
  scheme ??= 'http';
  const host = normaliseAuthority(authority, scheme);
  if (host === undefined) return undefined;
  // (names lowercased, so this replaces every `Host` the request had)
  const headers = { ...headersToRecord(request.headers), host };
  return { method: request.method, url, headers, body: request.body, scheme };
}

/** The value of the derived component `name` of `request`, as the signature base reads it. */
function derived(request: HttpRequestLike, name: string): string | undefined {
  const r = buildSignatureBase(request, { items: [{ value: name, params: [] }], params: [] });
  return r.ok ? r.base.slice(`"${name}": `.length, r.base.indexOf('\n')) : undefined;
}

/**
 * `failure` with the `@authority` and `@path` that were checked added to its message (they come
 * from the request, never from a key), so that a receiver whose `Host` a proxy rewrote sees why.
 */
function withChecked(failure: VerifyFailure, request: HttpRequestLike): VerifyFailure {
  const authority = derived(request, '@authority');
  const path = derived(request, '@path');
  if (authority === undefined || path === undefined) return failure;
  return {
    ...failure,
    message: `${failure.message} (checked @authority ${printable(authority)}, @path ${printable(path)})`,
  };
}

/**
 * `text` with control and line-separator characters as `\u` escapes, and cut at 256 characters: a
 * request target a caller built itself goes into a message that may be logged, one line of it.
 */
function printable(text: string): string {
  const cut = text.length > 256 ? `${text.slice(0, 256)}…` : text;
  let out = '';
  for (let i = 0; i < cut.length; i++) {
    const c = cut.charCodeAt(i);
    const control = c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029;
    out += control ? `\\u${c.toString(16).padStart(4, '0')}` : cut[i];
  }
  return out;
}

/** A verified push. */
export interface VerifyPushSuccess extends VerifySuccess {
  /** The verified `Push-Id`. */
  readonly pushId: string;
}

/** Result of {@link verifyPush}. */
export type VerifyPushResult = VerifyPushSuccess | Exclude<VerifyResult, VerifySuccess>;

/**
 * Verifies a received push: an RFC 9421 signature covering `@method`, `@authority`, `@path`,
 * `@query`, `content-digest` and `push-id`, a matching body digest, `created` within ±tolerance
 * (default 300 s) and, with a `nonceStore`, a fresh nonce. The authority is the request's (its
 * `Host`, or an absolute-form target's), or `options.authority`: a push signed for another
 * receiver's URL is `ERR_SIG_INVALID`, and one without a `Host` (and no `authority` option) cannot
 * be verified. Only `options.authority` stops a replay whose sender sets the authority itself.
 * An `ERR_SIG_INVALID` message names the `@authority` and `@path` that were checked, e.g.
 * `signature does not verify (checked @authority 127.0.0.1:8793, @path /hooks/x)`: behind a proxy
 * that rewrites `Host`, the authority shows it (then give `options.authority`).
 *
 * @param request - method, URL (absolute or origin-form + `Host`), headers and the **raw** body bytes.
 * @param options - the platform key lookup, clock and policy.
 * @returns the verification result, with `pushId` on success.
 * @throws TypeError (rejects) when `options.authority` is not a `host` or `host:port` that a URL can have.
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
  const { authority, ...rest } = options;
  if (authority !== undefined && (typeof authority !== 'string' || !AUTHORITY.test(authority))) {
    throw new TypeError('authority must be a host or host:port');
  }
  let seen: HttpRequestLike & { readonly body: Uint8Array } = request;
  if (authority !== undefined) {
    const pinned = atAuthority(request, authority);
    if (pinned === undefined) throw new TypeError('authority must be a host or host:port');
    seen = pinned;
  } else if (!ABSOLUTE_HTTP_URL.test(request.url) && getHeader(request.headers, 'host') === undefined) {
    // HTTP/2 (Node's compatibility API): the authority comes as `:authority`, not `Host`
    const h2 = getHeader(request.headers, ':authority');
    if (h2 !== undefined && AUTHORITY.test(h2)) seen = atAuthority(request, h2) ?? request;
  }
  const result = await verifyRequest(seen, { ...rest, requiredComponents: PUSH_COVERED_COMPONENTS });
  if (!result.ok) return result.code === 'ERR_SIG_INVALID' ? withChecked(result, seen) : result;
  const pushId = getHeader(request.headers, PUSH_ID_HEADER) ?? '';
  return { ...result, pushId };
}
