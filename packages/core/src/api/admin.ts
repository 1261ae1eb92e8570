/**
 * Admin and meta routes of the mock platform: health, the virtual clock, fault injection and
 * the recording. Admin routes are unsigned and answered only when the platform enables them.
 *
 * @module
 */
import { type Static, Type } from '@sinclair/typebox';
import {
  describedId,
  Ok,
  Problem,
  type RouteDef,
  strictObject,
  Timestamp,
  UNSIGNED_ERRORS,
} from './common.js';

/** Health answer. */
export const Health = strictObject({ status: Type.Literal('ok'), time: Timestamp });

/** The virtual clock. */
export const ClockState = strictObject({ now: Timestamp, offset_ms: Type.Integer() });
/** Request body: move the clock. */
export const SetClockBody = strictObject({
  advance_s: Type.Optional(Type.Number({ minimum: -1e9, maximum: 1e9 })),
  set: Type.Optional(Timestamp),
});

/** Fault kinds. */
export const FaultKind = Type.Union([
  Type.Literal('delay'),
  Type.Literal('error_5xx'),
  Type.Literal('rate_limit'),
  Type.Literal('drop_after_commit'),
  Type.Literal('duplicate_push'),
  Type.Literal('reorder_push'),
  Type.Literal('clock_skew'),
]);

/** A fault rule. Scope by device and/or route (operationId or path prefix); none = everything. */
export const FaultRule = strictObject({
  kind: FaultKind,
  device_id: Type.Optional(
    describedId(
      'The principal (device, merchant or operator id) whose requests it hits; for a push fault, the subscription id or the principal that subscribed. An id, so that a rule naming none (an empty string, a space) is refused rather than never fire.',
    ),
  ),
  route: Type.Optional(
    Type.String({
      maxLength: 128,
      description:
        'An operationId (`createPayment`; `push` for pushes), or a path prefix starting with `/`, matched on segment boundaries (`/v1/payments/P1` covers `/v1/payments/P1/reverse`, not `/v1/payments/P10`). A route no call of the rule can reach is refused: a prefix no route of the contract lies under (`/payments`), an admin route, an unsigned route for `clock_skew`.',
    }),
  ),
  probability: Type.Optional(Type.Number({ minimum: 0, maximum: 1, default: 1 })),
  count: Type.Optional(Type.Integer({ minimum: 1, description: 'Fire at most this many times.' })),
  delay_ms: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 60_000,
      description: 'A `delay`: how long the request waits before its handler runs, ms (default 100).',
    }),
  ),
  status: Type.Optional(
    Type.Integer({
      minimum: 500,
      maximum: 599,
      description: 'An `error_5xx`: the status of its retryable `ERR_INJECTED_FAULT` problem (default 503).',
    }),
  ),
  retry_after_s: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 3600,
      description: 'A `rate_limit`: the `Retry-After` of its 429 `ERR_RATE_LIMITED`, seconds (default 1).',
    }),
  ),
  skew_s: Type.Optional(Type.Integer({ minimum: -86_400, maximum: 86_400 })),
});
/** A fault rule. */
export type FaultRule = Static<typeof FaultRule>;

/** Request body: install faults. */
export const SetFaultsBody = strictObject({
  seed: Type.Optional(Type.Integer()),
  rules: Type.Array(FaultRule, { maxItems: 64 }),
});
/** Set-faults body. */
export type SetFaultsBody = Static<typeof SetFaultsBody>;

/** Request body: rotate a school's issuer key. */
export const RotateIssuerBody = strictObject({ school_id: Type.String({ minLength: 1, maxLength: 64 }) });
/** Rotate-issuer body. */
export type RotateIssuerBody = Static<typeof RotateIssuerBody>;

/** What an issuer key rotation did. */
export const IssuerRotation = strictObject({
  school_id: Type.String(),
  trust_list_version: Type.Integer({
    description: 'The new trust list version; it lists the new issuer key only.',
  }),
  issuer_kid: Type.String({ description: 'The new issuer key id, base64url.' }),
  retired_kid: Type.String({ description: 'The retired issuer key id, base64url.' }),
  reissued: Type.Integer({
    minimum: 0,
    description: 'Cards whose credential was re-issued under the new key.',
  }),
});
/** An issuer key rotation. */
export type IssuerRotation = Static<typeof IssuerRotation>;

const adminErrors = { 400: Problem, 404: Problem } as const;
/** A body the admin route cannot take (any route but a GET parses one): too large (413) or not JSON (415). */
const adminBodyErrors = { ...adminErrors, 413: Problem, 415: Problem } as const;

/** Meta and admin routes. */
export const adminRoutes = [
  {
    method: 'GET',
    path: '/health',
    operationId: 'health',
    summary: 'Liveness',
    tag: 'meta',
    auth: 'none',
    responses: { 200: Health, ...UNSIGNED_ERRORS },
  },
  {
    method: 'GET',
    path: '/admin/clock',
    operationId: 'getClock',
    summary: 'Read the virtual clock',
    tag: 'admin',
    auth: 'admin',
    responses: { 200: ClockState, ...adminErrors },
  },
  {
    method: 'POST',
    path: '/admin/clock',
    operationId: 'setClock',
    summary: 'Advance or set the virtual clock',
    tag: 'admin',
    auth: 'admin',
    body: SetClockBody,
    responses: { 200: ClockState, ...adminBodyErrors },
  },
  {
    method: 'POST',
    path: '/admin/faults',
    operationId: 'setFaults',
    summary: 'Replace the fault-injection rules (seeded)',
    tag: 'admin',
    auth: 'admin',
    body: SetFaultsBody,
    responses: { 200: Ok, ...adminBodyErrors },
  },
  {
    method: 'DELETE',
    path: '/admin/faults',
    operationId: 'clearFaults',
    summary: 'Remove every fault rule',
    tag: 'admin',
    auth: 'admin',
    responses: { 200: Ok, ...adminBodyErrors },
  },
  {
    method: 'POST',
    path: '/admin/rotate-issuer',
    operationId: 'rotateIssuer',
    summary:
      "Rotate a school's issuer key: a new trust list version with the new key only, every live card re-issued, status list and roster re-signed",
    tag: 'admin',
    auth: 'admin',
    body: RotateIssuerBody,
    responses: { 200: IssuerRotation, ...adminBodyErrors },
  },
  {
    method: 'GET',
    path: '/admin/recording',
    operationId: 'getRecording',
    summary: 'The recorded requests and pushes (JSON lines)',
    tag: 'admin',
    auth: 'admin',
    responses: { 200: Type.String({ contentMediaType: 'application/x-ndjson' }), ...adminErrors },
  },
] as const satisfies readonly RouteDef[];
