/**
 * The platform state and the handler contract shared by every domain module.
 *
 * @module
 */
import type { OperationId, RouteDef, RouteOf } from '@campus-card/core/api';
import type { Static, TSchema } from '@sinclair/typebox';
import type { VirtualClock } from './lib/clock.js';
import type { Db } from './lib/db.js';
import type { FaultInjector } from './lib/faults.js';
import type { GroupCommit } from './lib/group-commit.js';
import type { RandomTokens } from './lib/random-token.js';
import type { Recorder } from './lib/recorder.js';
import type { Rng } from './lib/rng.js';

/** Limits and tunables of the mock platform. */
export interface PlatformSettings {
  /** Payments above this amount (fen) stay `processing` until the holder "confirms". Default 50 000. */
  readonly confirmThreshold: number;
  /** Seconds after which a processing payment is confirmed. Default 5. */
  readonly confirmDelayS: number;
  /** Signature clock tolerance, seconds. Default 300. */
  readonly signatureToleranceS: number;
  /** How long idempotency outcomes are kept, seconds. Default 86 400. */
  readonly idempotencyTtlS: number;
  /** Presentation window: max age and max future, seconds. Defaults 90 and 30. */
  readonly codeMaxAgeS: number;
  readonly codeMaxFutureS: number;
  /**
   * Seconds after its `iat` past which a stored status list is signed again, at a new version, when
   * it is next fetched, although no card changed: readers deny every card once the list they hold is
   * older than their limit (`maxStaleness` of `@campus-card/verifier`). Default 43 200 (12 h),
   * half of the verifier's default limit of 1 day, so a reader that syncs more often never holds
   * an expired list. Keep it below the limit of your readers.
   */
  readonly statusListResignAfterS: number;
  /** The same for the roster. Default 302 400 (3.5 days), half of the verifier's 7 days. */
  readonly rosterResignAfterS: number;
  /** The same for the trust list. Default 1 296 000 (15 days), half of the verifier's 30 days. */
  readonly trustListResignAfterS: number;
  /**
   * Seconds an offline sale may wait for its upload: one captured longer ago is refused
   * `ERR_CAPTURED_AT`, with an incident. Each day has its own device cap, so without a bound a
   * POS key (a card tap carries no time of its own) could spread backdated taps over every day
   * since the POS was registered. Default 604 800 (7 days).
   */
  readonly offlineMaxAgeS: number;
  /**
   * The UTC offset of the business day, `±HH:MM` from `-14:00` to `+14:00` (a fixed offset, no
   * daylight saving). Default `+08:00`, China Standard Time: a canteen's day runs from 00:00 to
   * 24:00 Beijing time. The per-device offline cap counts by the business day of `captured_at`,
   * a merchant's statement `GET /v1/statements/{date}` covers the business day `date` (served once
   * its local midnight has passed), and the device resource publishes it
   * (`offline_day_utc_offset`). Anything else refuses the platform's start with a RangeError.
   */
  readonly dayUtcOffset: string;
}

/** The mutable state of one platform instance. */
export interface PlatformState {
  readonly db: Db;
  readonly clock: VirtualClock;
  readonly rng: Rng;
  /** Random ids (orders, events, pushes): a pooled source. */
  readonly ids: RandomTokens;
  readonly recorder: Recorder;
  readonly faults: FaultInjector;
  readonly settings: PlatformSettings;
  /** Whether `/admin` routes answer. */
  adminEnabled: boolean;
  /**
   * Runs `fn` in one SQLite transaction (a savepoint when a group-commit batch, or another
   * transaction, is open: it then commits with that batch).
   */
  tx<T>(fn: () => T): T;
  /**
   * Group commit of the request path: requests' writes share one transaction, committed at the
   * end of the event-loop turn; `groupCommit.settled()` resolves once every write made so far is
   * committed. Wait for it before telling anyone outside (a response, a push) about a write.
   */
  readonly groupCommit: GroupCommit;
  /** Wakes the push dispatcher. */
  kickPushes(): void;
  /** Hooks run after each commit (e.g. push enqueueing). */
  readonly afterCommit: (() => void)[];
}

/** The authenticated caller of a signed route. */
export interface Principal {
  readonly id: string;
  readonly kind: 'device' | 'merchant' | 'operator';
  readonly schoolId: string | null;
  /** For devices: their merchant (POS). For merchants: themselves. */
  readonly merchantId: string | null;
  /** For devices. */
  readonly zone: string | null;
  readonly deviceType: string | null;
}

/** What a handler answers. */
export interface HandlerResult {
  readonly status: number;
  readonly body?: unknown;
  /** Binary body (application/cbor). */
  readonly binary?: Uint8Array;
  readonly headers?: Readonly<Record<string, string>>;
}

/** The static type of one part (params, query, body) of a route, from its schema. */
export type Part<R, K extends string> = R extends { readonly [P in K]: infer S extends TSchema }
  ? Static<S>
  : undefined;

/** What a handler receives. */
export interface HandlerContext<R extends RouteDef = RouteDef> {
  readonly state: PlatformState;
  readonly route: R;
  readonly params: Part<R, 'params'>;
  readonly query: Part<R, 'query'>;
  readonly body: Part<R, 'body'>;
  readonly principal: Principal | undefined;
  readonly requestId: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** What the handler's {@link Prefetch} started for this request, if anything. */
  readonly prefetched?: unknown;
  /**
   * Runs `fn` in one transaction that also stores the idempotency outcome, so the outcome
   * and the state change commit together. Use it for every state change of a POST.
   */
  commit(fn: () => HandlerResult): HandlerResult;
}

/** A route handler. */
export type Handler<R extends RouteDef = RouteDef> = (
  ctx: HandlerContext<R>,
) => HandlerResult | Promise<HandlerResult>;

/**
 * Work a handler may start before the request's signature is checked, so both go to the
 * verify worker in the same batch (one round trip instead of two). It must not change state,
 * and must return undefined when it cannot promise that. The app attaches a catch and passes
 * the result as `ctx.prefetched` only when the signature names the principal given here.
 */
export type Prefetch = (state: PlatformState, principal: Principal, body: unknown) => unknown;

/** Handlers by operation id. */
export type Handlers = { readonly [K in OperationId]?: Handler<RouteOf<K>> };

/** The principal of a signed request, or a 401 (for handlers of signed routes). */
export function requirePrincipal(ctx: HandlerContext<RouteDef>): Principal {
  if (ctx.principal === undefined) throw new Error('signed route without principal');
  return ctx.principal;
}
