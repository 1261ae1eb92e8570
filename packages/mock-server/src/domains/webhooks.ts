/**
 * Pushes: subscriptions, the outbox of signed push deliveries (RFC 9421 via core/http
 * `signPush`, Ed25519 platform key), retries on the published schedule, fault injection
 * (duplicate and out-of-order deliveries) and recording.
 *
 * Deliveries run concurrently across subscriptions and in order within one: each subscription has
 * a lane that tries its pushes one at a time, in creation order (a `reorder_push` fault aside),
 * while the lanes run side by side, at most {@link MAX_PUSHES_IN_FLIGHT} requests at once. A
 * subscriber that never answers delays only its own pushes (5 s timeout each). A push being tried
 * is claimed, and no delivery round picks it again until its attempt is over. Each attempt is
 * recorded twice: a `push_sent` line as it starts, a `push` line with its status when it is over.
 * Closing aborts the requests in flight; such an attempt keeps its `push_sent` line only, is not
 * counted, and the push stays pending. The subscriber's answer is its status: its body is not read.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportJwk, generateKeyPair } from '@campus-card/core';
import {
  PLATFORM_KEY_OVERLAP_S,
  type PlatformKeys,
  type PublicJwk,
  WEBHOOK_EVENT_TYPES,
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
/** The current key of each platform, imported once: it is looked up again by its kid only. */
const platformKeys = new WeakMap<PlatformState, PlatformKey>();

/** A stored key's public half, with its kid. */
function publicOf(row: { kid: string; jwk: string }): PublicJwk {
  const { d: _d, ...pub } = JSON.parse(row.jwk) as PublicJwk & { d?: string };
  return { ...pub, kid: row.kid };
}

function newKeyRow(state: PlatformState): { kid: string; jwk: string } {
  const { privateKey } = generateKeyPair('EdDSA');
  const jwk = exportJwk(privateKey, { includePrivate: true });
  const row = { kid: `platform-${jwk.kid}`, jwk: JSON.stringify(jwk) };
  state.db
    .prepare('INSERT INTO platform_keys (kid, jwk, created_at) VALUES (?, ?, ?)')
    .run(row.kid, row.jwk, state.clock.now());
  return row;
}

/**
 * The platform's current push-signing key (Ed25519), created on first use and persisted. Read from
 * the database each time (one small lookup a push attempt), so that a rotation, and a rotation
 * whose batch was rolled back, are seen at once; the key is imported again only when it changed.
 */
export function platformKey(state: PlatformState): PlatformKey {
  const row =
    (state.db
      .prepare(
        'SELECT kid, jwk FROM platform_keys WHERE retired_at IS NULL ORDER BY created_at DESC, rowid DESC LIMIT 1',
      )
      .get() as { kid: string; jwk: string } | undefined) ?? newKeyRow(state);
  const hit = platformKeys.get(state);
  if (hit?.kid === row.kid) return hit;
  const key: PlatformKey = {
    kid: row.kid,
    signing: importSigningKey(JSON.parse(row.jwk)),
    publicJwk: publicOf(row),
  };
  platformKeys.set(state, key);
  return key;
}

/**
 * What `GET /v1/platform/keys` publishes: the push-signing keys (the current one first, then those
 * still in their overlap), the retry schedule and the signature tolerance.
 */
function publishedKeys(state: PlatformState): PlatformKeys {
  const current = platformKey(state);
  const previous = state.db
    .prepare(
      'SELECT kid, jwk FROM platform_keys WHERE retired_at IS NOT NULL AND retired_at > ? ORDER BY created_at DESC, rowid DESC',
    )
    .all(state.clock.now()) as { kid: string; jwk: string }[];
  return {
    webhook_signing: [current.publicJwk, ...previous.map(publicOf)],
    retry_schedule_s: [...WEBHOOK_RETRY_SCHEDULE_S],
    tolerance_s: WEBHOOK_TOLERANCE_S,
  };
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

/** Most push requests in flight at once, over every subscription (see {@link createPushDispatcher}). */
export const MAX_PUSHES_IN_FLIGHT = 16;

/**
 * Most pushes of one subscription handed to its lane and not yet through their attempt: a round
 * hands a lane this full nothing more until it drains, so a subscriber that never answers keeps at
 * most this many pushes (and their bodies) in memory, however many it has pending.
 */
const LANE_BACKLOG = 100;

/** Times an attempt's outcome is written when the group-commit batch it went into fails. */
const OUTCOME_WRITE_TRIES = 3;

/**
 * When a push whose attempt `n` (1 for the first) just failed, at `now`, is tried again (epoch
 * ms), or `undefined` when that was its last attempt. On time, at `created_at` + the schedule's
 * n-th offset; an attempt that ran late (the subscriber hung, the queue was long, the platform was
 * down or its clock was moved on) pushes the next one back, so that it still waits the schedule's
 * gap after this one (the n-th offset minus the one before). Without that, every retry already due
 * went back to back and a push was abandoned within seconds of a late attempt.
 */
export function nextAttemptAt(createdAt: number, n: number, now: number): number | undefined {
  const offset = WEBHOOK_RETRY_SCHEDULE_S[n - 1];
  if (offset === undefined) return undefined;
  const gap = offset - (WEBHOOK_RETRY_SCHEDULE_S[n - 2] ?? 0);
  return Math.max(createdAt + offset * 1000, now + gap * 1000);
}

/** How long a subscriber has to answer a push, ms of real time. */
const PUSH_TIMEOUT_MS = 5000;

/**
 * Drops a response body unread: the status is the subscriber's answer. Reading it (as the
 * dispatcher once did, whole) let a subscriber's huge or endless body fill the platform's memory,
 * and a body that stalls hold the subscription's lane until the timeout.
 */
async function discardBody(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => undefined);
}

/** The push dispatcher. */
export interface PushDispatcher {
  /**
   * Runs a delivery round: hands every due push (up to 100 a round) to its subscription's lane.
   * Resolves, with how many of them were delivered (a 2xx), once their attempts, and every
   * attempt already handed out before, are over.
   */
  pump(): Promise<number>;
  /**
   * Starts a delivery round without waiting for its deliveries (what a new push does): wake-ups
   * during a round share one follow-up round.
   */
  kick(): void;
  /**
   * Stops the background loop, aborts the requests in flight and waits until the dispatcher is
   * idle: after it resolves, the dispatcher touches neither the database nor the recorder.
   */
  stop(): Promise<void>;
}

/** A due push, as a round reads it. */
interface DueRow {
  push_id: string;
  subscription_id: string;
  url: string;
  event_type: string;
  body: string;
  attempts: number;
  created_at: number;
  /** The push's rowid: its place in creation order, ties of `created_at` included. */
  seq: number;
  owner: string | null;
}

/** What a round handed out: each push's claim, which settles (true when delivered) when its attempt is over. */
interface Round {
  readonly handed: readonly Promise<boolean>[];
}
const NO_ROUND: Round = { handed: [] };

/** The pushes of one subscription that a round handed out, tried one at a time in that order. */
interface Lane {
  readonly queue: {
    readonly row: DueRow;
    /** Whether a `duplicate_push` rule sends this attempt twice (drawn at hand-out). */
    readonly duplicate: boolean;
    readonly finish: (delivered: boolean) => void;
  }[];
  /** Pushes handed to the lane whose attempt is not over (queued, or being tried). */
  size: number;
  /** Resolves when the lane has drained (it never rejects). */
  idle: Promise<void>;
}

/**
 * Starts the dispatcher loop (a round every `intervalMs`, default 200, and when kicked).
 *
 * A round reads the due pushes in creation order and hands each to its subscription's lane. A
 * lane tries its pushes one after another, in the order it got them (a push waits for the
 * attempt of the one before it, of the same subscription), and lanes run side by side, at most
 * {@link MAX_PUSHES_IN_FLIGHT} requests at once over all of them. A subscriber that never answers
 * thus holds back its own pushes only, each for the 5 s timeout, never another subscription's.
 * A round does not wait for the deliveries: a push handed to a lane is claimed until its attempt
 * is over and its outcome written, and no round picks a claimed push, so a push is never sent
 * twice at once however the rounds overlap.
 */
export function createPushDispatcher(state: PlatformState, intervalMs = 200): PushDispatcher {
  let stopped = false;
  /** Aborts the requests in flight when the dispatcher stops. */
  const closing = new AbortController();
  /** Pushes a `reorder_push` rule holds back, by push id (see {@link REORDER_HOLD_MS}). */
  const held = new Map<string, { since: number; seq: number; subscriptionId: string; overtaken: boolean }>();
  /** The lanes with pushes to try, by subscription id. */
  const lanes = new Map<string, Lane>();
  /** Pushes handed to a lane whose attempt is not over, by push id: settles with "delivered". */
  const claimed = new Map<string, Promise<boolean>>();
  // pending and due, and neither claimed (first JSON array: push ids) nor of a full lane (second:
  // subscription ids); in creation order, ties included (`rowid`): the pushes of one request, made
  // in the same millisecond, go in the order they were queued, not in the order an index holds them
  const due = state.db.prepare(
    "SELECT p.*, p.rowid AS seq, s.owner AS owner FROM pushes p LEFT JOIN subscriptions s ON s.subscription_id = p.subscription_id WHERE p.state = 'pending' AND p.next_attempt_at <= ? AND p.push_id NOT IN (SELECT value FROM json_each(?)) AND p.subscription_id NOT IN (SELECT value FROM json_each(?)) ORDER BY p.created_at, p.rowid LIMIT 100",
  );
  // the attempt count is set, not incremented: a write rolled back with its batch is written again
  const done = state.db.prepare(
    "UPDATE pushes SET state = 'delivered', attempts = ?, last_status = ? WHERE push_id = ?",
  );
  const retry = state.db.prepare(
    'UPDATE pushes SET state = ?, attempts = ?, next_attempt_at = ?, last_status = ? WHERE push_id = ?',
  );
  const site = (r: { subscription_id: string; owner: string | null }) => ({
    principalId: r.owner ?? undefined,
    subscriptionId: r.subscription_id,
    operationId: 'push',
  });

  /**
   * Sends a push once and records it: a `push_sent` line as the attempt starts, then a `push` line
   * with its outcome once the subscriber answered (or did not: status 0). Resolves with the status,
   * or `undefined` when the dispatcher stopped while the request was in flight (the attempt then
   * has its `push_sent` line only).
   */
  async function deliver(row: DueRow, attempt: number): Promise<number | undefined> {
    const key = platformKey(state);
    const started = performance.now();
    // before the request: a push in flight, or whose subscriber hangs until the timeout, shows
    state.recorder.record({
      kind: 'push_sent',
      at: iso(state.clock.now()),
      push_id: row.push_id,
      event_type: row.event_type,
      url: row.url,
      attempt,
      body: row.body,
    });
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
        signal: AbortSignal.any([AbortSignal.timeout(PUSH_TIMEOUT_MS), closing.signal]),
      });
      status = res.status;
      await discardBody(res);
    } catch {
      // cut short by close: not an attempt of the subscriber's failing (see `stop`)
      if (closing.signal.aborted) return undefined;
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
      duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
    });
    return status;
  }

  /**
   * One attempt of a push (sent twice when `duplicate`: a `duplicate_push` fault), its outcome
   * written to the outbox: delivered, or due again on the retry schedule, or failed after the last
   * attempt. Resolves true when delivered.
   */
  async function attempt(r: DueRow, duplicate: boolean): Promise<boolean> {
    const n = r.attempts + 1;
    const status = await deliver(r, n);
    // cut short by close: the push stays as it was, pending, and goes again after a restart
    if (status === undefined) return false;
    if (!stopped && duplicate) await deliver(r, n);
    if (status >= 200 && status < 300) {
      await writeOutcome(() => done.run(n, status, r.push_id));
      return true;
    }
    const next = nextAttemptAt(r.created_at, n, state.clock.now());
    await writeOutcome(() =>
      next === undefined
        ? retry.run('failed', n, r.created_at, status, r.push_id)
        : retry.run('pending', n, next, status, r.push_id),
    );
    return false;
  }

  /**
   * Writes an attempt's outcome in the group commit and waits for its COMMIT (the push stays
   * claimed meanwhile). Written outside it, the outcome went into whatever batch another request
   * had open, and a batch that then failed rolled it back after the claim was gone: the attempt
   * was not counted and a delivered push was sent again. A batch that fails gets the outcome
   * written again, in the next one (a few times; then the push stays pending, tried again later).
   */
  async function writeOutcome(write: () => void): Promise<void> {
    for (let tries = 1; ; tries++) {
      state.groupCommit.join();
      write();
      try {
        await state.groupCommit.settled();
        return;
      } catch (error) {
        if (tries >= OUTCOME_WRITE_TRIES) throw error;
      }
    }
  }

  // the cap on requests in flight, over all lanes: a slot is taken per attempt, so a lane whose
  // subscriber hangs holds one slot at a time, and waiting lanes get slots in turn
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  function acquire(): Promise<void> {
    if (inFlight < MAX_PUSHES_IN_FLIGHT) {
      inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) => waiting.push(resolve));
  }
  function release(): void {
    const next = waiting.shift();
    if (next === undefined) inFlight--;
    else next(); // the slot passes straight on
  }

  /** Hands a push to its subscription's lane (starting the lane if idle); claims it until its attempt is over. */
  function hand(row: DueRow, duplicate: boolean): Promise<boolean> {
    let finish!: (delivered: boolean) => void;
    const settled = new Promise<boolean>((resolve) => {
      finish = resolve;
    });
    claimed.set(row.push_id, settled);
    const lane = lanes.get(row.subscription_id);
    if (lane !== undefined) {
      lane.queue.push({ row, duplicate, finish });
      lane.size++;
    } else {
      const fresh: Lane = { queue: [{ row, duplicate, finish }], size: 1, idle: Promise.resolve() };
      lanes.set(row.subscription_id, fresh);
      fresh.idle = drain(row.subscription_id, fresh);
    }
    return settled;
  }

  /** Tries a lane's pushes in order until it is empty (after a stop: lets the rest go untried). */
  async function drain(subscriptionId: string, lane: Lane): Promise<void> {
    for (let job = lane.queue.shift(); job !== undefined; job = lane.queue.shift()) {
      let delivered = false;
      try {
        if (!stopped) {
          await acquire();
          try {
            if (!stopped) delivered = await attempt(job.row, job.duplicate);
          } finally {
            release();
          }
        }
      } catch {
        // the outcome could not be written: the push stays pending and a later round tries it again
      } finally {
        // written (or left as it was) before the claim goes: the next round reads the new state
        claimed.delete(job.row.push_id);
        lane.size--;
        job.finish(delivered);
      }
    }
    lanes.delete(subscriptionId);
  }

  /** Reads the due pushes and hands them out. */
  async function handOut(): Promise<Round> {
    if (stopped) return NO_ROUND;
    const full = [...lanes].filter(([, lane]) => lane.size >= LANE_BACKLOG).map(([sub]) => sub);
    const rows = due.all(
      state.clock.now(),
      JSON.stringify([...claimed.keys()]),
      JSON.stringify(full),
    ) as DueRow[];
    // Push nothing that is not committed yet: wait for the open group-commit batch, if any.
    if (rows.length > 0) {
      try {
        await state.groupCommit.settled();
      } catch {
        return NO_ROUND; // that batch rolled back: what was read may be gone
      }
    }
    if (stopped) return NO_ROUND;
    // Out-of-order pushes: a push the rule picks is held back until a push of the same subscription
    // created after it has been handed out (it is overtaken: that subscriber sees the later push
    // first; another subscription's push, which it never sees, does not count), or for
    // REORDER_HOLD_MS of platform time when none comes;
    // then it goes at the end of a round. Several released together go in reverse, so a rule that
    // fires on every push still reorders the ones of a subscription due together.
    const now = state.clock.now();
    const sequence: DueRow[] = [];
    const released: DueRow[] = [];
    for (const r of rows) {
      const h = held.get(r.push_id);
      if (h !== undefined) {
        // (a clock set back before the hold began releases it too: it would wait for that time again)
        if (h.overtaken || now - h.since >= REORDER_HOLD_MS || now < h.since) released.push(r);
      } else if (state.faults.fire('reorder_push', site(r)) !== undefined) {
        held.set(r.push_id, {
          since: now,
          seq: r.seq,
          subscriptionId: r.subscription_id,
          overtaken: false,
        });
      } else {
        sequence.push(r);
      }
    }
    for (const r of sequence) {
      for (const h of held.values()) {
        // created after it (by creation order: a push of the same millisecond, from the same
        // request, overtakes it too)
        if (h.subscriptionId === r.subscription_id && r.seq > h.seq) h.overtaken = true;
      }
    }
    for (const r of released) held.delete(r.push_id);
    sequence.push(...released.reverse());
    // Which attempts a `duplicate_push` rule sends twice is drawn here, in this order, not as each
    // attempt ends: then the same seed picks the same pushes whatever order the subscribers answer in.
    const duplicates = sequence.map((r) => state.faults.fire('duplicate_push', site(r)) !== undefined);
    // each lane gets its pushes in this order
    return { handed: sequence.map((r, i) => hand(r, duplicates[i] === true)) };
  }

  // A round only reads and hands out (the lanes deliver), so rounds are short; wake-ups that
  // arrive during one share ONE follow-up round (they used to queue a round each, which all
  // re-read the same pending pushes and delivered them many times over).
  let reading: Promise<Round> | undefined;
  let followUp: Promise<Round> | undefined;
  function round(): Promise<Round> {
    if (reading === undefined) {
      const r = handOut().finally(() => {
        reading = undefined;
      });
      reading = r;
      return r;
    }
    followUp ??= reading
      .catch(() => NO_ROUND)
      .then(() => {
        followUp = undefined;
        return round();
      });
    return followUp;
  }

  const kick = (): void => {
    void round().catch(() => undefined);
  };
  const timer = setInterval(() => {
    if (reading === undefined) kick();
  }, intervalMs);
  timer.unref();

  return {
    // waits for the pushes the round handed out and for those handed out before, still under way
    // (a wake-up's round may have taken the ones due just now); only a caller of `pump` pays for
    // that wait: wake-ups (`kick`) and the timer hold on to nothing
    pump: () =>
      round()
        .then((r) => Promise.all([Promise.all(r.handed), Promise.all(claimed.values())]))
        .then(([delivered]) => delivered.filter(Boolean).length),
    kick,
    async stop() {
      stopped = true;
      clearInterval(timer);
      // An attempt cut short here gets no outcome line (its `push_sent` line stays) and is not
      // counted: the push stays pending, with its attempts, and a platform started again on the
      // same database sends it again.
      closing.abort();
      await reading?.catch(() => undefined);
      await Promise.all([...lanes.values()].map((lane) => lane.idle));
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

/**
 * The event types pushed to a merchant: those of an order that names it, the payments made to it
 * and the top-ups it made (`wallet.topped_up` of a top-up by a merchant principal: taking cash at
 * its counter for a card is the merchant's own business, to reconcile as its payments are); the
 * others (attendance, card status) go to people only.
 */
const MERCHANT_EVENT_TYPES: ReadonlySet<string> = new Set(
  WEBHOOK_EVENT_TYPES.filter((t) => t.startsWith('payment.') || t === 'wallet.topped_up'),
);

/**
 * The event types a subscription keeps: each once, in the order given, and, for a merchant's
 * subscription (no `recipient_person_id`), only those a merchant is pushed (payments and its
 * top-ups). When none is left, the subscription would never get a push: 422 `ERR_VALIDATION`
 * naming each type.
 */
function subscribedTypes(types: readonly string[], merchantOnly: boolean): string[] {
  const kept = [...new Set(types)].filter((t) => !merchantOnly || MERCHANT_EVENT_TYPES.has(t));
  if (kept.length === 0) {
    throw new ApiError(
      422,
      'ERR_VALIDATION',
      "a merchant's subscription gets payment and top-up pushes only",
      {
        errors: types.map((t, i) => ({
          path: `body/event_types/${i}`,
          message: `${t} is pushed to people, not to a merchant`,
        })),
      },
    );
  }
  return kept;
}

/** Webhook handlers. */
export const webhookHandlers: Handlers = {
  createSubscription: (ctx) => {
    forgetSubscriptions(ctx.state);
    try {
      return ctx.commit(() => {
        const { state, body: b } = ctx;
        const principal = ctx.principal;
        // a person's pushes (payments anywhere, top-ups, attendance, card status) are private: only the
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
        const eventTypes = subscribedTypes(b.event_types, b.recipient_person_id === undefined);
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
            JSON.stringify(eventTypes),
            b.recipient_person_id ?? null,
            merchantId,
            now,
          );
        return {
          status: 201,
          body: {
            subscription_id: subId,
            url: b.url,
            event_types: eventTypes,
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
    body: publishedKeys(ctx.state),
  }),

  rotatePlatformKey: (ctx) =>
    ctx.commit(() => {
      const { state } = ctx;
      const overlapS = ctx.body.overlap_s ?? PLATFORM_KEY_OVERLAP_S;
      const current = platformKey(state);
      // only the current key: one retired earlier keeps its own end, it is not brought back
      state.db
        .prepare('UPDATE platform_keys SET retired_at = ? WHERE kid = ?')
        .run(state.clock.now() + overlapS * 1000, current.kid);
      newKeyRow(state);
      return {
        status: 201,
        body: publishedKeys(state),
      };
    }),
};
