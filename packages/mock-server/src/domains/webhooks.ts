/**
 * Pushes: subscriptions, the outbox of signed push deliveries (RFC 9421 via core/http
 * `signPush`, Ed25519 platform key), retries on the published schedule, fault injection
 * (duplicate and out-of-order deliveries) and recording.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportJwk, generateKeyPair } from '@campus-card/core';
import {
  type PublicJwk,
  WEBHOOK_RETRY_SCHEDULE_S,
  WEBHOOK_TOLERANCE_S,
  type WebhookEventType,
} from '@campus-card/core/api';
import { importSigningKey, type SigningKey, signPush } from '@campus-card/core/http';
import type { Handlers, PlatformState } from '../context.js';
import { iso } from '../lib/clock.js';
import { ApiError, notFound } from '../lib/problem.js';

interface PlatformKey {
  kid: string;
  signing: SigningKey;
  publicJwk: PublicJwk;
}
const platformKeys = new WeakMap<PlatformState, PlatformKey>();

/** The platform's push-signing key (Ed25519), created on first use and persisted. */
export function platformKey(state: PlatformState): PlatformKey {
  const hit = platformKeys.get(state);
  if (hit !== undefined) return hit;
  let row = state.db.prepare('SELECT kid, jwk FROM platform_keys ORDER BY created_at LIMIT 1').get() as
    | { kid: string; jwk: string }
    | undefined;
  if (row === undefined) {
    const { privateKey } = generateKeyPair('EdDSA');
    const jwk = exportJwk(privateKey, { includePrivate: true });
    row = { kid: `platform-${jwk.kid}`, jwk: JSON.stringify(jwk) };
    state.db
      .prepare('INSERT INTO platform_keys (kid, jwk, created_at) VALUES (?, ?, ?)')
      .run(row.kid, row.jwk, state.clock.now());
  }
  const jwk = JSON.parse(row.jwk) as PublicJwk & { d?: string };
  const { d: _d, ...pub } = jwk;
  const key: PlatformKey = {
    kid: row.kid,
    signing: importSigningKey(jwk),
    publicJwk: { ...pub, kid: row.kid },
  };
  platformKeys.set(state, key);
  return key;
}

function id(state: PlatformState, prefix: string): string {
  return `${prefix}_${state.ids.next(12)}`;
}

/**
 * Who a person-related push goes to: the person, their parents, their class teachers. Only people
 * of the person's own school: `class_teachers` is keyed by class name, and names such as "7-2"
 * repeat from school to school, so a teacher counts only where their school is the pupil's (a
 * parent is linked to the student by id, and is held to the same rule).
 */
function recipientsOf(state: PlatformState, personId: string): string[] {
  const out = new Set<string>([personId]);
  const p = state.db.prepare('SELECT school_id, class_id FROM people WHERE person_id = ?').get(personId) as
    | { school_id: string; class_id: string | null }
    | undefined;
  if (p === undefined) return [...out];
  const parents = state.db
    .prepare(
      'SELECT g.parent_id FROM guardians g JOIN people r ON r.person_id = g.parent_id WHERE g.student_id = ? AND r.school_id = ?',
    )
    .all(personId, p.school_id) as { parent_id: string }[];
  for (const r of parents) out.add(r.parent_id);
  if (p.class_id !== null) {
    const teachers = state.db
      .prepare(
        'SELECT ct.teacher_id FROM class_teachers ct JOIN people t ON t.person_id = ct.teacher_id WHERE ct.class_id = ? AND t.school_id = ?',
      )
      .all(p.class_id, p.school_id) as { teacher_id: string }[];
    for (const r of teachers) out.add(r.teacher_id);
  }
  return [...out];
}

interface SubscriptionRow {
  subscription_id: string;
  url: string;
  event_types: readonly string[];
  recipient_person_id: string | null;
  merchant_id: string | null;
}

/**
 * The subscriptions, read once and kept until one is created (every payment asks; they rarely
 * change). {@link forgetSubscriptions} drops the copy; so does a failed group-commit batch (the
 * copy may hold a subscription it rolled back; see `platform.ts`).
 */
const subscriptionCache = new WeakMap<PlatformState, readonly SubscriptionRow[]>();
function subscriptionsOf(state: PlatformState): readonly SubscriptionRow[] {
  const hit = subscriptionCache.get(state);
  if (hit !== undefined) return hit;
  const rows = (
    state.db
      .prepare(
        'SELECT subscription_id, url, event_types, recipient_person_id, merchant_id FROM subscriptions',
      )
      .all() as (Omit<SubscriptionRow, 'event_types'> & { event_types: string })[]
  ).map((r) => ({ ...r, event_types: JSON.parse(r.event_types) as string[] }));
  subscriptionCache.set(state, rows);
  return rows;
}
/** Drops the cached subscriptions (after a write to the table, committed or rolled back, and after a failed batch). */
export function forgetSubscriptions(state: PlatformState): void {
  subscriptionCache.delete(state);
}

/**
 * Queues a push event for every matching subscription (call inside the committing
 * transaction; the dispatcher is woken after).
 */
export function enqueueEvent(
  state: PlatformState,
  type: WebhookEventType,
  data: unknown,
  target: { personIds?: readonly string[]; merchantId?: string | null },
): number {
  // `data` may be a function that makes it: called only when some subscription wants the event.
  const subs = subscriptionsOf(state);
  if (subs.length === 0) return 0;
  const recipients = new Set<string>();
  for (const pid of target.personIds ?? []) for (const r of recipientsOf(state, pid)) recipients.add(r);
  const now = state.clock.now();
  const ins = state.db.prepare(
    "INSERT INTO pushes (push_id, subscription_id, url, event_type, body, state, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
  );
  let n = 0;
  let body: unknown;
  let has = false;
  const made = () => {
    if (!has) {
      body = typeof data === 'function' ? (data as () => unknown)() : data;
      has = true;
    }
    return body;
  };
  for (const s of subs) {
    if (!s.event_types.includes(type)) continue;
    const forPerson = s.recipient_person_id !== null && recipients.has(s.recipient_person_id);
    const forMerchant =
      s.merchant_id !== null && target.merchantId != null && s.merchant_id === target.merchantId;
    if (!forPerson && !forMerchant) continue;
    const pushId = id(state, 'evt');
    ins.run(
      pushId,
      s.subscription_id,
      s.url,
      type,
      JSON.stringify({ id: pushId, type, created_at: iso(now), data: made() }),
      now,
      now,
    );
    n++;
  }
  if (n > 0) setImmediate(() => state.kickPushes());
  return n;
}

/**
 * Longest a `reorder_push` fault holds a push back when no later push overtakes it: 2 000 ms of
 * platform time.
 */
export const REORDER_HOLD_MS = 2000;

/** The push dispatcher. */
export interface PushDispatcher {
  /** Delivers every due push once; resolves when done. */
  pump(): Promise<number>;
  /** Stops the background loop and waits for the current pump. */
  stop(): Promise<void>;
}

/** Starts the dispatcher loop (every `intervalMs`, default 200, and when kicked). */
export function createPushDispatcher(state: PlatformState, intervalMs = 200): PushDispatcher {
  let running: Promise<number> | undefined;
  let stopped = false;
  /** Pushes a `reorder_push` rule holds back, by push id (see {@link REORDER_HOLD_MS}). */
  const held = new Map<string, { since: number; createdAt: number; overtaken: boolean }>();
  const due = state.db.prepare(
    "SELECT p.*, s.owner AS owner FROM pushes p LEFT JOIN subscriptions s ON s.subscription_id = p.subscription_id WHERE p.state = 'pending' AND p.next_attempt_at <= ? ORDER BY p.created_at LIMIT 100",
  );
  const done = state.db.prepare(
    "UPDATE pushes SET state = 'delivered', attempts = attempts + 1, last_status = ? WHERE push_id = ?",
  );
  const retry = state.db.prepare(
    'UPDATE pushes SET state = ?, attempts = ?, next_attempt_at = ?, last_status = ? WHERE push_id = ?',
  );

  async function deliver(
    row: { push_id: string; subscription_id: string; url: string; event_type: string; body: string },
    attempt: number,
  ): Promise<number> {
    const key = platformKey(state);
    const body = new TextEncoder().encode(row.body);
    let status = 0;
    try {
      // inside the try: a URL that cannot be signed for (stored before URLs were checked) is a failed
      // attempt of its own push, retried on the schedule, never an error that stops every push
      const headers = signPush({
        url: row.url,
        body,
        pushId: row.push_id,
        keyId: key.kid,
        key: key.signing,
        created: state.clock.nowSeconds(),
        nonce: randomBytes(12).toString('base64url'),
      });
      const res = await fetch(row.url, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'push-event-type': row.event_type },
        body,
        // a 3xx is the subscriber's answer, and not a 2xx: retried, never followed (a redirect would
        // re-send the push, signed for this URL's path, elsewhere, or as a GET without it)
        redirect: 'manual',
        signal: AbortSignal.timeout(5000),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch {
      status = 0;
    }
    state.recorder.record({
      kind: 'push',
      at: iso(state.clock.now()),
      push_id: row.push_id,
      event_type: row.event_type,
      url: row.url,
      attempt,
      status,
      body: row.body,
    });
    return status;
  }

  async function pumpOnce(): Promise<number> {
    if (stopped) return 0;
    const rows = due.all(state.clock.now()) as {
      push_id: string;
      subscription_id: string;
      url: string;
      event_type: string;
      body: string;
      attempts: number;
      created_at: number;
      owner: string | null;
    }[];
    // Push nothing that is not committed yet: wait for the open group-commit batch, if any.
    if (rows.length > 0) {
      try {
        await state.groupCommit.settled();
      } catch {
        return 0; // that batch rolled back: what was read may be gone
      }
    }
    const site = (r: { subscription_id: string; owner: string | null }) => ({
      principalId: r.owner ?? undefined,
      subscriptionId: r.subscription_id,
      operationId: 'push',
    });
    // Out-of-order pushes: a push the rule picks is held back until a push created after it has
    // been sent (it is overtaken), or for REORDER_HOLD_MS of platform time when none comes; then it
    // goes at the end of a round. Several released together go in reverse, so a rule that fires on
    // every push still reorders the ones due together.
    const now = state.clock.now();
    const sequence: typeof rows = [];
    const released: typeof rows = [];
    for (const r of rows) {
      const h = held.get(r.push_id);
      if (h !== undefined) {
        if (h.overtaken || now - h.since >= REORDER_HOLD_MS) released.push(r);
      } else if (state.faults.fire('reorder_push', site(r)) !== undefined) {
        held.set(r.push_id, { since: now, createdAt: r.created_at, overtaken: false });
      } else {
        sequence.push(r);
      }
    }
    for (const r of sequence) {
      for (const h of held.values()) if (r.created_at > h.createdAt) h.overtaken = true;
    }
    for (const r of released) held.delete(r.push_id);
    sequence.push(...released.reverse());
    let delivered = 0;
    for (const r of sequence) {
      if (stopped) break;
      const status = await deliver(r, r.attempts + 1);
      if (state.faults.fire('duplicate_push', site(r)) !== undefined) await deliver(r, r.attempts + 1);
      if (status >= 200 && status < 300) {
        done.run(status, r.push_id);
        delivered++;
      } else {
        const attempts = r.attempts + 1;
        const wait = WEBHOOK_RETRY_SCHEDULE_S[attempts - 1];
        if (wait === undefined) retry.run('failed', attempts, r.created_at, status, r.push_id);
        else retry.run('pending', attempts, r.created_at + wait * 1000, status, r.push_id);
      }
    }
    return delivered;
  }

  // wake-ups that arrive during a round share ONE follow-up round (they used to queue a round
  // each, which all re-read the same pending pushes and delivered them many times over)
  let followUp: Promise<number> | undefined;
  function pump(): Promise<number> {
    if (running === undefined) {
      running = pumpOnce().finally(() => {
        running = undefined;
      });
      return running;
    }
    followUp ??= running
      .catch(() => 0)
      .then(() => {
        followUp = undefined;
        return pump();
      });
    return followUp;
  }

  const timer = setInterval(() => {
    if (running === undefined) void pump().catch(() => undefined);
  }, intervalMs);
  timer.unref();

  return {
    pump,
    async stop() {
      stopped = true;
      clearInterval(timer);
      if (running !== undefined) await running.catch(() => undefined);
      await sleep(0);
    },
  };
}

/**
 * A push URL the platform can deliver to: one the URL parser takes (the contract's pattern only asks
 * for `http(s)://`), without credentials (fetch refuses a URL with a user name or password).
 */
function checkPushUrl(url: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // reported below
  }
  const problem =
    parsed === undefined
      ? ['url is not a valid URL', 'must be an absolute http or https URL']
      : (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.hostname === ''
        ? ['url must be an absolute http or https URL', 'must be an absolute http or https URL']
        : parsed.username !== '' || parsed.password !== ''
          ? ['url must not carry a user name or password', 'no credentials in the URL']
          : undefined;
  if (problem !== undefined) {
    throw new ApiError(400, 'ERR_VALIDATION', problem[0] as string, {
      errors: [{ path: 'body/url', message: problem[1] as string }],
    });
  }
}

/** Webhook handlers. */
export const webhookHandlers: Handlers = {
  createSubscription: (ctx) => {
    forgetSubscriptions(ctx.state);
    try {
      return ctx.commit(() => {
        const { state, body: b } = ctx;
        const principal = ctx.principal;
        // a person's pushes (payments anywhere, attendance, card status) are private: only the
        // operator subscribes an endpoint to them, on behalf of the person, a parent or a teacher
        if (principal?.kind !== 'operator' && b.recipient_person_id !== undefined) {
          throw new ApiError(403, 'ERR_FORBIDDEN', "only the operator subscribes to a person's pushes");
        }
        if (principal?.kind === 'merchant' && b.merchant_id !== undefined && b.merchant_id !== principal.id) {
          throw new ApiError(403, 'ERR_FORBIDDEN', 'a merchant subscribes only to its own pushes');
        }
        const merchantId = principal?.kind === 'merchant' ? principal.id : (b.merchant_id ?? null);
        if (b.recipient_person_id === undefined && merchantId === null) {
          throw new ApiError(400, 'ERR_VALIDATION', 'give recipient_person_id or merchant_id');
        }
        checkPushUrl(b.url);
        if (
          b.recipient_person_id !== undefined &&
          state.db.prepare('SELECT 1 FROM people WHERE person_id = ?').get(b.recipient_person_id) ===
            undefined
        ) {
          throw notFound(`person ${b.recipient_person_id}`);
        }
        if (
          merchantId !== null &&
          state.db.prepare('SELECT 1 FROM merchants WHERE merchant_id = ?').get(merchantId) === undefined
        ) {
          throw notFound(`merchant ${merchantId}`);
        }
        const subId = id(state, 'sub');
        const now = state.clock.now();
        state.db
          .prepare(
            'INSERT INTO subscriptions (subscription_id, owner, url, event_types, recipient_person_id, merchant_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
          )
          .run(
            subId,
            principal?.id ?? '',
            b.url,
            JSON.stringify(b.event_types),
            b.recipient_person_id ?? null,
            merchantId,
            now,
          );
        return {
          status: 201,
          body: {
            subscription_id: subId,
            url: b.url,
            event_types: [...b.event_types],
            recipient_person_id: b.recipient_person_id ?? null,
            merchant_id: merchantId,
            created_at: iso(now),
          },
        };
      });
    } finally {
      forgetSubscriptions(ctx.state);
    }
  },

  getPlatformKeys: (ctx) => ({
    status: 200,
    body: {
      webhook_signing: [platformKey(ctx.state).publicJwk],
      retry_schedule_s: [...WEBHOOK_RETRY_SCHEDULE_S],
      tolerance_s: WEBHOOK_TOLERANCE_S,
    },
  }),
};
