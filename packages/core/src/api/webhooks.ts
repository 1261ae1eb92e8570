/**
 * Pushes from the platform (webhooks): subscriptions, event payloads and the signing scheme.
 *
 * A push is a `POST` of the JSON event to the subscribed URL, signed like requests with RFC 9421
 * HTTP Message Signatures by the platform's Ed25519 key. Its headers: `push-id` (the event id,
 * the same on every retry), `push-event-type`, `content-digest` (RFC 9530, sha-256),
 * `signature-input` and `signature`. The signature (label `sig1`) covers `@method`,
 * `@authority` (the subscribed URL's host and port: a push is good for its own receiver only, not
 * replayed to another at the same path), `@path`, `@query`, `content-digest` and `push-id`, with
 * the parameters `created`, `keyid`, `alg="ed25519"` and `nonce`. Receivers verify it with the key
 * whose `kid` equals `keyid`, published at `GET /v1/platform/keys`, against their own authority,
 * and accept `created` within {@link WEBHOOK_TOLERANCE_S}; `verifyPush` of
 * `@campus-card/core/http` does all of this. A push that is
 * not answered 2xx is retried on {@link WEBHOOK_RETRY_SCHEDULE_S}.
 *
 * @module
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { StoredEvent } from './attendance.js';
import { Card } from './cards.js';
import {
  Id,
  POST_ERRORS,
  PublicJwk,
  type RouteDef,
  strictObject,
  Timestamp,
  UNSIGNED_ERRORS,
} from './common.js';
import { Order, Refund } from './payments.js';

/**
 * Seconds after a push was queued (its first attempt) at which it is tried again while no attempt
 * has been answered 2xx; after the last one it is abandoned. An attempt made late (the subscriber
 * was slow to answer, the platform was busy or down) pushes the next one back: each retry also
 * waits at least the gap between its offset and the one before (5, 25, 90, 480, 3000 s) after
 * the attempt before it ended, so retries never go back to back.
 */
export const WEBHOOK_RETRY_SCHEDULE_S: readonly number[] = [5, 30, 120, 600, 3600];
/** Tolerance, in seconds, a receiver should allow on the `created` parameter of a push signature. */
export const WEBHOOK_TOLERANCE_S = 300;

/**
 * Push event types.
 *
 * - `payment.*`: an order of a payment (or a fee) reached that state; pushed to the payer, their
 *   parents and class teachers, and to the order's merchant, if any.
 * - `wallet.topped_up`: a top-up credited a wallet (`POST /v1/wallets/{person_id}/top-ups`, the
 *   first time only: a replay pushes nothing); its data is the top-up's `Order`. Pushed as a
 *   `payment.succeeded` is: to the wallet's person, their parents and class teachers, and, for a
 *   top-up made by a merchant (`merchant_id` set), to that merchant. Added after the other types
 *   (API change: the list, {@link WebhookEvents} and the subscribable types grew by one): the list
 *   can grow, so a receiver should answer 2xx to, and ignore, a type it does not know.
 * - `attendance.recorded`, `card.status_changed`: pushed to the person, their parents and class
 *   teachers only.
 */
export const WEBHOOK_EVENT_TYPES = [
  'payment.succeeded',
  'payment.failed',
  'payment.reversed',
  'payment.closed',
  'payment.refunded',
  'wallet.topped_up',
  'attendance.recorded',
  'card.status_changed',
] as const;
/** A push event type. */
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

function envelope<K extends WebhookEventType, T extends TSchema>(type: K, data: T) {
  return strictObject(
    { id: Id, type: Type.Literal(type), created_at: Timestamp, data },
    { description: `Push: ${type}` },
  );
}

/** The payload of each push event type. */
export const WebhookEvents = {
  'payment.succeeded': envelope('payment.succeeded', Order),
  'payment.failed': envelope('payment.failed', Order),
  'payment.reversed': envelope('payment.reversed', Order),
  'payment.closed': envelope('payment.closed', Order),
  'payment.refunded': envelope('payment.refunded', strictObject({ order: Order, refund: Refund })),
  'wallet.topped_up': envelope('wallet.topped_up', Order),
  'attendance.recorded': envelope('attendance.recorded', StoredEvent),
  'card.status_changed': envelope('card.status_changed', Card),
} as const;

/** Any push payload. */
export const WebhookEvent = Type.Union(Object.values(WebhookEvents));
/** Any push payload. */
export type WebhookEvent = Static<typeof WebhookEvent>;

/** Request body: subscribe an endpoint to pushes. */
export const CreateSubscriptionBody = strictObject({
  url: Type.String({ minLength: 8, maxLength: 2048, pattern: '^https?://' }),
  event_types: Type.Array(Type.Union(WEBHOOK_EVENT_TYPES.map((t) => Type.Literal(t))), {
    minItems: 1,
    maxItems: WEBHOOK_EVENT_TYPES.length,
  }),
  recipient_person_id: Type.Optional(Id),
  merchant_id: Type.Optional(Id),
});
/** Create-subscription body. */
export type CreateSubscriptionBody = Static<typeof CreateSubscriptionBody>;

/**
 * A subscription. A person's pushes (payments, top-ups of their wallet, attendance, card status) go
 * also to subscriptions of the person's parents and class teachers.
 */
export const Subscription = strictObject({
  subscription_id: Id,
  url: Type.String(),
  event_types: Type.Array(Type.String()),
  recipient_person_id: Type.Union([Id, Type.Null()]),
  merchant_id: Type.Union([Id, Type.Null()]),
  created_at: Timestamp,
});
/** A subscription. */
export type Subscription = Static<typeof Subscription>;

/** The platform's push-signing keys. */
export const PlatformKeys = strictObject({
  webhook_signing: Type.Array(PublicJwk, {
    description:
      'Ed25519 keys that sign pushes, the current one first, then any previous one still in its overlap after a rotation; verify with the one whose `kid` equals the `keyid`, and fetch this list again when a push names a `keyid` you do not hold.',
  }),
  retry_schedule_s: Type.Array(Type.Integer(), {
    description:
      'Seconds after a push was queued at which an unaccepted push is tried again; after the last one it is abandoned. A late attempt pushes the next one back: each retry also waits at least the gap between its offset and the one before after the previous attempt ended.',
  }),
  tolerance_s: Type.Integer({ description: 'Allowed skew, in seconds, of the signature `created`.' }),
});
/** The platform's push-signing keys. */
export type PlatformKeys = Static<typeof PlatformKeys>;

/** Default `overlap_s` of {@link RotatePlatformKeyBody}, in seconds: the push signature tolerance. */
export const PLATFORM_KEY_OVERLAP_S = WEBHOOK_TOLERANCE_S;

/** Request body: rotate the push-signing key. */
export const RotatePlatformKeyBody = strictObject({
  overlap_s: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 604_800,
      description: `Seconds the previous key stays published beside the new one, for pushes it signed that are still on their way and receivers that cached it. Default ${PLATFORM_KEY_OVERLAP_S} (the signature tolerance: every push is signed again at each attempt, with the current key). 0 retires it at once: a push it signs after that (a leaked key) is refused by a receiver that fetches the keys again.`,
    }),
  ),
});
/** Rotate-key body. */
export type RotatePlatformKeyBody = Static<typeof RotatePlatformKeyBody>;

/** Webhook routes. */
export const webhookRoutes = [
  {
    method: 'POST',
    path: '/v1/webhook-subscriptions',
    operationId: 'createSubscription',
    summary: 'Subscribe an endpoint (a parent, a teacher, a merchant) to pushes',
    description:
      "A merchant subscribes to its own pushes only (`merchant_id` is the merchant, and may be left out): another `merchant_id`, or any `recipient_person_id`, is 403 `ERR_FORBIDDEN`. A person's pushes (`recipient_person_id`: their payments, the top-ups of their wallet, attendance and card status, also as a parent or class teacher) are subscribed by the operator. The subscription answered lists each event type once; one for a merchant only (no `recipient_person_id`) keeps only the `payment.*` types and `wallet.topped_up` (the top-ups the merchant made), the only ones a merchant is pushed, and one left with none is 422 `ERR_VALIDATION` naming each `body/event_types/<i>`. The operator gives `recipient_person_id`, `merchant_id` or both (either matches: both subscribe to that person's pushes and to every payment at that merchant); neither is 400. Subscriptions cannot be listed or deleted here, and subscribing the same URL again makes a second subscription, pushed separately (each push under its own `push-id`).",
    tag: 'webhooks',
    auth: ['operator', 'merchant'],
    body: CreateSubscriptionBody,
    responses: { 201: Subscription, ...POST_ERRORS },
    capabilities: ['I2', 'I3'],
  },
  {
    method: 'GET',
    path: '/v1/platform/keys',
    operationId: 'getPlatformKeys',
    summary: 'Public keys that sign pushes, and the retry schedule',
    tag: 'webhooks',
    auth: 'none',
    responses: { 200: PlatformKeys, ...UNSIGNED_ERRORS },
  },
  {
    method: 'POST',
    path: '/v1/platform/keys/rotate',
    operationId: 'rotatePlatformKey',
    summary: 'Rotate the push-signing key',
    description:
      'Makes a new Ed25519 push-signing key: every push attempt from now on is signed with it. The previous key stays published at `GET /v1/platform/keys` for `overlap_s`, then is dropped; a key retired earlier is not brought back. Answers the keys as published after the rotation.',
    tag: 'webhooks',
    auth: ['operator'],
    body: RotatePlatformKeyBody,
    responses: { 201: PlatformKeys, ...POST_ERRORS },
  },
] as const satisfies readonly RouteDef[];
