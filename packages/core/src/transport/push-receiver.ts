/**
 * Verification of platform pushes (webhooks) received by a vendor server: from a Node
 * `IncomingMessage`, from a framework's raw body (fastify, express) or from a fetch `Request`.
 * All three call `verifyPush` of `@campus-card/core/http`.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { importVerifyKey, type Jwk, type VerifyKey } from '../http/keys.js';
import type { HeaderInput } from '../http/message.js';
import { type VerifyPushResult, verifyPush } from '../http/push.js';
import { DEFAULT_SIGNATURE_TOLERANCE_S, type KeyLookup, type NonceStore } from '../http/verify-request.js';
import { concatBytes } from '../lib/bytes.js';

/** Options of the push verification helpers. Give `platformKeys` or `keyLookup`. */
export interface PushReceiverOptions {
  /**
   * The platform's public keys (JWK or imported): by key id, or a list of keys that each carry
   * their `kid`, such as the `webhook_signing` list of `GET /v1/platform/keys` as it comes. A push
   * is verified with the key whose id is its `keyid`. A list with a key without a `kid`, or with
   * two keys of one `kid`, is a `TypeError`.
   */
  readonly platformKeys?: Readonly<Record<string, Jwk | VerifyKey>> | readonly (Jwk | VerifyKey)[];
  /** Custom key lookup; takes precedence over `platformKeys`. */
  readonly keyLookup?: KeyLookup;
  /** Clock in epoch ms; default `Date.now`. */
  readonly now?: () => number;
  /** Allowed skew of the signature's `created`, in **seconds**; default 300. */
  readonly tolerance?: number;
  /** Replay check for the signature nonce (see `NonceStore`); recommended. */
  readonly nonceStore?: NonceStore;
  /**
   * Scheme of an origin-form target (Node, raw body); default `'https'`. It decides which port of
   * the `Host` is the default one, left out of the `@authority` a push signature covers, and,
   * for every request (a fetch `Request` too, whose URL's scheme behind a TLS-terminating proxy is
   * `http`), which port of {@link PushReceiverOptions.authority} is: with the default,
   * `authority: 'b.example:443'` is `b.example`, and `'b.example:80'` stays `b.example:80` (give
   * `scheme: 'http'` for a receiver subscribed at `http://b.example/`, or leave the port out).
   */
  readonly scheme?: string;
  /**
   * The authority (`host` or `host:port`) of the URL this receiver is subscribed at: a push must
   * have been signed for it. Default: the request's `Host` (for a fetch `Request`, its URL's). Set
   * it behind a proxy that rewrites `Host`, and to refuse a push another receiver got and replays
   * here under that receiver's `Host` (see `verifyPush`).
   */
  readonly authority?: string;
  /**
   * Largest body accepted, in bytes; default {@link DEFAULT_MAX_PUSH_BYTES} (256 KiB, the platform's
   * own body limit; a push is a small JSON event). A larger one is answered `ERR_PUSH_TOO_LARGE`
   * without being hashed, and {@link verifyPushFromWebRequest} stops reading it there.
   */
  readonly maxBodyBytes?: number;
}

/** Default {@link PushReceiverOptions.maxBodyBytes}: 256 KiB. */
export const DEFAULT_MAX_PUSH_BYTES = 256 * 1024;

/** A push refused for its size, before its signature was looked at. Answer it 413. */
export interface PushTooLarge {
  readonly ok: false;
  /** Stable failure code. */
  readonly code: 'ERR_PUSH_TOO_LARGE';
  /** Human-readable detail; not stable. */
  readonly message: string;
  /** The limit it went over, in bytes. */
  readonly maxBodyBytes: number;
}

/** Result of the push receiver helpers: {@link VerifyPushResult}, or {@link PushTooLarge}. */
export type ReceivedPushResult = VerifyPushResult | PushTooLarge;

function maxBytesOf(options: PushReceiverOptions): number {
  const max = options.maxBodyBytes ?? DEFAULT_MAX_PUSH_BYTES;
  if (!Number.isSafeInteger(max) || max < 0)
    throw new TypeError('maxBodyBytes must be a whole number of bytes ≥ 0');
  return max;
}

function tooLarge(maxBodyBytes: number): PushTooLarge {
  return {
    ok: false,
    code: 'ERR_PUSH_TOO_LARGE',
    message: `the push body is over ${maxBodyBytes} bytes`,
    maxBodyBytes,
  };
}

/** A raw received push, as a framework with raw-body access provides it. */
export interface RawPush {
  /** Request method (`POST`). */
  readonly method: string;
  /** Request target as received (`/hooks/campus?x=1`) or absolute URL. */
  readonly url: string;
  /** Request headers. */
  readonly headers: HeaderInput;
  /** The exact body bytes (a Node `Buffer` is fine). Never a re-serialised JSON object. */
  readonly rawBody: Uint8Array;
}

function lookupFrom(options: PushReceiverOptions): KeyLookup {
  if (options.keyLookup !== undefined) return options.keyLookup;
  const keys = new Map<string, VerifyKey>();
  const given = options.platformKeys ?? {};
  // a list (as `GET /v1/platform/keys` gives it) is keyed by each key's own kid, never by index
  const entries: [string, Jwk | VerifyKey][] = Array.isArray(given)
    ? given.map((k: Jwk | VerifyKey) => {
        if (typeof k?.kid !== 'string' || k.kid === '')
          throw new TypeError('platformKeys: a key of the list has no kid (or give them keyed by kid)');
        return [k.kid, k];
      })
    : Object.entries(given);
  for (const [kid, k] of entries) {
    if (Array.isArray(given) && keys.has(kid)) throw new TypeError(`platformKeys: two keys of kid ${kid}`);
    keys.set(kid, 'publicKey' in k ? k : importVerifyKey(k));
  }
  if (keys.size === 0) throw new TypeError('give platformKeys or keyLookup');
  return (kid) => keys.get(kid);
}

/**
 * Verifies a push given its raw parts (fastify `rawBody`, express `express.raw()`). Misuse (a
 * body that is not bytes, no keys) rejects the returned promise with a `TypeError`.
 *
 * @param push - method, URL, headers and exact body bytes.
 * @param options - platform keys, clock (ms), tolerance (s, default 300), nonce store, authority.
 *
 * @example
 * ```ts
 * const r = await verifyPushFromRawBody({ method: req.method, url: req.url, headers: req.headers, rawBody: req.body }, { platformKeys });
 * if (!r.ok) return res.status(401).json({ code: r.code });
 * ```
 */
export async function verifyPushFromRawBody(
  push: RawPush,
  options: PushReceiverOptions,
): Promise<ReceivedPushResult> {
  if (!(push.rawBody instanceof Uint8Array)) throw new TypeError('rawBody must be a Uint8Array or Buffer');
  const max = maxBytesOf(options);
  if (push.rawBody.length > max) return tooLarge(max);
  return verifyPush(
    {
      method: push.method,
      url: push.url,
      headers: push.headers,
      body: push.rawBody,
      scheme: options.scheme ?? 'https',
    },
    {
      keyLookup: lookupFrom(options),
      now: (options.now ?? Date.now)(),
      tolerance: options.tolerance ?? DEFAULT_SIGNATURE_TOLERANCE_S,
      ...(options.nonceStore === undefined ? {} : { nonceStore: options.nonceStore }),
      ...(options.authority === undefined ? {} : { authority: options.authority }),
    },
  );
}

/**
 * Verifies a push received by a Node `http` server. The caller reads the body first.
 *
 * @param req - the incoming request (method, url, headers are used).
 * @param rawBody - the exact body bytes read from `req`.
 * @param options - see {@link PushReceiverOptions}.
 */
export function verifyPushFromNodeRequest(
  req: IncomingMessage,
  rawBody: Uint8Array,
  options: PushReceiverOptions,
): Promise<ReceivedPushResult> {
  return verifyPushFromRawBody(
    { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawBody },
    options,
  );
}

/**
 * Verifies a push received as a fetch `Request` (Hono, Next.js, workers). Reads the body of a
 * clone, so the request stays readable, and at most `maxBodyBytes` of it: a larger body (by its
 * `Content-Length`, or as it arrives) is `ERR_PUSH_TOO_LARGE`, read no further.
 *
 * @param request - the fetch request.
 * @param options - see {@link PushReceiverOptions}.
 */
export async function verifyPushFromWebRequest(
  request: Request,
  options: PushReceiverOptions,
): Promise<ReceivedPushResult> {
  const max = maxBytesOf(options);
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (declared > max) return tooLarge(max);
  const rawBody = await readAtMost(request.clone().body, max);
  if (rawBody === undefined) return tooLarge(max);
  return verifyPushFromRawBody(
    { method: request.method, url: request.url, headers: request.headers, rawBody },
    options,
  );
}

/** The whole of `body`, or `undefined` (and the stream cancelled) once it is over `max` bytes. */
async function readAtMost(
  body: ReadableStream<Uint8Array> | null,
  max: number,
): Promise<Uint8Array | undefined> {
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.length;
    if (length > max) {
      // not awaited: a branch of a tee (Request.clone()) settles its cancel only once the other
      // branch is cancelled too, which is the caller's to do
      reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return concatBytes(...chunks);
}
