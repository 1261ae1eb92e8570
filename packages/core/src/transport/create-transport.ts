/**
 * The resource-agnostic HTTP client core shared by `pos-client` and `gate-client`: signing,
 * idempotency keys, retries with backoff, timeouts, abort and typed errors, on undici.
 *
 * @module
 */
import type { TSchema } from '@sinclair/typebox';
import { Agent, type Dispatcher, request as undiciRequest } from 'undici';
import { compileValidator, type ValidationResult } from '../api/validate.js';
import { toBase64Url } from '../http/bytes.js';
import { importSigningKey, type Jwk, type SignatureAlgorithm } from '../http/keys.js';
import { headersToRecord } from '../http/message.js';
import { isProblem } from '../http/problem.js';
import { signRequest } from '../http/sign-request.js';
import { computeBackoff, parseRetryAfter } from './backoff.js';
import {
  type CampusCardApiError,
  ConnectionError,
  CampusCardApiError as ErrorBase,
  errorFromResponse,
  requestIdFrom,
  TimeoutError,
} from './errors.js';
import { sleep as defaultSleep, type SleepFn } from './sleep.js';

/** HTTP methods the transport sends. */
export type HttpMethod = 'GET' | 'HEAD' | 'OPTIONS' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A query parameter value; `undefined` entries are skipped, arrays repeat the key. */
export type QueryValue = string | number | boolean | undefined | readonly (string | number | boolean)[];

/** Options of {@link createTransport}. */
export interface TransportOptions {
  /** Platform base URL, e.g. `https://api.campus.example` (a path prefix is kept). */
  readonly baseUrl: string;
  /** Device key id, sent as the signature's `keyid`. */
  readonly keyId: string;
  /** Device private key as a JWK (EC P-256 or OKP Ed25519). */
  readonly privateKey: Jwk;
  /** Signature algorithm; must match the key when given. */
  readonly alg?: SignatureAlgorithm;
  /** undici dispatcher (e.g. a `MockAgent` in tests). Default: an own `Agent`; the global dispatcher is never touched. */
  readonly dispatcher?: Dispatcher;
  /** TCP/TLS connect timeout of the own `Agent`, in ms; default 5000. Ignored with a custom `dispatcher`. */
  readonly connectTimeoutMs?: number;
  /** Timeout per attempt (headers and body), in ms; default 10000. */
  readonly requestTimeoutMs?: number;
  /** Maximum retries after the first attempt; default 4. */
  readonly maxRetries?: number;
  /** Backoff base delay, in ms; default 200. */
  readonly retryBaseMs?: number;
  /** Backoff cap, in ms; default 5000. */
  readonly retryMaxMs?: number;
  /** Jitter kind; default `'equal'` (delay in [d/2, d]). */
  readonly jitter?: 'equal' | 'full';
  /**
   * Longest `Retry-After` honoured, in ms; a longer one ends retrying with the error. Default
   * 60000. A shorter `Retry-After` than the backoff delay (`0`, a past date) waits the backoff.
   */
  readonly maxRetryAfterMs?: number;
  /** Clock in epoch ms; default `Date.now`. Drives the signature's `created` and `Retry-After` dates. */
  readonly now?: () => number;
  /** Random source in [0, 1) for jitter; default `Math.random`. */
  readonly random?: () => number;
  /** Sleep between retries (inject a fake in tests); default: an abortable `setTimeout`. */
  readonly sleep?: SleepFn;
  /** Extra headers sent with every request (e.g. `user-agent`), any name case; never an `Idempotency-Key`. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Largest response body read, in bytes; default 4 MiB (4 194 304). A
   * larger `content-length` is refused before reading, and a body that grows past it while
   * streaming is cut off: both reject with `ERR_RESPONSE_TOO_LARGE` (not retried). Applies to
   * error bodies too. Override per request with {@link TransportRequest.maxResponseBytes}.
   */
  readonly maxResponseBytes?: number;
}

/** Default {@link TransportOptions.maxResponseBytes}: 4 MiB (4 194 304 bytes). */
const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** Options of {@link Transport.request}. */
export interface TransportRequest {
  /** HTTP method. */
  readonly method: HttpMethod;
  /** Path below `baseUrl`, starting with `/`; escape segments with `encodeURIComponent`. */
  readonly path: string;
  /** Query parameters. */
  readonly query?: Readonly<Record<string, QueryValue>>;
  /** JSON body; serialised with `JSON.stringify`. */
  readonly body?: unknown;
  /**
   * Idempotency key. Default: an `Idempotency-Key` in {@link TransportRequest.headers}, else a
   * random UUID for POST/PUT/PATCH/DELETE, reused across retries. `null` opts out: no key is sent,
   * and a request other than GET/HEAD/OPTIONS is then never retried (not after a lost response, a
   * 429 or a 5xx). A key must be 1 to 255 visible ASCII characters (the platform's limit), else
   * the request rejects with a `TypeError` before anything is sent.
   */
  readonly idempotencyKey?: string | null;
  /** Abort signal; aborting rejects with `signal.reason`, also during a backoff sleep. */
  readonly signal?: AbortSignal;
  /** Per-request override of {@link TransportOptions.maxRetries}. */
  readonly maxRetries?: number;
  /** Extra headers for this request; they replace those of {@link TransportOptions.headers} (any name case). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * How a 2xx/3xx body is returned:
   *
   * - `'json'` (default): a 204 or 304 (or any answer to HEAD) gives `undefined`; any other
   *   success must be a 2xx with a JSON content type (`application/json`, `…+json`) and a
   *   non-empty body that parses, else the request rejects with `ERR_RESPONSE_INVALID` (wrong
   *   content type, empty body, a 3xx redirect, a `schema` mismatch) or
   *   `ERR_RESPONSE_INVALID_JSON` (unparsable), carrying the status. A captive portal's HTML page
   *   or a truncated body therefore never reaches the caller as a result.
   * - `'bytes'`: the raw `Uint8Array` (e.g. `application/cbor` trust material) of a 2xx, or the
   *   empty body of a 304; a 3xx redirect or a 2xx `application/problem+json` rejects with
   *   `ERR_RESPONSE_INVALID`. The bytes are not otherwise checked.
   *
   * With either, a 2xx carrying `application/problem+json` is an error report, not a result,
   * and rejects with `ERR_RESPONSE_INVALID`.
   *
   * Error bodies (≥ 400) are always parsed as problem+json when they are JSON.
   */
  readonly responseType?: 'json' | 'bytes';
  /**
   * The contract schema (`@campus-card/core/api`, e.g. `Order`) a `'json'` success body must
   * match; a mismatch rejects with `ERR_RESPONSE_INVALID`. Fields the schema does not name are
   * tolerated (so a platform that adds a field does not break deployed devices); missing or
   * mistyped fields are not. Default: no check beyond valid JSON.
   */
  readonly schema?: TSchema;
  /** Per-request override of {@link TransportOptions.maxResponseBytes}, in bytes. */
  readonly maxResponseBytes?: number;
}

/** A successful (2xx/3xx) response. */
export interface TransportResponse<T> {
  /** HTTP status. */
  readonly status: number;
  /** Response headers with lowercased names. */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * The body: parsed JSON (`undefined` for 204/304), or the raw bytes with `responseType: 'bytes'`.
   */
  readonly body: T;
  /** The server's request id (`Request-Id` or `X-Request-Id`), if any. */
  readonly requestId: string | undefined;
}

/** The transport returned by {@link createTransport}. */
export interface Transport {
  /**
   * Sends a signed request with retries; resolves for a 2xx (and 304) whose body fits
   * `responseType` and `schema`, and rejects with a {@link CampusCardApiError} (subclass)
   * otherwise, or with `signal.reason` on abort. A request that cannot be sent as given (a bad
   * path, idempotency key or header value) rejects with a `TypeError` and is not retried.
   */
  request<T = unknown>(options: TransportRequest): Promise<TransportResponse<T>>;
  /** Closes the own `Agent` (a caller-supplied dispatcher is left open). */
  close(): Promise<void>;
}

const SAFE_METHODS = new Set<string>(['GET', 'HEAD', 'OPTIONS']);
const KEYED_METHODS = new Set<string>(['POST', 'PUT', 'PATCH', 'DELETE']);
/**
 * 4xx answers that say the request was not acted on and may be repeated: 408 (RFC 9110 §15.5.9),
 * 425 Too Early (RFC 8470 §5.2) and 429 (RFC 6585 §4).
 */
const RETRY_STATUSES = new Set([408, 425, 429]);
/** The longest delay `setTimeout` keeps; a longer one fires at once (Node, browsers). */
const MAX_TIMER_MS = 2_147_483_647;
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function assertMs(name: string, v: number, allowZero = true): number {
  if (!Number.isFinite(v) || v < 0 || v > MAX_TIMER_MS || (!allowZero && v === 0)) {
    throw new RangeError(
      `"${name}" must be a ${allowZero ? 'non-negative' : 'positive'} number of ms ≤ ${MAX_TIMER_MS}`,
    );
  }
  return v;
}

/** `.` and `..`, also percent-encoded: segments the URL parser resolves away (WHATWG URL §4.2). */
const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

function buildUrl(baseUrl: string, path: string, query: TransportRequest['query']): string {
  if (typeof path !== 'string' || !path.startsWith('/')) throw new TypeError('path must start with "/"');
  // An id of "." or ".." (encodeURIComponent leaves dots) would send the request, signed, to
  // another endpoint: "/v1/payments/.." is "/v1/".
  for (const segment of path.split('?', 1)[0]?.split('/') ?? []) {
    if (DOT_SEGMENT.test(segment)) {
      throw new TypeError(
        `path ${JSON.stringify(path)} has a dot segment ("." or ".."), which URL resolution would remove`,
      );
    }
  }
  const url = new URL(baseUrl.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item));
  }
  return url.href;
}

function assertBytes(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1)
    throw new RangeError(`"${name}" must be a positive integer of bytes`);
  return v;
}

/**
 * An `Idempotency-Key` the platform accepts: 1 to 255 visible ASCII characters. An empty or
 * blank key would count as a key here (and the request be retried) while the server sees none.
 */
function assertIdempotencyKey(key: string): void {
  if (typeof key !== 'string' || !/^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$/.test(key)) {
    throw new TypeError('idempotencyKey must be 1 to 255 visible ASCII characters (or null for none)');
  }
}

function randomNonce(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return toBase64Url(bytes);
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

type Attempt =
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly headers: Record<string, string>;
      readonly bytes: Uint8Array;
    }
  | { readonly kind: 'no-response'; readonly error: CampusCardApiError }
  | { readonly kind: 'too-large'; readonly error: CampusCardApiError };

const JSON_TYPE = /[/+]json\b/i;
/** `application/problem+json` (RFC 9457 §3): an error report, never a success body. */
const PROBLEM_TYPE = /^\s*application\/problem\+json\s*(?:;|$)/i;

/**
 * A copy of a schema without `additionalProperties: false`, so that fields a newer platform adds
 * do not fail the check (symbol keys such as TypeBox's `Kind` are kept).
 */
function tolerant(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(tolerant);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<PropertyKey, unknown> = {};
  for (const key of Reflect.ownKeys(schema)) {
    const value = (schema as Record<PropertyKey, unknown>)[key];
    if (key === 'additionalProperties' && value === false) continue;
    out[key] = tolerant(value);
  }
  return out;
}

const validators = new WeakMap<TSchema, (value: unknown) => ValidationResult>();

function validatorOf(schema: TSchema): (value: unknown) => ValidationResult {
  let v = validators.get(schema);
  if (v === undefined) {
    v = compileValidator(tolerant(schema) as TSchema);
    validators.set(schema, v);
  }
  return v;
}

/**
 * Creates a transport for the platform API.
 *
 * Every attempt is signed (RFC 9421, default components `@method @path @query` plus
 * `content-digest` with a body) with a fresh `nonce` and `created`. POST/PUT/PATCH/DELETE carry
 * an `Idempotency-Key`, the same on every retry. Only safe methods (GET/HEAD/OPTIONS) and keyed
 * requests are ever retried, never a POST without a key: after lost responses and timeouts,
 * 409 `ERR_IDEMPOTENCY_IN_PROGRESS`, 408, 425, 429, 5xx, and any other 4xx whose problem body says
 * `retryable: true` (e.g. a 409 `ERR_CONFLICT` when a concurrent change won a race), honouring
 * `Retry-After`; a problem body with `retryable: false` vetoes. Other 4xx are never retried.
 *
 * Responses are checked before they are returned: a body over `maxResponseBytes` (default 4 MiB)
 * rejects with `ERR_RESPONSE_TOO_LARGE`, and with the default `responseType: 'json'` a success
 * that is not a JSON 2xx (or does not fit the request's `schema`) rejects with
 * `ERR_RESPONSE_INVALID` / `ERR_RESPONSE_INVALID_JSON`. These carry the HTTP status, are not
 * retried, and on a keyed POST mean the outcome is unknown (the platform may have acted).
 *
 * @param options - base URL, device key and policy (timeouts in ms).
 *
 * @example
 * ```ts
 * const transport = createTransport({ baseUrl: 'https://api.campus.example', keyId: 'pos-17', privateKey: jwk });
 * const { body } = await transport.request<{ id: string }>({ method: 'POST', path: '/v1/payments', body: { amount: 250 } });
 * await transport.close();
 * ```
 */
export function createTransport(options: TransportOptions): Transport {
  const key = importSigningKey(options.privateKey);
  if (options.alg !== undefined && options.alg !== key.alg) {
    throw new TypeError(`alg ${options.alg} does not match the private key (${key.alg})`);
  }
  if (typeof options.keyId !== 'string' || options.keyId === '')
    throw new TypeError('keyId must be a non-empty string');
  new URL(options.baseUrl); // validates, throws TypeError
  const connectTimeoutMs = assertMs('connectTimeoutMs', options.connectTimeoutMs ?? 5000, false);
  const requestTimeoutMs = assertMs('requestTimeoutMs', options.requestTimeoutMs ?? 10_000, false);
  const defaultMaxRetries = options.maxRetries ?? 4;
  const backoff = {
    baseMs: assertMs('retryBaseMs', options.retryBaseMs ?? 200),
    maxMs: assertMs('retryMaxMs', options.retryMaxMs ?? 5000),
    jitter: options.jitter ?? 'equal',
  } as const;
  const maxRetryAfterMs = assertMs('maxRetryAfterMs', options.maxRetryAfterMs ?? 60_000);
  const defaultMaxResponseBytes = assertBytes(
    'maxResponseBytes',
    options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
  );
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? defaultSleep;
  const ownAgent =
    options.dispatcher === undefined ? new Agent({ connect: { timeout: connectTimeoutMs } }) : undefined;
  const dispatcher: Dispatcher = options.dispatcher ?? (ownAgent as Agent);

  async function attempt(
    method: HttpMethod,
    url: string,
    headers: Record<string, string>,
    body: Uint8Array | undefined,
    signal: AbortSignal | undefined,
    maxBytes: number,
  ): Promise<Attempt> {
    const signed = signRequest(
      { method, url, headers, body },
      { keyId: options.keyId, key, created: Math.floor(now() / 1000), nonce: randomNonce() },
    );
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`request timed out after ${requestTimeoutMs} ms`));
    }, requestTimeoutMs);
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const res = await undiciRequest(url, {
        method,
        headers: { ...headers, ...signed },
        ...(body === undefined ? {} : { body }),
        dispatcher,
        signal: controller.signal,
      });
      const resHeaders = headersToRecord(res.headers);
      const tooLarge = (seen: string): Attempt => {
        res.body.destroy();
        return {
          kind: 'too-large',
          error: new ErrorBase({
            code: 'ERR_RESPONSE_TOO_LARGE',
            message: `response body ${seen}, over the limit of ${maxBytes} bytes`,
            status: res.statusCode,
            requestId: requestIdFrom(resHeaders),
            headers: resHeaders,
          }),
        };
      };
      // the Content-Length of an answer to HEAD or of a 304 is that of the representation, whose
      // body does not follow (RFC 9110 §8.6): the stream below reads what does come, i.e. nothing
      const bodiless = method === 'HEAD' || res.statusCode === 304 || res.statusCode === 204;
      const declared = bodiless ? Number.NaN : Number(resHeaders['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) return tooLarge(`of ${declared} bytes`);
      if (resHeaders['content-length'] !== undefined && Number.isSafeInteger(declared) && declared >= 0) {
        // a declared length within the limit: undici ends the body there (a longer one is a
        // framing error), so it is read in one go, without a promise per chunk
        const bytes = new Uint8Array(await res.body.arrayBuffer());
        return { kind: 'response', status: res.statusCode, headers: resHeaders, bytes };
      }
      const chunks: Uint8Array[] = [];
      let total = 0;
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        total += chunk.length;
        if (total > maxBytes) return tooLarge(`of at least ${total} bytes`);
        chunks.push(chunk);
      }
      const bytes = chunks.length === 1 ? (chunks[0] as Uint8Array) : concat(chunks, total);
      return { kind: 'response', status: res.statusCode, headers: resHeaders, bytes };
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      // undici refused the request itself (a header value with CR/LF, a bad method): a caller's
      // mistake, which no retry mends and which is no connection failure
      if (errorCode(err) === 'UND_ERR_INVALID_ARG') {
        throw new TypeError(`request refused before sending: ${(err as Error).message}`, { cause: err });
      }
      const isTimeout = timedOut || TIMEOUT_CODES.has(errorCode(err) ?? '');
      const init = {
        code: isTimeout ? 'ERR_TIMEOUT' : 'ERR_CONNECTION',
        message: isTimeout
          ? `no response within ${requestTimeoutMs} ms`
          : `connection failed: ${String(err)}`,
        retryable: true,
        cause: err,
      };
      return { kind: 'no-response', error: isTimeout ? new TimeoutError(init) : new ConnectionError(init) };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** An error body: problem+json when it parses, else its text (or `undefined` when empty). */
  function parseErrorBody(headers: Record<string, string>, bytes: Uint8Array): unknown {
    if (bytes.length === 0) return undefined;
    const text = new TextDecoder().decode(bytes);
    if (!JSON_TYPE.test(headers['content-type'] ?? '')) return text;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }

  /**
   * A success answer with `responseType: 'bytes'`: a 2xx, or a 304 (the caller's conditional
   * request), else `ERR_RESPONSE_INVALID`. A redirect's page or a problem+json under a 2xx is
   * not the material asked for.
   */
  function checkBytesAnswer(status: number, headers: Record<string, string>): void {
    let why: string | undefined;
    if (status >= 300 && status !== 304) why = `unexpected HTTP ${status} (a redirect?)`;
    else if (PROBLEM_TYPE.test(headers['content-type'] ?? ''))
      why = `HTTP ${status} with a problem+json body (an error dressed as a success)`;
    if (why === undefined) return;
    throw new ErrorBase({
      code: 'ERR_RESPONSE_INVALID',
      message: why,
      status,
      requestId: requestIdFrom(headers),
      headers,
    });
  }

  /**
   * A success body expected as JSON: `undefined` for 204/304 or HEAD; otherwise a 2xx with a JSON
   * content type and a non-empty body that parses (and matches `schema`), else a typed error.
   */
  function parseJsonBody(
    method: HttpMethod,
    status: number,
    headers: Record<string, string>,
    bytes: Uint8Array,
    schema: TSchema | undefined,
  ): unknown {
    if (status === 204 || status === 304 || method === 'HEAD') return undefined;
    const invalid = (code: string, message: string, cause?: unknown): CampusCardApiError =>
      new ErrorBase({
        code,
        message,
        status,
        requestId: requestIdFrom(headers),
        headers,
        ...(cause === undefined ? {} : { cause }),
      });
    if (status >= 300) throw invalid('ERR_RESPONSE_INVALID', `unexpected HTTP ${status} (a redirect?)`);
    const type = headers['content-type'] ?? '';
    if (!JSON_TYPE.test(type)) {
      throw invalid(
        'ERR_RESPONSE_INVALID',
        `HTTP ${status} with content type "${type}" instead of JSON (a captive portal or proxy?)`,
      );
    }
    if (PROBLEM_TYPE.test(type)) {
      throw invalid(
        'ERR_RESPONSE_INVALID',
        `HTTP ${status} with a problem+json body (an error dressed as a success)`,
      );
    }
    if (bytes.length === 0) throw invalid('ERR_RESPONSE_INVALID', `HTTP ${status} with an empty body`);
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder().decode(bytes));
    } catch (err) {
      throw invalid('ERR_RESPONSE_INVALID_JSON', 'response body is not valid JSON', err);
    }
    if (schema !== undefined) {
      const check = validatorOf(schema)(value);
      if (!check.ok) {
        const first = check.issues[0];
        throw invalid(
          'ERR_RESPONSE_INVALID',
          `HTTP ${status} body does not fit the contract: ${first?.path ?? '/'} ${first?.message ?? ''}`.trimEnd(),
        );
      }
    }
    return value;
  }

  async function request<T>(req: TransportRequest): Promise<TransportResponse<T>> {
    const { method, signal } = req;
    const url = buildUrl(options.baseUrl, req.path, req.query);
    const maxRetries = req.maxRetries ?? defaultMaxRetries;
    if (!Number.isInteger(maxRetries) || maxRetries < 0)
      throw new RangeError('maxRetries must be an integer ≥ 0');
    const maxBytes =
      req.maxResponseBytes === undefined
        ? defaultMaxResponseBytes
        : assertBytes('maxResponseBytes', req.maxResponseBytes);
    // field names are case-insensitive (RFC 9110 §5.1): a caller's `Accept` or `Idempotency-Key`
    // replaces the default instead of going out as a second field line beside it
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
    for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
    delete headers['idempotency-key']; // one key for every request would replay the first answer
    for (const [name, value] of Object.entries(req.headers ?? {})) headers[name.toLowerCase()] = value;
    const idempotencyKey =
      req.idempotencyKey === null
        ? undefined
        : (req.idempotencyKey ??
          headers['idempotency-key'] ??
          (KEYED_METHODS.has(method) ? globalThis.crypto.randomUUID() : undefined));
    delete headers['idempotency-key'];
    if (idempotencyKey !== undefined) assertIdempotencyKey(idempotencyKey);
    let body: Uint8Array | undefined;
    if (req.body !== undefined) {
      body = new TextEncoder().encode(JSON.stringify(req.body));
      headers['content-type'] = 'application/json';
    }
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
    const replaySafe = SAFE_METHODS.has(method) || idempotencyKey !== undefined;

    for (let retry = 0; ; retry++) {
      if (signal?.aborted) throw signal.reason;
      const result = await attempt(method, url, headers, body, signal, maxBytes);
      let error: CampusCardApiError;
      let retryAfterMs: number | undefined;
      let canRetry: boolean;
      if (result.kind === 'too-large') throw result.error;
      if (result.kind === 'no-response') {
        error = result.error;
        canRetry = replaySafe;
      } else {
        if (result.status < 400 && req.responseType === 'bytes') {
          checkBytesAnswer(result.status, result.headers);
          return {
            status: result.status,
            headers: result.headers,
            body: result.bytes as T,
            requestId: requestIdFrom(result.headers),
          };
        }
        if (result.status < 400) {
          return {
            status: result.status,
            headers: result.headers,
            body: parseJsonBody(method, result.status, result.headers, result.bytes, req.schema) as T,
            requestId: requestIdFrom(result.headers),
          };
        }
        const parsed = parseErrorBody(result.headers, result.bytes);
        retryAfterMs = parseRetryAfter(result.headers['retry-after'], now());
        error = errorFromResponse(result.status, result.headers, parsed, retryAfterMs);
        const inProgress =
          result.status === 409 && isProblem(parsed) && parsed.code === 'ERR_IDEMPOTENCY_IN_PROGRESS';
        const vetoed = isProblem(parsed) && !parsed.retryable;
        // the platform said so: it answers `retryable: true` only when it released the key
        const saysRetry = isProblem(parsed) && parsed.retryable === true;
        canRetry =
          !vetoed &&
          replaySafe &&
          (RETRY_STATUSES.has(result.status) || inProgress || result.status >= 500 || saysRetry) &&
          (retryAfterMs === undefined || retryAfterMs <= maxRetryAfterMs);
      }
      if (!canRetry || retry >= maxRetries) throw error;
      // Retry-After is a floor, not a licence to hammer: `0` or a past date waits the backoff
      const delay = Math.max(retryAfterMs ?? 0, computeBackoff(retry + 1, backoff, random));
      await sleep(delay, signal);
    }
  }

  return {
    request,
    async close() {
      await ownAgent?.close();
    },
  };
}
