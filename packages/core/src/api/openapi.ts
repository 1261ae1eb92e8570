/**
 * Renders the route table as an OpenAPI 3.1 document, push events included.
 *
 * @module
 */
import type { TSchema } from '@sinclair/typebox';
import {
  ERROR_CODES,
  type ErrorCode,
  Problem,
  type RouteDef,
  TOKEN_FORMAT_PROBLEM_CODES,
  type TokenFormatProblemCode,
} from './common.js';
import { routes } from './routes.js';
import { WEBHOOK_RETRY_SCHEDULE_S, WEBHOOK_TOLERANCE_S, WebhookEvents } from './webhooks.js';

/** Options of {@link buildOpenApiDocument}. */
export interface BuildOpenApiOptions {
  /** Server URLs to list. */
  readonly servers?: readonly string[];
  /** Include the `/admin` routes (default true). */
  readonly includeAdmin?: boolean;
}

/** A JSON value (the OpenAPI document is plain JSON). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

function plain(schema: TSchema): JsonValue {
  // TypeBox adds symbol keys only; JSON round trip removes them and `undefined`s.
  return JSON.parse(JSON.stringify(schema)) as JsonValue;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  304: 'Not modified (ETag matched)',
  400: 'Bad request: malformed JSON or a validation failure',
  401: 'Signature missing or invalid',
  403: 'Forbidden for this principal',
  404: 'Not found',
  409: 'Conflict, or the same Idempotency-Key is still in progress (retryable)',
  413: 'Body too large',
  415: 'Unsupported media type',
  422: 'Unprocessable: Idempotency-Key reused with a different body, or a scanned code or card that cannot be used',
  429: 'Rate limited (Retry-After)',
};

const SERVER_ERROR_TEXT =
  'Server error: `ERR_INTERNAL` (500; 503 with `Retry-After` on a failed commit or while shutting down)';

/** Response headers, declared once under `components.headers` and referred to by name. */
const HEADERS: Record<string, { description: string; schema: JsonValue }> = {
  'X-Request-Id': {
    description: 'The id of this request, on every answer; the same as `request_id` of a problem.',
    schema: { type: 'string' },
  },
  'Retry-After': {
    description:
      'Seconds to wait before sending the request again (RFC 9110 §10.2.3): on a 429, a 503, and a 409 `ERR_IDEMPOTENCY_IN_PROGRESS`.',
    schema: { type: 'integer', minimum: 0 },
  },
  'WWW-Authenticate': {
    description:
      'The challenge of a 401 (RFC 9110 §11.6.1): `Signature realm="campus-card"`. HTTP Message Signatures register no scheme; `Signature` is the name the signing drafts before RFC 9421 used.',
    schema: { type: 'string' },
  },
  'Accept-Signature': {
    description:
      'What a signature must cover (RFC 9421 §5.1): `sig1=("@method" "@path");created;keyid;nonce`, with `"@query"` after `"@path"` when the request has a query and `"content-digest"` last when it has a body (`sig1=("@method" "@path" "@query" "content-digest");created;keyid;nonce` with both).',
    schema: { type: 'string' },
  },
  Allow: {
    description: 'On a 405: the methods the path takes (RFC 9110 §10.2.1), e.g. `GET, HEAD`.',
    schema: { type: 'string' },
  },
  'Idempotent-Replayed': {
    description:
      '`true` when the answer is the replay of the first outcome of this `Idempotency-Key`, not a new execution; absent otherwise.',
    schema: { type: 'string', enum: ['true'] },
  },
  ETag: {
    description:
      'On a 200 or 304 of a signed document (trust list, status list, roster): its entity-tag, for `If-None-Match`. The mock platform makes it `"<trust-list|status-list|roster>-v<version>-<the first 12 hex digits of the SHA-256 of the body>"`, so a client can check that a tag names the bytes it came with (the gate client does, and keeps no tag that names other bytes); treat other forms as opaque.',
    schema: { type: 'string' },
  },
  'Cache-Control': {
    description:
      "On a 200 or 304 of a signed document: `private, no-cache`: a shared cache (a proxy) must not store it (the roster names every card's groups, the status list every card's status), and a private one must revalidate (`If-None-Match`) before reusing its copy.",
    schema: { type: 'string' },
  },
};

function ref(header: keyof typeof HEADERS & string): JsonValue {
  return { $ref: `#/components/headers/${header}` };
}

/** The headers a response of this status carries (see the hooks of the mock server's app.ts). */
function responseHeaders(code: number, idempotent: boolean, etag: boolean): Record<string, JsonValue> {
  const h: Record<string, JsonValue> = { 'X-Request-Id': ref('X-Request-Id') };
  if (etag && (code === 200 || code === 304)) {
    h.ETag = ref('ETag');
    h['Cache-Control'] = ref('Cache-Control');
  }
  if (code === 401) {
    h['WWW-Authenticate'] = ref('WWW-Authenticate');
    h['Accept-Signature'] = ref('Accept-Signature');
  }
  // 409: `ERR_IDEMPOTENCY_IN_PROGRESS` asks to retry after a second
  if (code === 429 || code === 503 || (idempotent && code === 409)) h['Retry-After'] = ref('Retry-After');
  // a replay repeats the stored outcome, of any status the route answers but a 5xx
  if (idempotent && code < 500) h['Idempotent-Replayed'] = ref('Idempotent-Replayed');
  return h;
}

function paramList(where: 'path' | 'query', schema: TSchema | undefined): JsonValue[] {
  if (schema === undefined) return [];
  const props = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  const required = new Set((schema as { required?: string[] }).required ?? []);
  return Object.entries(props).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    schema: plain(s),
  }));
}

function operation(r: RouteDef): JsonValue {
  const signed = Array.isArray(r.auth);
  const parameters: JsonValue[] = [...paramList('path', r.params), ...paramList('query', r.query)];
  if (r.method === 'POST' && r.auth !== 'admin') {
    parameters.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: true,
      description: 'Unique per logical request; the first outcome is kept 24 h and replayed.',
      schema: { type: 'string', minLength: 1, maxLength: 255 },
    });
  }
  if (r.etag === true) {
    parameters.push({
      name: 'If-None-Match',
      in: 'header',
      required: false,
      description:
        'The ETag of the copy held: `*` or a list of entity-tags, compared weakly (RFC 9110 §13.1.2: `W/"x"` matches `"x"`); a match answers 304.',
      schema: { type: 'string' },
    });
  }
  const responses: Record<string, JsonValue> = {};
  const idempotent = r.method === 'POST' && r.auth !== 'admin';
  for (const [status, schema] of Object.entries(r.responses)) {
    const code = Number(status);
    const description = STATUS_TEXT[code] ?? 'Response';
    const headers = responseHeaders(code, idempotent, r.etag === true);
    const media = (schema as { contentMediaType?: unknown }).contentMediaType;
    if (code === 304) {
      responses[status] = { description, headers };
    } else if ((schema as { 'x-binary'?: boolean })['x-binary'] === true) {
      responses[status] = {
        description,
        headers,
        content: { 'application/cbor': { schema: { type: 'string', contentMediaType: 'application/cbor' } } },
      };
    } else if (typeof media === 'string') {
      // A body that is not JSON (NDJSON, CSV): served as that media type, as a string.
      responses[status] = { description, headers, content: { [media]: { schema: { type: 'string' } } } };
    } else {
      const json = code >= 400 ? 'application/problem+json' : 'application/json';
      responses[status] = { description, headers, content: { [json]: { schema: plain(schema) } } };
    }
  }
  // '5XX' rather than 'default': the server answers no undeclared 4xx on a route (a 405 comes from
  // the not-found handler, for no route: see `components.responses.MethodNotAllowed`), only a 5xx
  // problem (a failed commit or shutdown 503, an injected fault, an unexpected 500). 'default' would
  // claim every undeclared status and hide a real contract break; '5XX' says exactly that.
  responses['5XX'] = {
    description:
      r.auth === 'admin'
        ? `${SERVER_ERROR_TEXT}.`
        : `${SERVER_ERROR_TEXT}, or \`ERR_INJECTED_FAULT\` (a fault rule).`,
    headers: { 'X-Request-Id': ref('X-Request-Id'), 'Retry-After': ref('Retry-After') },
    content: { 'application/problem+json': { schema: plain(Problem) } },
  };
  const op: Record<string, JsonValue> = {
    operationId: r.operationId,
    summary: r.summary,
    tags: [r.tag],
    parameters,
    responses,
    security: signed ? [{ httpMessageSignature: [] }] : [],
  };
  if (r.description !== undefined) op.description = r.description;
  op['x-auth'] = signed ? 'signature' : (r.auth as 'none' | 'admin');
  if (signed) op['x-principals'] = [...(r.auth as readonly string[])];
  if (r.capabilities !== undefined) op['x-capabilities'] = [...r.capabilities];
  if (r.body !== undefined) {
    op.requestBody = { required: true, content: { 'application/json': { schema: plain(r.body) } } };
  }
  return op;
}

// ---- pushes ---------------------------------------------------------------------------------
// What the platform sends with a push. The mock server signs with `signPush` from
// `@campus-card/core/http`; packages/mock-server/test/openapi-webhooks.test.ts checks a real
// delivery against what is declared here.

/** Components a push signature covers, in order (`PUSH_COVERED_COMPONENTS` of core/http). */
const PUSH_COVERED = ['@method', '@authority', '@path', '@query', 'content-digest', 'push-id'] as const;

/** The headers of every push, all sent every time (besides `content-type: application/json`). */
const PUSH_HEADERS: readonly { name: string; description: string; example: string }[] = [
  {
    name: 'push-id',
    description:
      "The push id, equal to the body `id`: one delivery of an event to one subscription. The same on every retry and on a duplicate delivery: deduplicate on it. An event pushed to two subscriptions (two of yours with the same URL, say) comes under two ids: dedupe on the event's own ids too (`order_id`, `event_id`). Covered by the signature.",
    example: 'evt_4Xk2p9QmZr7T',
  },
  {
    name: 'push-event-type',
    description:
      'The event type, equal to the body `type`. Not covered by the signature: act on the signed body.',
    example: 'payment.succeeded',
  },
  {
    name: 'content-digest',
    description:
      'RFC 9530 digest of the exact body bytes, `sha-256=:<base64>:`. Covered by the signature; recompute it over the raw body.',
    example: 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:',
  },
  {
    name: 'signature-input',
    description: `RFC 9421 signature input, label \`sig1\`: \`sig1=(${PUSH_COVERED.map((c) => `"${c}"`).join(' ')});created=<unix seconds>;keyid="<platform kid>";alg="ed25519";nonce="<fresh per attempt>"\`.`,
    example: `sig1=(${PUSH_COVERED.map((c) => `"${c}"`).join(' ')});created=1767600000;keyid="platform-AbC";alg="ed25519";nonce="m3Zp0a9Q8rT1uVwX"`,
  },
  {
    name: 'signature',
    description:
      'RFC 9421 signature, `sig1=:<base64 Ed25519 signature>:`, by the platform key named by `keyid`.',
    example: 'sig1=:bWFkZS11cC1leGFtcGxlLXNpZ25hdHVyZS1ieXRlcy0wMTIzNDU2Nzg5YWJjZGVmZ2hpams=:',
  },
];

function retryText(): string {
  const s = WEBHOOK_RETRY_SCHEDULE_S;
  const gaps = s.map((v, i) => v - (s[i - 1] ?? 0));
  return `${s.length} times, at ${s.join(', ')} s after the push was queued (an attempt made late pushes the next ones back: each waits at least ${gaps.join(', ')} s after the one before), then abandoned`;
}

const PUSH_SIGNATURE_DESCRIPTION = `An RFC 9421 HTTP Message Signature by the platform's Ed25519 key (\`alg="ed25519"\`), label \`sig1\`, covering (${PUSH_COVERED.map((c) => `"${c}"`).join(' ')}) with the parameters created, keyid, alg and nonce; \`@authority\` is the subscribed URL's host and port, so a push is good for its own receiver only. Verify it, with your own authority, with the public key whose \`kid\` equals \`keyid\`, from \`GET /v1/platform/keys\` (\`webhook_signing\`); accept \`created\` within ±${WEBHOOK_TOLERANCE_S} s; check \`content-digest\` (RFC 9530, sha-256) against the raw body. \`verifyPush\` of \`@campus-card/core/http\` does all of this.`;

const PUSH_DESCRIPTION = `A \`POST\` of the JSON event to the subscribed URL, sent to the subscriptions of the person concerned, of their parents and class teachers, and of the merchant (its payments, and the top-ups it made). Signed like requests, with ${PUSH_SIGNATURE_DESCRIPTION.charAt(0).toLowerCase()}${PUSH_SIGNATURE_DESCRIPTION.slice(1)} Answer 2xx to accept; anything else is retried ${retryText()}. Each attempt is signed afresh (new \`created\` and \`nonce\`) with the same \`push-id\`; a push may arrive more than once, or out of order.`;

// ---- tags ------------------------------------------------------------------------------------

/** The route groups, in reading order (a tag missing here goes last). */
const TAGS: readonly { name: string; description: string }[] = [
  { name: 'directory', description: 'Schools, people (teachers, students, parents), devices and merchants.' },
  {
    name: 'cards',
    description:
      'Card issuance, renewal and status (lost, unlinked, restored), physical cards, and the signed trust list, status list and roster readers sync.',
  },
  {
    name: 'identity',
    description: 'Resolve a scanned code or a physical card online; check a permission (I1).',
  },
  {
    name: 'payments',
    description: 'POS payments, offline batches, refunds, top-ups, wallets, fees and statements (I2).',
  },
  { name: 'attendance', description: 'Device event batches and the event query (I3).' },
  { name: 'webhooks', description: 'Push subscriptions and the keys that sign pushes.' },
  { name: 'ledger', description: 'The double-entry ledger under the wallets.' },
  {
    name: 'incidents',
    description: 'What the platform detected: codes used on two devices, offline payments refused for a cap.',
  },
  { name: 'meta', description: 'Liveness.' },
  {
    name: 'admin',
    description:
      'Test control of the mock platform (clock, faults, recording); unsigned, off unless enabled.',
  },
];

// ---- problem codes ---------------------------------------------------------------------------

/** HTTP statuses and meaning of each stable error code (a code missing here is listed bare). */
const PROBLEM_CODES: Partial<
  Record<ErrorCode, { status: readonly number[]; description: string; retryable?: boolean }>
> = {
  ERR_MALFORMED_JSON: { status: [400], description: 'The body is not valid JSON (or not UTF-8).' },
  ERR_MALFORMED_HTTP: {
    status: [400, 408, 431],
    description:
      'The request is not valid HTTP/1.1 (400), did not arrive within 30 s (408, retryable), or its headers exceed 16 KiB (431). No route saw it; the connection is closed.',
  },
  ERR_VALIDATION: {
    status: [400, 422],
    description:
      "A parameter or body field breaks its schema (400); or a card's credential would break the token format's limits (422: a group or linked card id over 64 characters, over 64 groups or linked cards, over 600 bytes), from the person's directory data or a parent's linked cards. `errors` lists each field.",
  },
  ERR_BODY_TOO_LARGE: { status: [413], description: 'The body is larger than the platform accepts.' },
  ERR_UNSUPPORTED_MEDIA_TYPE: { status: [415], description: 'The body is not `application/json`.' },
  ERR_NOT_FOUND: { status: [404], description: 'No such route, or no such resource.' },
  ERR_METHOD_NOT_ALLOWED: {
    status: [405],
    description:
      'The path exists, but not with this method; `Allow` lists the methods it takes (`components.responses.MethodNotAllowed`).',
  },
  ERR_SIG_MISSING: { status: [401], description: 'No `Signature-Input`/`Signature` on a signed route.' },
  ERR_SIG_MALFORMED: {
    status: [401],
    description:
      'The signature headers do not parse; `created`, `keyid` or `nonce` is missing; or `Content-Digest` does not parse as a dictionary of byte sequences, or names neither `sha-256` nor `sha-512`.',
  },
  ERR_SIG_UNKNOWN_KEY: { status: [401], description: '`keyid` names no registered device or merchant key.' },
  ERR_SIG_ALG_MISMATCH: { status: [401], description: '`alg` does not match the key.' },
  ERR_SIG_COMPONENT_MISSING: {
    status: [401],
    description:
      'A required component is not covered: `@method`, `@path`, `@query` with a query, and `content-digest` with a body.',
  },
  ERR_SIG_EXPIRED: { status: [401], description: '`created` is outside ±300 s, or `expires` has passed.' },
  ERR_SIG_NONCE_REPLAYED: { status: [401], description: 'The nonce was already used with this key.' },
  ERR_SIG_INVALID: { status: [401], description: 'The signature does not verify.' },
  ERR_DIGEST_MISMATCH: { status: [401], description: '`Content-Digest` does not match the body.' },
  ERR_FORBIDDEN: {
    status: [403],
    description: 'This principal may not call the route or act on the resource.',
  },
  ERR_IDEMPOTENCY_KEY_MISSING: { status: [400], description: 'A POST without `Idempotency-Key`.' },
  ERR_IDEMPOTENCY_KEY_REUSED: {
    status: [422],
    description: 'The `Idempotency-Key` was used with another body.',
  },
  ERR_IDEMPOTENCY_IN_PROGRESS: {
    status: [409],
    description: 'The first request with this `Idempotency-Key` is still running.',
    retryable: true,
  },
  ERR_CONFLICT: {
    status: [409],
    description:
      "The id is taken, or a business key (`out_refund_no`, a physical card) is bound elsewhere (not retryable); or the card, its linked cards or the school's issuer key changed while its credential was signed (the problem says `retryable: true`: send it again).",
  },
  ERR_CARD_EXISTS: { status: [409], description: 'The person already has a live card of this role (C1).' },
  ERR_CARD_NOT_ACTIVE: {
    status: [403, 409],
    description:
      'The card is lost, unlinked, revoked or expired: 403 when presented, 409 for a status change.',
  },
  ERR_CODE_INVALID: {
    status: [422],
    description:
      'The scanned code does not verify and the failure has no more precise token-format code (those are answered as they are: see the token-format codes below), or it was made with a superseded phone key.',
  },
  ERR_CODE_ALREADY_USED: {
    status: [409],
    description: 'The one-use code was already used (an offline batch reports it per item).',
  },
  ERR_UNKNOWN_CARD: { status: [422], description: 'No card matches the code or the physical card UID.' },
  ERR_INSUFFICIENT_FUNDS: {
    status: [],
    description: 'Not an HTTP error: the `failure_code` of a payment that failed for lack of balance.',
  },
  ERR_ORDER_STATE: { status: [409], description: 'The order is in a state that does not allow this.' },
  ERR_OUT_TRADE_NO_CONFLICT: { status: [409], description: '`out_trade_no` was used for a different order.' },
  ERR_REFUND_EXCEEDS: { status: [409], description: 'The refund is larger than what is left to refund.' },
  ERR_OFFLINE_CAP: {
    status: [],
    description: 'Not an HTTP error: an offline batch item over the per-transaction or per-device cap.',
  },
  ERR_OCCURRED_AT: {
    status: [422],
    description:
      'An event batch is refused whole, naming the event, when an `occurred_at` is after now, or before the device was registered and more than 30 days ago, beyond the signature clock tolerance (300 s): a device clock gone wrong.',
  },
  ERR_PERMISSION_DENIED: {
    status: [403],
    description: 'Not allowed for this person, e.g. a payer who is not a parent linked to the student.',
  },
  ERR_RATE_LIMITED: {
    status: [429],
    description: 'Too many requests: wait `Retry-After` seconds.',
    retryable: true,
  },
  ERR_INJECTED_FAULT: {
    status: [503],
    description: 'A fault injected through `/admin/faults` (503, or the 5xx status the rule names).',
    retryable: true,
  },
  ERR_ADMIN_DISABLED: { status: [404], description: 'The `/admin` routes are disabled on this platform.' },
  ERR_INTERNAL: {
    status: [500, 503],
    description:
      'An unexpected server error (500); or a transaction that could not be committed, a change that kept racing concurrent ones such as an issuer rotation, or a request that arrived while the platform was shutting down (503).',
    retryable: true,
  },
  ...tokenFormatProblems(),
};

/**
 * The token format's own verification codes (token format §9, `CampusCardErrorCode` of
 * `@campus-card/core`): a scanned code that does not verify is answered 422 with the code its
 * verification stopped at, unchanged.
 */
function tokenFormatProblems(): Record<TokenFormatProblemCode, { status: number[]; description: string }> {
  const out = {} as Record<TokenFormatProblemCode, { status: number[]; description: string }>;
  for (const code of TOKEN_FORMAT_PROBLEM_CODES) {
    out[code] = {
      status: [422],
      description:
        "A scanned code that does not verify: the token format's own verification code (token format §9), answered unchanged; see docs/spec/token-format.md for its meaning. `ERR_CODE_INVALID` is used only when the failure has no such code.",
    };
  }
  return out;
}

/**
 * Builds the OpenAPI 3.1 document of the platform from the route table, with the push events
 * under `webhooks`.
 *
 * @example
 * ```ts
 * const doc = buildOpenApiDocument({ servers: ['http://localhost:8080'] });
 * ```
 */
export function buildOpenApiDocument(options: BuildOpenApiOptions = {}): { [k: string]: JsonValue } {
  const paths: Record<string, Record<string, JsonValue>> = {};
  const used = new Set<string>();
  for (const r of routes as readonly RouteDef[]) {
    if (options.includeAdmin === false && r.auth === 'admin') continue;
    used.add(r.tag);
    const byMethod = paths[r.path] ?? {};
    byMethod[r.method.toLowerCase()] = operation(r);
    paths[r.path] = byMethod;
  }
  const webhooks: Record<string, JsonValue> = {};
  for (const [type, schema] of Object.entries(WebhookEvents)) {
    webhooks[type] = {
      post: {
        operationId: `push.${type}`,
        summary: `Push: ${type}`,
        description: PUSH_DESCRIPTION,
        tags: ['webhooks'],
        parameters: PUSH_HEADERS.map(({ name, description, example }) => ({
          name,
          in: 'header',
          required: true,
          description,
          schema: { type: 'string', minLength: 1 },
          example: name === 'push-event-type' ? type : example,
        })),
        security: [{ pushSignature: [] }],
        requestBody: { required: true, content: { 'application/json': { schema: plain(schema) } } },
        responses: {
          '2XX': {
            description: `Accepted. Any other status, or no answer, is a failed attempt: retried ${retryText()}.`,
          },
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Campus card platform API',
      version: '1.0.0',
      description:
        'Identity, cards, payments, attendance for the campus cloud card. Money is integer fen; times are RFC 3339 UTC; errors are RFC 9457 problem+json with code, retryable, request_id.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    servers: (options.servers ?? []).map((url) => ({ url })),
    tags: TAGS.filter((t) => used.has(t.name)).map((t) => ({ ...t })),
    paths,
    webhooks,
    components: {
      securitySchemes: {
        httpMessageSignature: {
          type: 'apiKey',
          in: 'header',
          name: 'Signature',
          description:
            'RFC 9421 HTTP Message Signatures with `Signature-Input` covering ("@method" "@path"), plus "@query" when the request has a query and "content-digest" when it has a body, and parameters created, nonce, keyid (the device or merchant id); ES256 or Ed25519; ±300 s; nonces single use. Bodies carry RFC 9530 Content-Digest (sha-256).',
        },
        pushSignature: {
          type: 'apiKey',
          in: 'header',
          name: 'Signature',
          description: PUSH_SIGNATURE_DESCRIPTION,
        },
      },
      schemas: { Problem: plain(Problem) },
      headers: Object.fromEntries(
        Object.entries(HEADERS).map(([name, h]) => [name, { description: h.description, schema: h.schema }]),
      ),
      responses: {
        // Documented once here, and on no operation: the not-found handler answers it, for a path
        // of the document asked with a method the path does not have (no operation is involved).
        MethodNotAllowed: {
          description:
            'Any path of this document asked with a method it does not have: 405 `ERR_METHOD_NOT_ALLOWED`, with `Allow` listing the methods it takes (a GET path takes HEAD too).',
          headers: { Allow: ref('Allow'), 'X-Request-Id': ref('X-Request-Id') },
          content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
        },
      },
    },
    'x-push-signing': {
      scheme: 'RFC 9421 HTTP Message Signatures',
      label: 'sig1',
      alg: 'ed25519',
      covered_components: [...PUSH_COVERED],
      parameters: ['created', 'keyid', 'alg', 'nonce'],
      content_digest: 'sha-256',
      headers: PUSH_HEADERS.map((h) => h.name),
      tolerance_s: WEBHOOK_TOLERANCE_S,
      keys: {
        operationId: 'getPlatformKeys',
        method: 'GET',
        path: '/v1/platform/keys',
        field: 'webhook_signing',
      },
      retry_schedule_s: [...WEBHOOK_RETRY_SCHEDULE_S],
    },
    'x-push-retry-schedule-s': [...WEBHOOK_RETRY_SCHEDULE_S],
    'x-problem-codes': ERROR_CODES.map((code) => {
      const info = PROBLEM_CODES[code];
      return {
        code,
        status: [...(info?.status ?? [])],
        retryable: info?.retryable ?? false,
        description: info?.description ?? '',
      };
    }),
  };
}
