/**
 * The fastify application: content parsing, validation from the contract, RFC 9421
 * authentication, idempotency, fault injection, recording and problem+json errors.
 *
 * @module
 */
import { isUtf8 } from 'node:buffer';
import { hash as digestOf } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  buildOpenApiDocument,
  compileValidator,
  Problem,
  type RouteDef,
  routes,
  strictObject,
} from '@campus-card/core/api';
import {
  importVerifyKey,
  type VerifyKey,
  type VerifyRequestOptions,
  verifyRequest,
} from '@campus-card/core/http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type {
  Handler,
  HandlerContext,
  HandlerResult,
  Handlers,
  PlatformState,
  Prefetch,
  Principal,
} from './context.js';
import { canonicalJson } from './lib/canonical-json.js';
import { iso } from './lib/clock.js';
import type { Batch } from './lib/group-commit.js';
import { createNodeRequestVerifier, nodeDigest } from './lib/node-verify.js';
import { ApiError, rolledBack, toProblem } from './lib/problem.js';
import { noncesPrunedUntil } from './lib/prune.js';

/**
 * How long a request may take to arrive, headers and body, ms: a client that stops sending gets a
 * 408 problem and its connection closed (node checks every 30 s, so it comes 30 – 60 s after).
 */
export const REQUEST_TIMEOUT_MS = 30_000;

/** The query schema of a route that declares none: no parameter at all. */
const NO_QUERY = strictObject({});

/** Options of {@link buildApp}. */
export interface BuildAppOptions {
  /** Maximum request body, bytes. Default 262 144. */
  readonly bodyLimit?: number;
  /** Server URLs listed in /openapi.json. */
  readonly servers?: readonly string[];
  /**
   * Check every JSON response against the contract: its status must be one the route declares
   * (any 5xx problem excepted), and its body must match the schema declared for it. A response
   * that does not is replaced by a 500 `ERR_INTERNAL` naming the mismatch, and logged. For tests of the platform itself; it costs a validation per
   * response. Default: on when the environment variable `CAMPUS_CARD_CHECK_RESPONSES` is `1`.
   */
  readonly checkResponses?: boolean;
}

interface IdemState {
  readonly principalId: string;
  readonly key: string;
  readonly hash: string;
  readonly createdAt: number;
  done: boolean;
}

interface RequestMeta {
  rawBody: Buffer | undefined;
  principal: Principal | undefined;
  idem: IdemState | undefined;
  def: RouteDef | undefined;
  prefetched: unknown;
  /**
   * The group-commit batch of this request's latest write (its nonce, its state change, its
   * idempotency outcome). Batches commit one after the other, so when a later write finds it
   * failed, the request's earlier writes are rolled back: it must write nothing more, and answers 503.
   */
  batch: Batch | undefined;
  /**
   * Failed batches before this request began. A request in flight when a batch fails may have read
   * that batch's rows (an order that no longer exists, a balance rolled back): it answers 503.
   */
  rollbacksAtStart: number;
  started: number;
  /** Whether this request still counts as in flight (see `inFlight`). */
  counted: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** This app's per-request state (see `meta`); null until the first hook asks for it. */
    campusCardMeta: RequestMeta | null;
  }
}

/** The request's state, made on first use. A request property (declared with `decorateRequest`), not a WeakMap entry. */
function meta(req: FastifyRequest): RequestMeta {
  let m = req.campusCardMeta;
  // (undefined, not null, on the request of a router-level refusal: see `frameworkErrors`)
  if (!m) {
    m = {
      rawBody: undefined,
      principal: undefined,
      idem: undefined,
      def: undefined,
      prefetched: undefined,
      batch: undefined,
      rollbacksAtStart: 0,
      started: performance.now(),
      counted: false,
    };
    req.campusCardMeta = m;
  }
  return m;
}

/**
 * How long closing waits for the requests in flight to be answered before it destroys their
 * connections (a client that never sends the rest of its body), ms.
 */
export const CLOSE_GRACE_MS = 5000;

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as { code?: string; statusCode?: number; message?: string; validation?: unknown };
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'ERR_BODY_TOO_LARGE', 'request body too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'ERR_UNSUPPORTED_MEDIA_TYPE', 'send application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError(400, 'ERR_MALFORMED_JSON', e.message ?? 'bad body');
    default:
      break;
  }
  if (e.validation !== undefined || e.code === 'FST_ERR_VALIDATION') {
    return new ApiError(400, 'ERR_VALIDATION', e.message ?? 'invalid request');
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ApiError(e.statusCode, 'ERR_VALIDATION', e.message ?? 'bad request');
  }
  return new ApiError(500, 'ERR_INTERNAL', 'internal error', { retryable: true });
}

function sendProblem(reply: FastifyReply, request: FastifyRequest, err: ApiError): FastifyReply {
  return reply
    .code(err.status)
    .headers(err.headers)
    .type('application/problem+json')
    .send(toProblem(err, request.id, request.url.split('?')[0]));
}

/**
 * The problem of a request node's HTTP parser refused before any route saw it: bad HTTP syntax, an
 * unknown method, conflicting lengths (400), headers over node's 16 KiB (431), or a request that
 * did not arrive within {@link REQUEST_TIMEOUT_MS} (408).
 */
function clientErrorOf(err: { code?: string | undefined }): ApiError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new ApiError(431, 'ERR_MALFORMED_HTTP', 'the request headers are too large (16 KiB at most)');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ApiError(408, 'ERR_MALFORMED_HTTP', 'the request did not arrive in time', {
        retryable: true,
      });
    default:
      return new ApiError(
        400,
        'ERR_MALFORMED_HTTP',
        `the request is not valid HTTP/1.1 (${err.code ?? 'parse error'})`,
      );
  }
}

/** A backslash escape of a UTF-16 surrogate in JSON text (`\ud800` … `\udfff`), any case. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** Whether `value` holds a string (or a key) with a lone surrogate, which is no Unicode text. */
function hasLoneSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return !(value as string & { isWellFormed(): boolean }).isWellFormed();
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(hasLoneSurrogate);
  for (const [k, v] of Object.entries(value)) if (hasLoneSurrogate(k) || hasLoneSurrogate(v)) return true;
  return false;
}

/**
 * What a request's signature must cover: `@method` and `@path`; `@query` when the target has a
 * query (a signed read's filters, which a party on the way could otherwise change under a valid
 * signature); `content-digest` when it has a body. Indexed by `(query ? 2 : 0) + (body ? 1 : 0)`.
 */
const REQUIRED_COMPONENTS: readonly (readonly string[])[] = [
  ['@method', '@path'],
  ['@method', '@path', 'content-digest'],
  ['@method', '@path', '@query'],
  ['@method', '@path', '@query', 'content-digest'],
];

/**
 * The headers of a 401: RFC 9110 asks for a `WWW-Authenticate` challenge (HTTP Message Signatures
 * register no scheme: `Signature`, as the signing drafts before RFC 9421 named it), and RFC 9421
 * §5.1's `Accept-Signature` names what this request must cover. Same index as {@link REQUIRED_COMPONENTS}.
 */
const CHALLENGES: readonly Record<string, string>[] = REQUIRED_COMPONENTS.map((c) => ({
  'www-authenticate': 'Signature realm="campus-card"',
  'accept-signature': `sig1=(${c.map((x) => `"${x}"`).join(' ')});created;keyid;nonce`,
}));

/** A `keyid` parameter in `Signature-Input` (scanned before the field is parsed). */
const KEYID = /keyid="([^"]*)"/g;

/** The contract route a request matched, if any. */
const routeDefOf = (request: FastifyRequest): RouteDef | undefined =>
  (request.routeOptions?.config as { def?: RouteDef } | undefined)?.def;

/** Whether `batch` failed (read through a call: `join()` may fail it between two reads). */
const lost = (batch: Batch | undefined): boolean => batch?.failed === true;

function headerOf(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Builds the fastify app for a platform state and the domain handlers.
 */
export function buildApp(
  state: PlatformState,
  handlers: Handlers,
  options: BuildAppOptions = {},
): FastifyInstance {
  const { db, clock } = state;
  const prefetchers = new Map<string, Prefetch>();
  for (const [op, h] of Object.entries(handlers)) {
    const f = (h as { prefetch?: Prefetch } | undefined)?.prefetch;
    if (f !== undefined) prefetchers.set(op, f);
  }
  const gc = state.groupCommit;
  /**
   * Joins the group-commit batch for a write of the request (see `RequestMeta.batch`); a retryable
   * 503 when a batch it wrote in earlier has failed since.
   */
  function join(m: RequestMeta): void {
    if (lost(m.batch)) throw rolledBack();
    gc.join();
    // the join itself may have found that batch lost (SQLite rolled it back): nothing more is written
    if (lost(m.batch)) throw rolledBack();
    m.batch = gc.current();
  }
  let reqCounter = 0;
  const nextRequestId = () => `req_${Date.now().toString(36)}_${(++reqCounter).toString(36)}`;

  /**
   * A request node's HTTP parser refused (see {@link clientErrorOf}): no route saw it, so no hook
   * records or answers it. It is answered as problem+json, recorded, and its connection closed:
   * what follows a request that does not parse cannot be trusted to start a request.
   */
  function answerClientError(
    err: Error & { code?: string | undefined; rawPacket?: unknown },
    socket: Duplex,
  ): void {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const problem = toProblem(clientErrorOf(err), nextRequestId());
    const payload = JSON.stringify(problem);
    const raw =
      err.rawPacket instanceof Uint8Array ? Buffer.from(err.rawPacket.subarray(0, 2100)) : undefined;
    const line = /^([A-Z]{1,20}) (\S{1,2048}) HTTP\//.exec(raw?.toString('latin1') ?? '');
    state.recorder.record({
      kind: 'request',
      at: iso(clock.now()),
      request_id: problem.request_id,
      method: line?.[1] ?? null,
      url: line?.[2] ?? null,
      operation_id: null,
      principal_id: null,
      status: problem.status,
      request_body: null,
      response_body: payload,
      response_dropped: false,
      duration_ms: 0,
    });
    if (socket.writable) {
      socket.end(
        `HTTP/1.1 ${problem.status} ${problem.title}\r\ncontent-type: application/problem+json\r\n` +
          `content-length: ${Buffer.byteLength(payload)}\r\nx-request-id: ${problem.request_id}\r\n` +
          `${problem.retryable ? 'retry-after: 1\r\n' : ''}connection: close\r\n\r\n${payload}`,
      );
      // a client that never reads or closes does not keep the socket
      setTimeout(() => socket.destroy(), 1000).unref();
    } else socket.destroy();
  }

  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit ?? 262_144,
    genReqId: nextRequestId,
    requestTimeout: REQUEST_TIMEOUT_MS,
    clientErrorHandler: answerClientError,
    // A request that arrives while closing is answered by the onRequest hook (a recorded 503
    // problem), not by fastify's own JSON.
    return503OnClosing: false,
    // Closing ends idle keep-alive connections only: a request in flight is answered (see the
    // preClose and onClose hooks below), never cut off with its work done and its answer lost.
    forceCloseConnections: 'idle',
    // Router-level refusals (a bad percent-encoding, a path parameter over find-my-way's length
    // limit) skip the error handler and the hooks: answer them as problem+json too, never
    // fastify's own JSON, and record them here (no onSend hook records them).
    frameworkErrors: (error, request, reply) => {
      const detail =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? 'a path parameter is too long'
          : 'the URL is not valid (bad percent-encoding)';
      const err = new ApiError(400, 'ERR_VALIDATION', detail);
      const payload = JSON.stringify(toProblem(err, request.id, request.url.split('?')[0]));
      const r = (reply as FastifyReply).code(400);
      r.header('x-request-id', request.id).type('application/problem+json');
      finish(request as FastifyRequest, r, meta(request as FastifyRequest), payload);
      return r.send(payload);
    },
  });
  app.decorateRequest('campusCardMeta', null);

  // JSON bodies: keep the exact bytes (Content-Digest) and parse them ourselves. Every other
  // media type (fastify's built-in text/plain included) is refused with 415 before the signature
  // check, rather than reaching it without its raw bytes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const buf = body as Buffer;
    meta(request).rawBody = buf;
    if (buf.length === 0) {
      done(new ApiError(400, 'ERR_MALFORMED_JSON', 'empty JSON body'), undefined);
      return;
    }
    // JSON is UTF-8 (RFC 8259 §8.1): bytes that are not, and escaped lone surrogates, are refused
    // rather than stored as U+FFFD.
    if (!isUtf8(buf)) {
      done(new ApiError(400, 'ERR_MALFORMED_JSON', 'the body is not valid UTF-8'), undefined);
      return;
    }
    const text = buf.toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      done(new ApiError(400, 'ERR_MALFORMED_JSON', 'the body is not valid JSON'), undefined);
      return;
    }
    if (SURROGATE_ESCAPE.test(text) && hasLoneSurrogate(parsed)) {
      done(new ApiError(400, 'ERR_MALFORMED_JSON', 'the body holds a lone UTF-16 surrogate'), undefined);
      return;
    }
    done(null, parsed);
  });

  app.setValidatorCompiler(({ schema, httpPart }) => {
    const check = compileValidator(schema as never, { coerce: httpPart !== 'body' });
    return (data: unknown) => {
      const r = check(data);
      if (r.ok) return { value: r.value };
      const part = httpPart ?? 'body';
      return {
        error: new ApiError(
          400,
          'ERR_VALIDATION',
          `invalid ${part}: ${r.issues[0]?.path} ${r.issues[0]?.message}`,
          {
            errors: r.issues.map((i) => ({ path: `${part}${i.path}`, message: i.message })),
          },
        ),
      };
    };
  });

  // ---- authentication -------------------------------------------------------------------
  // Principals' keys, by key id. A lookup may read a row that a batch not yet committed wrote: a
  // failed batch empties the cache, so no key of a rolled-back registration stays usable.
  const keyCache = new Map<string, { key: VerifyKey; principal: Principal }>();
  /** Failed group-commit batches so far (see `RequestMeta.rollbacksAtStart`). */
  let rollbacks = 0;
  gc.onRollback(() => {
    rollbacks++;
    keyCache.clear();
  });
  const verifier = createNodeRequestVerifier();
  const principalStmt = db.prepare(
    `SELECT p.principal_id AS id, p.kind, p.school_id, p.jwk, d.merchant_id AS d_merchant, d.zone, d.type AS device_type
       FROM principals p LEFT JOIN devices d ON d.device_id = p.principal_id WHERE p.principal_id = ?`,
  );
  const nonceStmt = db.prepare('INSERT OR IGNORE INTO nonces (key_id, nonce, expires_at) VALUES (?, ?, ?)');
  const nonceSeenStmt = db.prepare('SELECT 1 FROM nonces WHERE key_id = ? AND nonce = ?');
  function lookup(id: string): { key: VerifyKey; principal: Principal } | undefined {
    const hit = keyCache.get(id);
    if (hit !== undefined) return hit;
    const row = principalStmt.get(id) as
      | {
          id: string;
          kind: Principal['kind'];
          school_id: string | null;
          jwk: string;
          d_merchant: string | null;
          zone: string | null;
          device_type: string | null;
        }
      | undefined;
    if (row === undefined) return undefined;
    let key: VerifyKey;
    try {
      key = importVerifyKey(JSON.parse(row.jwk));
    } catch {
      return undefined;
    }
    const principal: Principal = {
      id: row.id,
      kind: row.kind,
      schoolId: row.school_id,
      merchantId: row.kind === 'merchant' ? row.id : row.d_merchant,
      zone: row.zone,
      deviceType: row.device_type,
    };
    const entry = { key, principal };
    keyCache.set(id, entry);
    return entry;
  }

  /**
   * The key id a request claims, before its signature is checked: the first `keyid` of
   * `Signature-Input` whose key is known, as `verifyRequest` picks its label (a gateway's own
   * signature may come first), else the first.
   */
  function claimedKeyId(request: FastifyRequest): string | undefined {
    const input = headerOf(request, 'signature-input');
    if (input === undefined) return undefined;
    let first: string | undefined;
    KEYID.lastIndex = 0;
    for (let m = KEYID.exec(input); m !== null; m = KEYID.exec(input)) {
      const id = m[1] as string;
      first ??= id;
      if (lookup(id) !== undefined) return id;
    }
    return first;
  }

  /** Verifies the request's signature; `claimed` is its {@link claimedKeyId}, read once by the caller. */
  async function authenticate(
    request: FastifyRequest,
    def: RouteDef,
    claimed: string | undefined,
  ): Promise<Principal> {
    // Decided now, kept below only for a request that the claimed key really signed: a forged one
    // naming a device's key must not use that device's rule up.
    const skew = state.faults.decide('clock_skew', {
      principalId: claimed,
      operationId: def.operationId,
      path: request.url,
    });
    const skewMs = (skew?.rule?.skew_s ?? 0) * 1000;
    const body = meta(request).rawBody;
    const hasBody = body !== undefined && body.length > 0;
    const covers = (request.url.includes('?') ? 2 : 0) + (hasBody ? 1 : 0);
    const req = {
      method: request.method,
      url: request.url,
      headers: request.headers as Record<string, string | string[] | undefined>,
      body: hasBody ? new Uint8Array(body.buffer, body.byteOffset, body.length) : undefined,
    };
    const options: VerifyRequestOptions = {
      now: clock.now() + skewMs,
      tolerance: state.settings.signatureToleranceS,
      keyLookup: (id) => lookup(id)?.key,
      requiredComponents: REQUIRED_COMPONENTS[covers] as readonly string[],
      requiredParams: ['created', 'nonce', 'keyid'],
      nonceStore: (nonce, keyId, expiresAt) => {
        // a signature whose nonce may have been pruned (the clock set back past a pruning): refused
        if (expiresAt <= noncesPrunedUntil(state)) return false;
        // The database is the only record of nonces. The request is answered only once the
        // batch holding its nonce committed (see `join`): a nonce of a failed batch is free again,
        // as the database says, and its request had no effect (it was answered 503).
        join(meta(request));
        return nonceStmt.run(keyId, nonce, expiresAt).changes === 1;
      },
      verifier,
      digest: nodeDigest,
    };
    let result: Awaited<ReturnType<typeof verifyRequest>>;
    let genuine = false;
    try {
      result = await verifyRequest(req, options);
      // `claimed` is a scan for `keyid="…"`, which another `keyid` in the field can fool (a
      // parameter named `xkeyid`, a member that is no signature). When the key the check judged is
      // another one, the rule is not that key's: a request judged on the rule's clock is judged
      // again on the platform's own (an accepted one has its nonce stored already), so another
      // principal neither borrows the device's skew nor is refused for it.
      if (skew !== undefined && result.keyId !== undefined && result.keyId !== claimed && skewMs !== 0) {
        result = await verifyRequest(req, {
          ...options,
          now: clock.now(),
          ...(result.ok ? { nonceStore: () => true } : {}),
        });
      }
      // Signed by the claimed key? Refused for the skew, it is checked again on the true clock,
      // with its nonce looked up, not stored.
      genuine =
        skew !== undefined &&
        result.keyId === claimed &&
        (result.ok ||
          (skewMs !== 0 &&
            (
              await verifyRequest(req, {
                ...options,
                now: clock.now(),
                nonceStore: (nonce, keyId) => nonceSeenStmt.get(keyId, nonce) === undefined,
              })
            ).ok));
    } finally {
      // the decision is reserved (concurrent requests of the device see it): kept for a request
      // the device signed, given back for any other, and when the check throws
      if (genuine) skew?.commit();
      else skew?.release();
    }
    if (!result.ok)
      throw new ApiError(401, result.code, result.message, {
        headers: CHALLENGES[covers] as Record<string, string>,
      });
    const entry = lookup(result.keyId);
    if (entry === undefined)
      throw new ApiError(401, 'ERR_SIG_UNKNOWN_KEY', 'unknown key', {
        headers: CHALLENGES[covers] as Record<string, string>,
      });
    const allowed = def.auth as readonly string[];
    if (!allowed.includes(entry.principal.kind)) {
      const kind = entry.principal.kind;
      throw new ApiError(
        403,
        'ERR_FORBIDDEN',
        `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind} may not call ${def.operationId}`,
      );
    }
    return entry.principal;
  }

  // ---- idempotency ----------------------------------------------------------------------
  // Only finished outcomes are stored. A request in flight holds its key in memory (`inflight`):
  // one statement fewer per POST than an 'in_progress' row, and nothing to clean up after a stop.
  // It holds it for as long as it runs, never for a time: a time on the virtual clock is moved by
  // tests (a jump let a retry run beside the first request), and a real one does not know how
  // long an injected delay lasts. The key is let go when the outcome is stored, when the request
  // fails without one (5xx, 429), and in any case when its response is done (`onResponse`).
  const idemGet = db.prepare(
    'SELECT request_hash, status, headers, body, created_at FROM idempotency WHERE principal_id = ? AND idem_key = ?',
  );
  const idemDone = db.prepare(
    "INSERT OR REPLACE INTO idempotency (principal_id, idem_key, request_hash, state, status, headers, body, created_at) VALUES (?, ?, ?, 'done', ?, ?, ?, ?)",
  );
  // Rows of an older version that used 'in_progress' rows: those requests never finished.
  db.prepare("DELETE FROM idempotency WHERE state = 'in_progress'").run();
  const inflight = new Map<string, IdemState>();
  const inflightKey = (principalId: string, key: string) => `${principalId}\n${key}`;

  function storeOutcome(m: RequestMeta, idem: IdemState, result: HandlerResult): void {
    join(m);
    idemDone.run(
      idem.principalId,
      idem.key,
      idem.hash,
      result.status,
      result.headers === undefined ? '{}' : JSON.stringify(result.headers),
      JSON.stringify(result.body ?? null),
      idem.createdAt,
    );
    idem.done = true;
    release(idem);
  }

  function release(idem: IdemState): void {
    const k = inflightKey(idem.principalId, idem.key);
    if (inflight.get(k) === idem) inflight.delete(k);
  }

  /** Returns a stored outcome to replay, or undefined after reserving the key. */
  function reserve(
    request: FastifyRequest,
    principal: Principal,
  ): { status: number; headers: Record<string, string>; body: unknown } | undefined {
    const key = headerOf(request, 'idempotency-key');
    if (key === undefined || key.length === 0 || key.length > 255) {
      throw new ApiError(
        400,
        'ERR_IDEMPOTENCY_KEY_MISSING',
        'every POST needs an Idempotency-Key header (1..255 chars)',
      );
    }
    // The body as JSON, not as bytes: a retry that serialises the same request with its keys in
    // another order, or other spacing, is the same request. (One-shot hashes: a `Hash` object per
    // request is a weak handle for every scavenge to finalise.)
    const m = meta(request);
    const target = `${request.method} ${request.url}\n`;
    const hash = digestOf(
      'sha256',
      target + (m.rawBody === undefined ? '' : canonicalJson(request.body)),
      'hex',
    );
    /** The fingerprint earlier builds stored, of the body's bytes: a retry across an upgrade still matches. */
    const sameBytes = (stored: string) =>
      m.rawBody !== undefined &&
      stored === digestOf('sha256', Buffer.concat([Buffer.from(target), m.rawBody]), 'hex');
    const now = clock.now();
    const k = inflightKey(principal.id, key);
    const running = inflight.get(k);
    if (running !== undefined) {
      if (running.hash !== hash) {
        throw new ApiError(
          422,
          'ERR_IDEMPOTENCY_KEY_REUSED',
          'this Idempotency-Key was used with a different request',
        );
      }
      throw new ApiError(
        409,
        'ERR_IDEMPOTENCY_IN_PROGRESS',
        'the first request with this key is still running',
        {
          retryable: true,
          headers: { 'retry-after': '1' },
        },
      );
    }
    const row = idemGet.get(principal.id, key) as
      | {
          request_hash: string;
          status: number;
          headers: string;
          body: string;
          created_at: number;
        }
      | undefined;
    const expired = row !== undefined && now - row.created_at > state.settings.idempotencyTtlS * 1000;
    if (row !== undefined && !expired) {
      if (row.request_hash !== hash && !sameBytes(row.request_hash)) {
        throw new ApiError(
          422,
          'ERR_IDEMPOTENCY_KEY_REUSED',
          'this Idempotency-Key was used with a different request',
        );
      }
      return { status: row.status, headers: JSON.parse(row.headers), body: JSON.parse(row.body) };
    }
    const idem: IdemState = { principalId: principal.id, key, hash, createdAt: now, done: false };
    inflight.set(k, idem);
    meta(request).idem = idem;
    return undefined;
  }

  function settleOnError(request: FastifyRequest, err: ApiError): void {
    const m = meta(request);
    const idem = m.idem;
    if (idem === undefined || idem.done) return;
    if (err.status >= 500 || err.retryable) release(idem);
    else
      storeOutcome(m, idem, {
        status: err.status,
        body: toProblem(err, request.id, request.url.split('?')[0]),
      });
  }

  // ---- closing ---------------------------------------------------------------------------
  // A request counts as in flight from `onRequest` until its answer is final (`finish`, after its
  // COMMIT). Closing waits for none left, so the database is never closed under a running
  // handler; injected delays end at once, each answer asks for its connection to be closed, and
  // after CLOSE_GRACE_MS the connections left are destroyed.
  let inFlight = 0;
  /** Requests of each connection not yet answered (pipelined requests run side by side). */
  const onSocket = new WeakMap<object, number>();
  let closing = false;
  let whenIdle: (() => void) | undefined;
  const closeSignal = new AbortController();
  let forceTimer: NodeJS.Timeout | undefined;
  function settle(m: RequestMeta): void {
    if (!m.counted) return;
    m.counted = false;
    inFlight -= 1;
    if (inFlight === 0) whenIdle?.();
  }
  app.addHook('preClose', (done) => {
    closing = true;
    closeSignal.abort();
    forceTimer = setTimeout(() => app.server.closeAllConnections?.(), CLOSE_GRACE_MS);
    forceTimer.unref();
    done();
  });
  app.addHook('onClose', async () => {
    if (inFlight > 0) {
      await new Promise<void>((resolve) => {
        whenIdle = resolve;
        // a request still running after the connections were destroyed gets as long again
        setTimeout(resolve, 2 * CLOSE_GRACE_MS).unref();
      });
    }
    clearTimeout(forceTimer);
  });

  // ---- hooks -----------------------------------------------------------------------------
  // Hooks are callback-style where they can finish synchronously: an async hook costs a promise
  // and a microtask hop per request and per hook.
  app.addHook('onRequest', (request, reply, done) => {
    const m = meta(request);
    m.counted = true;
    m.rollbacksAtStart = rollbacks;
    inFlight += 1;
    const socket = request.raw.socket;
    if (socket) onSocket.set(socket, (onSocket.get(socket) ?? 0) + 1);
    reply.header('x-request-id', request.id);
    // A request that arrives on a kept-alive connection while closing: refused, and recorded
    // (`finish`), and its connection closed with the answer. Requests already running are answered.
    if (closing) {
      done(
        new ApiError(503, 'ERR_INTERNAL', 'the platform is shutting down; retry', {
          retryable: true,
          headers: { 'retry-after': '1' },
        }),
      );
      return;
    }
    // Admin routes that are off answer as such before their body is read: a malformed, oversized
    // or mistyped body would otherwise be a 400, 413 or 415 that shows the route is there.
    if (!state.adminEnabled && routeDefOf(request)?.auth === 'admin') {
      done(new ApiError(404, 'ERR_ADMIN_DISABLED', 'admin routes are disabled'));
      return;
    }
    done();
  });

  // The last resort that lets an idempotency key go: a request whose outcome could not be stored
  // (a failed write) must not answer 409 to every retry until the process stops.
  app.addHook('onResponse', (request, _reply, done) => {
    const m = request.campusCardMeta;
    if (m) {
      if (m.idem !== undefined && !m.idem.done) release(m.idem);
      settle(m);
    }
    done();
  });

  app.addHook('preValidation', async (request) => {
    const def = routeDefOf(request);
    if (def === undefined) return;
    meta(request).def = def;
    // A route that takes no body (DELETE /admin/faults) refuses one rather than ignore it.
    if (def.body === undefined && meta(request).rawBody !== undefined) {
      throw new ApiError(400, 'ERR_VALIDATION', `${def.operationId} takes no request body`);
    }
    if (def.auth === 'admin') {
      if (!state.adminEnabled) throw new ApiError(404, 'ERR_ADMIN_DISABLED', 'admin routes are disabled');
      return;
    }
    if (!Array.isArray(def.auth)) return;
    const m = meta(request);
    const prefetch = prefetchers.get(def.operationId);
    const claimedId = claimedKeyId(request);
    if (prefetch === undefined) {
      m.principal = await authenticate(request, def, claimedId);
      return;
    }
    const auth = authenticate(request, def, claimedId);
    // The claimed key's principal: the prefetch runs beside the signature check and is used
    // only if the check names the same principal.
    const claimed = claimedId === undefined ? undefined : lookup(claimedId)?.principal;
    let prefetched: unknown;
    if (claimed !== undefined && request.body !== undefined) {
      try {
        prefetched = prefetch(state, claimed, request.body);
      } catch {
        prefetched = undefined;
      }
      if (prefetched instanceof Promise) prefetched.catch(() => undefined);
    }
    m.principal = await auth;
    if (m.principal === claimed) m.prefetched = prefetched;
  });

  app.addHook('preHandler', (request, reply, done) => {
    const m = meta(request);
    const def = m.def;
    if (def === undefined || def.auth === 'admin') {
      done();
      return;
    }
    let delayMs: number | undefined;
    try {
      const site = { principalId: m.principal?.id, operationId: def.operationId, path: request.url };
      if (def.method === 'POST' && m.principal !== undefined) {
        const replay = reserve(request, m.principal);
        if (replay !== undefined) {
          const r = reply.code(replay.status).headers(replay.headers).header('idempotent-replayed', 'true');
          if (replay.status >= 400) r.type('application/problem+json');
          r.send(replay.body);
          return;
        }
      }
      const limited = state.faults.fire('rate_limit', site);
      if (limited !== undefined) {
        const s = limited.retry_after_s ?? 1;
        throw new ApiError(429, 'ERR_RATE_LIMITED', 'injected rate limit', {
          retryable: true,
          headers: { 'retry-after': String(s) },
        });
      }
      const failed = state.faults.fire('error_5xx', site);
      if (failed !== undefined) {
        throw new ApiError(failed.status ?? 503, 'ERR_INJECTED_FAULT', 'injected server error', {
          retryable: true,
        });
      }
      const delay = state.faults.fire('delay', site);
      if (delay !== undefined) delayMs = delay.delay_ms ?? 100;
    } catch (err) {
      done(err as Error);
      return;
    }
    if (delayMs === undefined) done();
    // closing ends the delay: the request is answered before the database closes
    else
      void sleep(delayMs, undefined, { signal: closeSignal.signal }).then(
        () => done(),
        () => done(),
      );
  });

  /** Requests whose answer a drop_after_commit fault destroyed in `finish`: never sent. */
  const droppedAnswers = new WeakSet<FastifyRequest>();
  function finish(request: FastifyRequest, reply: FastifyReply, m: RequestMeta, out: unknown): unknown {
    settle(m);
    // Closing: the last answer on a connection asks for it to be closed. Not an earlier one: node
    // ends the socket after it, and the answers of requests pipelined behind it, already run and
    // committed, would be lost.
    const socket = request.raw.socket;
    const left = socket ? (onSocket.get(socket) ?? 1) - 1 : 0;
    if (socket) onSocket.set(socket, left);
    if (closing && left === 0) reply.header('connection', 'close');
    // drop_after_commit: the answer was produced after the COMMIT; the device never gets it (as the
    // other faults, never on the admin routes that set them)
    const drop =
      m.def !== undefined && m.def.auth !== 'admin' && reply.statusCode < 400
        ? state.faults.fire('drop_after_commit', {
            principalId: m.principal?.id,
            operationId: m.def.operationId,
            path: request.url,
          })
        : undefined;
    state.recorder.record({
      kind: 'request',
      at: iso(clock.now()),
      request_id: request.id,
      method: request.method,
      url: request.url,
      // (a refusal while parsing the body, 413 or 415, comes before preValidation sets `m.def`)
      operation_id: (m.def ?? routeDefOf(request))?.operationId ?? null,
      principal_id: m.principal?.id ?? null,
      status: reply.statusCode,
      request_body: m.rawBody !== undefined && m.rawBody.length <= 65_536 ? m.rawBody.toString('utf8') : null,
      // the recording's own answer is left out: each poll would hold every earlier one, nested
      response_body:
        m.def?.operationId !== 'getRecording' && typeof out === 'string' && out.length <= 65_536 ? out : null,
      response_dropped: drop !== undefined,
      duration_ms: Math.round((performance.now() - m.started) * 1000) / 1000,
    });
    if (drop !== undefined) {
      // The response is destroyed, not `request.raw.socket`: that destroys a real socket, and
      // under app.inject() (whose mock request socket has no destroy()) rejects the inject as a
      // reset would. Nothing is sent after it (`answer` in the onSend hook; hijacked, so fastify
      // sends nothing either), so no onResponse hook runs: what it would let go is let go here.
      droppedAnswers.add(request);
      if (m.idem !== undefined && !m.idem.done) release(m.idem);
      reply.hijack();
      reply.raw.destroy();
    }
    return out;
  }

  app.addHook('onSend', (request, reply, payload, done) => {
    const m = meta(request);
    // an answer a drop_after_commit fault destroyed (`finish`) is not handed on to be sent
    const answer = (out: unknown) => {
      if (!droppedAnswers.has(request)) done(null, out);
    };
    const failed = () => {
      // Nothing of the handler's answer stays: its headers describe what was rolled back (a
      // `location`, an `etag` naming bytes no version has now, `idempotent-replayed`, …).
      for (const name of Object.keys(reply.getHeaders())) {
        if (name !== 'x-request-id') reply.removeHeader(name);
      }
      reply.code(503).header('content-type', 'application/problem+json').header('retry-after', '1');
      const problem = toProblem(rolledBack(), request.id, request.url.split('?')[0]);
      done(null, finish(request, reply, m, JSON.stringify(problem)));
    };
    // A batch this request wrote in (its nonce, at least) failed already: nothing of it is committed.
    // A batch failed while it ran: what it read may be rows rolled back since. Either way it is
    // answered a retryable 503: a read is read again, and a write of its own that did commit is
    // answered to the retry by its Idempotency-Key. (A write without one, an admin route committing
    // on its own, keeps its answer: a 503 would have it applied twice.)
    const rolledBackSince = () =>
      m.def !== undefined &&
      rollbacks !== m.rollbacksAtStart &&
      (m.idem !== undefined || request.method === 'GET' || request.method === 'HEAD');
    if (lost(m.batch) || rolledBackSince()) {
      failed();
      return;
    }
    // Never acknowledge before COMMIT: wait for the group-commit batch that holds this request's
    // writes, or rows it read from other requests (see lib/group-commit.ts).
    const batch = m.def === undefined ? undefined : gc.current();
    if (batch === undefined) {
      answer(finish(request, reply, m, payload));
      return;
    }
    batch.committed.then(
      () => (rolledBackSince() ? failed() : answer(finish(request, reply, m, payload))),
      failed,
    );
  });

  app.setErrorHandler((error, request, reply) => {
    const err = toApiError(error);
    // an unexpected error is logged; a 503 the platform meant (closing, a failed batch) is not
    if (err.status >= 500 && err.code === 'ERR_INTERNAL' && !(error instanceof ApiError)) {
      console.error(`[campus-card-mock] ${request.method} ${request.url}:`, error);
    }
    try {
      settleOnError(request, err);
    } catch {
      // ignore
    }
    return sendProblem(reply, request, err);
  });

  if (options.checkResponses ?? process.env.CAMPUS_CARD_CHECK_RESPONSES === '1') checkResponses(app);

  // A path the contract has, with another method: 405 and `Allow`, not 404.
  const pathMethods = new Map<string, { re: RegExp; methods: Set<string> }>();
  const addPath = (path: string, method: string) => {
    let e = pathMethods.get(path);
    if (e === undefined) {
      e = {
        re: new RegExp(`^${path.replace(/\./g, '\\.').replace(/\{[a-z_]+\}/g, '[^/]+')}$`),
        methods: new Set(),
      };
      pathMethods.set(path, e);
    }
    e.methods.add(method);
    if (method === 'GET') e.methods.add('HEAD');
  };
  addPath('/openapi.json', 'GET');
  for (const def of routes as readonly RouteDef[]) addPath(def.path, def.method);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] as string;
    for (const { re, methods } of pathMethods.values()) {
      if (!re.test(path)) continue;
      const allow = [...methods].join(', ');
      return sendProblem(
        reply,
        request,
        new ApiError(405, 'ERR_METHOD_NOT_ALLOWED', `${path} takes ${allow}, not ${request.method}`, {
          headers: { allow },
        }),
      );
    }
    return sendProblem(
      reply,
      request,
      new ApiError(404, 'ERR_NOT_FOUND', `no route ${request.method} ${path}`),
    );
  });

  // ---- routes ----------------------------------------------------------------------------
  const openapi = buildOpenApiDocument({ servers: options.servers ?? [] });
  app.get('/openapi.json', async () => openapi);

  for (const def of routes as readonly RouteDef[]) {
    const handler = (handlers as Record<string, Handler | undefined>)[def.operationId];
    const schema: Record<string, unknown> = {};
    if (def.params !== undefined) schema.params = def.params;
    // a route without declared query parameters takes none: an unknown one is a 400, not ignored
    schema.querystring = def.query ?? NO_QUERY;
    if (def.body !== undefined) schema.body = def.body;
    app.route({
      method: def.method,
      url: def.path.replace(/\{([a-z_]+)\}/g, ':$1'),
      schema,
      config: { def },
      handler: async (request, reply) => {
        if (handler === undefined)
          throw new ApiError(404, 'ERR_NOT_FOUND', `${def.operationId} is not implemented`);
        const m = meta(request);
        const ctx: HandlerContext = {
          state,
          route: def,
          params: request.params as never,
          query: request.query as never,
          body: request.body as never,
          principal: m.principal,
          requestId: request.id,
          headers: request.headers,
          prefetched: m.prefetched,
          commit(fn) {
            // A savepoint inside the group-commit batch: a failure rolls back only this request.
            join(m);
            const result = state.tx(() => {
              const r = fn();
              if (m.idem !== undefined) storeOutcome(m, m.idem, r);
              return r;
            });
            for (const hook of state.afterCommit.splice(0)) gc.afterCommit(hook);
            return result;
          },
        };
        const result = await handler(ctx);
        if (m.idem !== undefined && !m.idem.done) storeOutcome(m, m.idem, result);
        reply.code(result.status);
        if (result.headers !== undefined) reply.headers(result.headers);
        if (result.binary !== undefined) {
          return reply
            .type('application/cbor')
            .send(Buffer.from(result.binary.buffer, result.binary.byteOffset, result.binary.length));
        }
        if (result.body === undefined) return reply.send();
        if (typeof result.body === 'string') return reply.send(result.body);
        return reply.type('application/json').send(JSON.stringify(result.body));
      },
    });
  }
  return app;
}

/**
 * Validates every JSON response against the contract (see {@link BuildAppOptions.checkResponses}).
 * A route's response must match the schema it declares for the status; a problem+json must match
 * {@link Problem} and its status must be one the route declares.
 */
function checkResponses(app: FastifyInstance): void {
  const validators = new Map<unknown, ReturnType<typeof compileValidator>>();
  const validatorOf = (schema: unknown) => {
    let v = validators.get(schema);
    if (v === undefined) {
      v = compileValidator(schema as never);
      validators.set(schema, v);
    }
    return v;
  };
  app.addHook('onSend', async (request, reply, payload) => {
    const type = String(reply.getHeader('content-type') ?? '');
    if (typeof payload !== 'string' || !/^application\/(problem\+)?json/.test(type)) return payload;
    const def = (request.routeOptions.config as { def?: RouteDef } | undefined)?.def;
    const status = reply.statusCode;
    const problem = type.startsWith('application/problem+json');
    let body: unknown;
    try {
      body = JSON.parse(payload);
    } catch {
      throw new Error(
        `contract: ${request.method} ${request.url} answered ${status} with a body that is not JSON`,
      );
    }
    if (def === undefined) {
      if (problem && !validatorOf(Problem)(body).ok)
        throw new Error(`contract: ${request.url}: not a problem`);
      return payload;
    }
    const schema = def.responses[status];
    // Any route may fail with a 5xx problem (the `5XX` response openapi.ts adds to every operation);
    // every other status must be declared by the route.
    if (schema === undefined && !(problem && status >= 500)) {
      throw new Error(`contract: ${def.operationId} answered ${status}, which it does not declare`);
    }
    const declared = schema ?? Problem;
    const r = validatorOf(declared)(body);
    if (!r.ok) {
      const issue = r.issues[0];
      throw new Error(
        `contract: ${def.operationId} ${status} does not match its schema: ${issue?.path} ${issue?.message}`,
      );
    }
    return payload;
  });
}
