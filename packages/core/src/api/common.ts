/**
 * Shared building blocks of the HTTP API contract: problems (RFC 9457), money in integer fen,
 * RFC 3339 UTC times, identifiers, pagination and the route-table types.
 *
 * @module
 */
import { type Static, type TObject, type TProperties, type TSchema, Type } from '@sinclair/typebox';
import { CAMPUS_CARD_ERROR_CODES, type CampusCardErrorCode } from '../errors.js';

/**
 * A JSON object schema that rejects unknown fields (`additionalProperties: false`).
 *
 * @example
 * ```ts
 * const Point = strictObject({ x: Type.Integer(), y: Type.Integer() });
 * ```
 */
export function strictObject<T extends TProperties>(
  properties: T,
  options: { description?: string; $id?: string } = {},
): TObject<T> {
  return Type.Object(properties, { ...options, additionalProperties: false });
}

/** Maximum amount of one operation, in fen: 10 000 000 CNY. */
export const MAX_AMOUNT_FEN = 1_000_000_000;

/** An amount of money in integer fen (1 CNY = 100 fen), never negative. */
export const Money = Type.Integer({
  minimum: 0,
  maximum: MAX_AMOUNT_FEN,
  description: 'Integer fen (CNY cents).',
});
/** A strictly positive amount in fen. */
export const PositiveMoney = Type.Integer({
  minimum: 1,
  maximum: MAX_AMOUNT_FEN,
  description: 'Integer fen, > 0.',
});
/**
 * A total in integer fen over many operations (a day's credits, a period's spending), never
 * negative. A sum is not bounded by the per-operation {@link MAX_AMOUNT_FEN}: two maximal top-ups
 * already pass it.
 */
export const MoneyTotal = Type.Integer({
  minimum: 0,
  description: 'Integer fen, a sum over many operations (no per-operation maximum).',
});
/** A signed balance in fen (may be negative after offline payments). */
export const Balance = Type.Integer({
  description: 'Integer fen; negative only after capped offline payments.',
});

const TIMESTAMP_PATTERN_SOURCE =
  '^\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])T([01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(\\.\\d{1,9})?Z$';
const TIMESTAMP_PATTERN = new RegExp(TIMESTAMP_PATTERN_SOURCE);

/**
 * RFC 3339 time in UTC, with a `Z` offset, e.g. `2026-01-01T08:00:00Z` (fractional seconds allowed).
 * The pattern bounds every field (month 01–12, day 01–31, hour 00–23, minute and second 00–59; leap
 * seconds are not accepted); the platform also refuses a day its month does not have (`02-30`).
 */
export const Timestamp = Type.String({
  pattern: TIMESTAMP_PATTERN_SOURCE,
  description:
    'RFC 3339 time in UTC (Z): a real calendar date, hours 00-23, minutes and seconds 00-59 (no leap second).',
  examples: ['2026-01-01T08:00:00Z'],
});

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/**
 * Whether `text` is a {@link Timestamp} that names a real instant: it matches the pattern, and its
 * day exists in its month (`2026-02-30` and `2025-02-29` do not; `2028-02-29` does). A JSON Schema
 * pattern cannot say that, so {@link compileValidator} checks every `Timestamp` with this too.
 */
export function isValidTimestamp(text: string): boolean {
  if (typeof text !== 'string' || !TIMESTAMP_PATTERN.test(text)) return false;
  const year = Number(text.slice(0, 4));
  const month = Number(text.slice(5, 7));
  const day = Number(text.slice(8, 10));
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] as number));
}

/**
 * 1 or more of `[A-Za-z0-9_.:-]`, but not `.` or `..`: ids and keys go into URL paths
 * (`/v1/payments/{out_trade_no}`), where URL parsers remove such dot segments
 * (RFC 3986 §5.2.4), so a resource named so could never be addressed. Written without
 * look-ahead, which not every JSON Schema regex engine has: some character that is not a dot,
 * or three dots or more.
 */
const KEY_PATTERN = '^([A-Za-z0-9_.:-]*[A-Za-z0-9_:-][A-Za-z0-9_.:-]*|[.]{3,})$';

/** An opaque identifier: 1 to 64 characters of `[A-Za-z0-9_.:-]`, not `.` or `..`. */
export const Id = Type.String({ minLength: 1, maxLength: 64, pattern: KEY_PATTERN });
/** An {@link Id} with a description of its own (what the field is, its rules). */
export const describedId = (description: string) =>
  Type.String({ minLength: 1, maxLength: 64, pattern: KEY_PATTERN, description });

/**
 * A merchant's or device's business key: an order or refund number (1 to 64 characters of
 * `[A-Za-z0-9_.:-]`, not `.` or `..`).
 */
export const BusinessKey = Type.String({ minLength: 1, maxLength: 64, pattern: KEY_PATTERN });

/**
 * The description of a route that scopes reads to the caller's school: a device or merchant sees
 * only its own school, and another school's resources answer as unknown ids do.
 */
export const OWN_SCHOOL_ONLY =
  'A device or merchant sees only its own school and what belongs to it: anything of another school answers 404 `ERR_NOT_FOUND`, as an unknown id does. The operator sees every school.';

/** A scanned QR text, `CC1:` followed by Base45 (token format §8). */
export const QrText = Type.String({ minLength: 4, maxLength: 1024, pattern: '^CC1:[0-9A-Z $%*+\\-./:]*$' });

/** Raw UID bytes of a physical card as hex (4 to 10 bytes for ISO 14443). */
export const PhysicalUidHex = Type.String({ minLength: 8, maxLength: 32, pattern: '^([0-9a-fA-F]{2})+$' });

/** A public key as JWK (RFC 7517): EC P-256 or OKP Ed25519. */
export const PublicJwk = strictObject(
  {
    kty: Type.Union([Type.Literal('EC'), Type.Literal('OKP')]),
    crv: Type.Union([Type.Literal('P-256'), Type.Literal('Ed25519')]),
    x: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
    y: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })),
    alg: Type.Optional(Type.Union([Type.Literal('ES256'), Type.Literal('EdDSA')])),
    kid: Type.Optional(Type.String({ maxLength: 128 })),
    use: Type.Optional(Type.String({ maxLength: 16 })),
  },
  { description: 'Public key as JWK: EC P-256 (ES256) or OKP Ed25519 (EdDSA).' },
);
/** A public JWK. */
export type PublicJwk = Static<typeof PublicJwk>;

/** The three card kinds (C1). */
export const Role = Type.Union([Type.Literal('teacher'), Type.Literal('student'), Type.Literal('parent')]);
/** A card role. */
export type Role = Static<typeof Role>;

/** What the holder is about to do (token format §5 `scene`). */
export const Scene = Type.Union([
  Type.Literal('other'),
  Type.Literal('access'),
  Type.Literal('payment'),
  Type.Literal('checkin'),
  Type.Literal('library'),
  Type.Literal('dorm'),
]);
/** A scene name. */
export type Scene = Static<typeof Scene>;

/**
 * An RFC 9457 problem document, as every error of the API is answered
 * (`Content-Type: application/problem+json`).
 */
export const Problem = Type.Object(
  {
    type: Type.String({ description: 'URI naming the problem type.' }),
    title: Type.String(),
    status: Type.Integer({ minimum: 400, maximum: 599 }),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    code: Type.String({ description: 'Stable machine-readable error code, e.g. ERR_INSUFFICIENT_FUNDS.' }),
    retryable: Type.Boolean({ description: 'Whether the same request may succeed if sent again later.' }),
    request_id: Type.String(),
    errors: Type.Optional(
      Type.Array(strictObject({ path: Type.String(), message: Type.String() }), {
        description: 'Validation failures, one per field.',
      }),
    ),
  },
  { description: 'RFC 9457 problem details.' },
);
/** An RFC 9457 problem body. */
export type Problem = Static<typeof Problem>;

/**
 * Token-format codes (`@campus-card/core`, token format §9) that verifying a scanned code cannot
 * produce: `ERR_INPUT_TYPE` (a `qr_text` is a JSON string by schema), `ERR_ROLLBACK` (loading
 * trust material, not verifying a code) and `ERR_UNKNOWN_CARD` (compact roster mode, which the
 * platform does not use; the platform's own `ERR_UNKNOWN_CARD` has the same name and status).
 */
const NOT_FROM_CODE_VERIFICATION: readonly CampusCardErrorCode[] = [
  'ERR_INPUT_TYPE',
  'ERR_ROLLBACK',
  'ERR_UNKNOWN_CARD',
];

/** A token-format code a 422 of a scanned code can carry: see {@link TOKEN_FORMAT_PROBLEM_CODES}. */
export type TokenFormatProblemCode = Exclude<
  CampusCardErrorCode,
  'ERR_INPUT_TYPE' | 'ERR_ROLLBACK' | 'ERR_UNKNOWN_CARD'
>;

/**
 * The token format's own verification codes that the platform answers unchanged, with 422, when a
 * scanned code (`qr_text` of a resolve, a payment, an event batch) does not verify: derived from
 * {@link CAMPUS_CARD_ERROR_CODES}, less the codes verification cannot produce.
 */
export const TOKEN_FORMAT_PROBLEM_CODES = CAMPUS_CARD_ERROR_CODES.filter(
  (c) => !NOT_FROM_CODE_VERIFICATION.includes(c),
) as readonly TokenFormatProblemCode[];

/** Every stable error code the platform answers with, the token format's own codes last. */
export const ERROR_CODES = [
  'ERR_MALFORMED_JSON',
  'ERR_MALFORMED_HTTP',
  'ERR_VALIDATION',
  'ERR_BODY_TOO_LARGE',
  'ERR_UNSUPPORTED_MEDIA_TYPE',
  'ERR_NOT_FOUND',
  'ERR_METHOD_NOT_ALLOWED',
  'ERR_SIG_MISSING',
  'ERR_SIG_MALFORMED',
  'ERR_SIG_UNKNOWN_KEY',
  'ERR_SIG_ALG_MISMATCH',
  'ERR_SIG_COMPONENT_MISSING',
  'ERR_SIG_EXPIRED',
  'ERR_SIG_NONCE_REPLAYED',
  'ERR_SIG_INVALID',
  'ERR_DIGEST_MISMATCH',
  'ERR_FORBIDDEN',
  'ERR_IDEMPOTENCY_KEY_MISSING',
  'ERR_IDEMPOTENCY_KEY_REUSED',
  'ERR_IDEMPOTENCY_IN_PROGRESS',
  'ERR_CONFLICT',
  'ERR_CARD_EXISTS',
  'ERR_CARD_NOT_ACTIVE',
  'ERR_CODE_INVALID',
  'ERR_CODE_ALREADY_USED',
  'ERR_UNKNOWN_CARD',
  'ERR_INSUFFICIENT_FUNDS',
  'ERR_ORDER_STATE',
  'ERR_OUT_TRADE_NO_CONFLICT',
  'ERR_REFUND_EXCEEDS',
  'ERR_OFFLINE_CAP',
  'ERR_OCCURRED_AT',
  'ERR_PERMISSION_DENIED',
  'ERR_RATE_LIMITED',
  'ERR_INJECTED_FAULT',
  'ERR_ADMIN_DISABLED',
  'ERR_INTERNAL',
  ...TOKEN_FORMAT_PROBLEM_CODES,
] as const;
/** A stable error code. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Cursor pagination query parameters. */
export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  cursor: Type.Optional(
    Type.String({
      maxLength: 128,
      description:
        "Opaque: the previous page's `next_cursor`. It marks the last item seen, so items added while you page neither repeat nor shift a page. A cursor the platform did not give gets 400 `ERR_VALIDATION`.",
    }),
  ),
};

/**
 * Time-range query parameters of a list: `from` (inclusive) and `to` (exclusive), RFC 3339 UTC; a
 * `to` before `from` is a 400 `ERR_VALIDATION` naming `querystring/to`. Defined after {@link Timestamp}; spread into a query object next to {@link PageQuery}.
 */
export const TimeRangeQuery = {
  from: Type.Optional(Timestamp),
  to: Type.Optional(Timestamp),
};

/** A page of results: `data` plus the cursor of the next page, or null at the end. */
export function Page<T extends TSchema>(item: T, description?: string) {
  return strictObject(
    { data: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()]) },
    description === undefined ? {} : { description },
  );
}

/** Who may call a route. */
export type RouteAuth =
  /** No signature (health, the OpenAPI document). */
  | 'none'
  /** `/admin/...`: unsigned, answered only when the platform enables admin routes. */
  | 'admin'
  /** RFC 9421 signature by one of the listed principal kinds. */
  | readonly PrincipalKind[];

/** Kinds of principals that hold a key pair and sign requests. */
export type PrincipalKind = 'device' | 'merchant' | 'operator';

/** One HTTP route of the API: the single definition the server, the clients and the docs use. */
export interface RouteDef {
  /** HTTP method. */
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** OpenAPI path template, e.g. `/v1/payments/{out_trade_no}`. */
  readonly path: string;
  /** Unique operation id, e.g. `createPayment`. */
  readonly operationId: string;
  /** One-line summary. */
  readonly summary: string;
  /** Longer description (Markdown). */
  readonly description?: string;
  /** Domain tag: directory, cards, identity, payments, attendance, webhooks, ledger, incidents, admin, meta. */
  readonly tag: string;
  /** Who may call it. */
  readonly auth: RouteAuth;
  /** Path parameters. */
  readonly params?: TObject;
  /** Query parameters. */
  readonly query?: TObject;
  /** JSON request body. */
  readonly body?: TSchema;
  /** Responses by status. A response whose schema is {@link BinaryBody} is `application/cbor` bytes. */
  readonly responses: Readonly<Record<number, TSchema>>;
  /** Whether the response carries an ETag and honours If-None-Match (304). */
  readonly etag?: boolean;
  /** Capability ids the route covers (CAPABILITIES.md). */
  readonly capabilities?: readonly string[];
}

/** A binary (`application/cbor`) response body: signed trust material. */
export const BinaryBody = Type.Unsafe<Uint8Array>({
  type: 'string',
  contentMediaType: 'application/cbor',
  description: 'COSE_Sign1 bytes (token format §3, §6).',
  'x-binary': true,
});

/** Standard error responses every signed route may answer. */
export const SIGNED_ERRORS = {
  400: Problem,
  401: Problem,
  403: Problem,
  404: Problem,
  413: Problem,
  415: Problem,
  429: Problem,
} as const;
/** Error responses of an unsigned route: an unknown query parameter (400), an injected rate limit (429). */
export const UNSIGNED_ERRORS = { 400: Problem, 429: Problem } as const;
/** Extra error responses for POST routes (idempotency). */
export const POST_ERRORS = { ...SIGNED_ERRORS, 409: Problem, 422: Problem } as const;

/** An empty-object acknowledgement. */
export const Ok = strictObject({ ok: Type.Literal(true) });
