/**
 * Attendance and access domain (I3): batched device events with (device_id, seq) dedupe,
 * queries, and pushes to parents and teachers.
 *
 * @module
 */
import type { EventBatchResult, StoredEvent } from '@campus-card/core/api';
import type { Handlers, PlatformState, Principal } from '../context.js';
import { requirePrincipal } from '../context.js';
import { canonicalJson } from '../lib/canonical-json.js';
import { iso, parseIso, parseIsoBound } from '../lib/clock.js';
import { createListQuery } from '../lib/list-query.js';
import { ApiError } from '../lib/problem.js';
import { type CardRow, getCardRow, type Resolution, resolveCredentialInput, useCode } from './cards.js';
import { getPersonRow } from './directory.js';
import { recordIncident } from './incidents.js';
import { enqueueEvent } from './webhooks.js';

interface EventRow {
  event_id: string;
  device_id: string;
  seq: number;
  kind: StoredEvent['kind'];
  direction: 'in' | 'out' | null;
  occurred_at: number;
  received_at: number;
  person_id: string | null;
  card_id: string | null;
  class_id: string | null;
  zone: string;
  decision: 'allowed' | 'denied';
  reason: string | null;
  rule: string | null;
  item_id: string | null;
  audit: string | null;
}

function eventOut(r: EventRow): StoredEvent {
  return {
    ...r,
    occurred_at: iso(r.occurred_at),
    received_at: iso(r.received_at),
    audit: r.audit === null ? null : (JSON.parse(r.audit) as StoredEvent['audit']),
  };
}

/**
 * The card of an event's code or card tap, as of the event's time (`occurredAt`, unix ms), **whatever
 * the card's status** (`anyStatus`): an attendance or access event reports what the reader did, so
 * the person it admitted (or turned away) is named even when the card was reported lost or revoked
 * before the upload. Everything else is judged as for a payment: the code's signatures and time
 * window at the event's time, the card of the reader's school, the current phone key (a code of a
 * superseded phone key does not resolve, in either mode), the card's validity at the event's time
 * (a compact-mode code's card by its expiry then, from `card_history`, as a full-mode code's by its
 * credential: a card expired then and renewed since does not resolve).
 *
 * A card tap's UID names the card it was linked to **at the tap** (`statusAt`, which looks it up
 * in `card_history`), as that card was then: a tap made before an unlink is the old card's
 * person's, even once the physical card is linked to another card (another person's, say), and a
 * tap made while the UID was linked to no card does not resolve. A code names its card whatever
 * happened since, so it is judged without `statusAt`. Undefined when it does not resolve.
 */
async function resolveEventCredential(
  state: PlatformState,
  principal: Principal,
  input: { qr_text?: string | undefined; uid_hex?: string | undefined },
  occurredAt: number,
): Promise<Resolution | undefined> {
  const nowSeconds = Math.floor(occurredAt / 1000);
  try {
    return await resolveCredentialInput(state, principal, input, {
      nowSeconds,
      anyStatus: true,
      ...(input.uid_hex !== undefined ? { statusAt: occurredAt } : {}),
    });
  } catch (err) {
    if (err instanceof ApiError) return undefined;
    throw err;
  }
}

/**
 * The card an event names by `card_id` (the card a reader resolved the scan to, offline), judged
 * as a code's or a UID's card is: a card of the reader's school, **whatever its status**, that was
 * valid at the event's time (`occurredAt`, unix ms) by its history (`card_history`): not expired
 * then (renewed since or not; a code or a tap of it would not resolve either), and issued by then,
 * give or take the signature clock tolerance: a reader cannot have read a card that did not exist
 * yet (a reader's clock far behind, or a card id from another platform, such as a mock started
 * anew, where it named someone else). Only a reader's backlog from before its registration
 * (`registered`, unix ms), which uploadEvents takes up to 30 days back, may name a card issued
 * later, and only one the platform issued no later than it registered the reader (a school seeded
 * or onboarded with its readers and cards at once, whose readers recorded before): the card's
 * history starts where the platform's knowledge does. Undefined when it does not resolve.
 */
function cardOfIdAt(
  state: PlatformState,
  principal: Principal,
  cardId: string,
  occurredAt: number,
  registered: number,
): CardRow | undefined {
  const card = getCardRow(state, cardId);
  if (card === undefined || card.school_id !== principal.schoolId) return undefined;
  const tolerance = state.settings.signatureToleranceS * 1000;
  const cols = 'expires_at, since';
  type Then = { expires_at: number | null; since: number };
  const then =
    (state.db
      .prepare(
        `SELECT ${cols} FROM card_history WHERE card_id = ? AND since <= ? ORDER BY since DESC, rowid DESC LIMIT 1`,
      )
      .get(cardId, occurredAt) as Then | undefined) ??
    (state.db
      .prepare(`SELECT ${cols} FROM card_history WHERE card_id = ? ORDER BY since, rowid LIMIT 1`)
      .get(cardId) as Then | undefined);
  if (then === undefined) return undefined;
  const backlog = occurredAt < registered - tolerance && then.since <= registered + tolerance;
  if (occurredAt < then.since - tolerance && !backlog) return undefined;
  if ((then.expires_at ?? card.expires_at) <= occurredAt) return undefined;
  return card;
}

/** What an uploaded event would be stored as, in the columns that tell two events apart. */
type EventContent = Pick<
  EventRow,
  | 'kind'
  | 'direction'
  | 'occurred_at'
  | 'card_id'
  | 'zone'
  | 'decision'
  | 'reason'
  | 'rule'
  | 'item_id'
  | 'audit'
>;

/**
 * How `a` differs from `b`, the event stored (or met earlier in the batch) under the same
 * `(device_id, seq)`; undefined when they may be the same event sent again. Only what the device
 * reported is compared, not how its card resolved: a code resolved at the first upload may not
 * resolve at a later one (its card's phone key was replaced since), so a card is compared only
 * when both name one, and no reason is the same as `UNRESOLVED`.
 */
function contentDiffers(a: EventContent, b: EventContent): string | undefined {
  const reason = (r: string | null) => (r === 'UNRESOLVED' ? null : r);
  const audit = (x: string | null) => (x === null ? null : canonicalJson(JSON.parse(x)));
  if (a.kind !== b.kind) return 'kind';
  if (a.direction !== b.direction) return 'direction';
  if (a.occurred_at !== b.occurred_at) return 'occurred_at';
  if (a.card_id !== null && b.card_id !== null && a.card_id !== b.card_id) return 'card';
  if (a.zone !== b.zone) return 'zone';
  if (a.decision !== b.decision) return 'decision';
  if (reason(a.reason) !== reason(b.reason)) return 'reason';
  if (a.rule !== b.rule) return 'rule';
  if (a.item_id !== b.item_id) return 'item_id';
  if (audit(a.audit) !== audit(b.audit)) return 'audit';
  return undefined;
}

/** How old an event from before its device was registered may be, days (see uploadEvents). */
const BACKLOG_DAYS = 30;

/** Attendance handlers. */
export const attendanceHandlers: Handlers = {
  uploadEvents: async (ctx) => {
    const { state, body: b } = ctx;
    const p = requirePrincipal(ctx);
    // Resolve card ids, codes and UIDs first (async), as of each event's time, whatever the card's
    // status (cardOfIdAt, resolveEventCredential; a UID names the card it was linked to at the
    // tap): a card unknown, not valid then, or a code that does not verify, leaves the event
    // unresolved.
    const resolved: (Resolution | CardRow | undefined)[] = [];
    // the codes of allowed scans, for the platform-wide one-use registry (C3): a device that names
    // the card still sends the code it admitted, and that code must not have been used elsewhere
    const codes: (Resolution | undefined)[] = [];
    // Every event time is checked before any work: a bad one refuses the whole batch.
    const occurredAt = b.events.map((e, i) => parseIso(e.occurred_at, `body/events/${i}/occurred_at`));
    // Nor can an event have happened after now (give or take the signature clock tolerance): that
    // is a device clock gone wrong. So is a time before the device was registered, when it is
    // also more than 30 days old, as after a reader's clock battery died (1970, 2000): a
    // device registered today, e.g. in a freshly seeded mock, may still upload the backlog it
    // recorded this morning. Stored as reported, such an event would head (or trail) every query
    // by time for good, and push a check-in dated years away to parents. The whole batch is
    // refused, as for a time that does not parse; a gate client bisects the batch and sets the
    // one event aside for an operator (the rest is stored).
    const tolerance = state.settings.signatureToleranceS * 1000;
    const registered = (
      state.db.prepare('SELECT created_at FROM devices WHERE device_id = ?').get(p.id) as {
        created_at: number;
      }
    ).created_at;
    const now = state.clock.now();
    const latest = now + tolerance;
    const earliest = Math.min(registered, now - BACKLOG_DAYS * 86_400_000) - tolerance;
    occurredAt.forEach((at, i) => {
      // a time stored in whole milliseconds is truncated: judged so, 300.0004 s after now would
      // pass as 300 s, within the tolerance; rounded up, it is after it
      const text = b.events[i]?.occurred_at as string;
      const after = parseIsoBound(text, `body/events/${i}/occurred_at`) > latest;
      if (!after && at >= earliest) return;
      const path = `body/events/${i}/occurred_at`;
      const message = `${text} is ${after ? 'after now' : 'before the device was registered and more than 30 days ago'}, beyond the ${state.settings.signatureToleranceS} s clock tolerance`;
      throw new ApiError(422, 'ERR_OCCURRED_AT', `${path}: ${message}`, { errors: [{ path, message }] });
    });
    for (const [i, e] of b.events.entries()) {
      const at = occurredAt[i] as number;
      let code: Resolution | undefined;
      if (e.qr_text !== undefined && e.decision === 'allowed') {
        code = await resolveEventCredential(state, p, { qr_text: e.qr_text }, at);
      }
      codes.push(code);
      if (e.card_id !== undefined) {
        resolved.push(cardOfIdAt(state, p, e.card_id, at, registered));
      } else if (code !== undefined) {
        resolved.push(code); // the same code, already resolved
      } else if (e.qr_text !== undefined || e.uid_hex !== undefined) {
        // a code names the card before a card tap's UID: an event may carry both
        const input = e.qr_text !== undefined ? { qr_text: e.qr_text } : { uid_hex: e.uid_hex };
        resolved.push(await resolveEventCredential(state, p, input, at));
      } else {
        resolved.push(undefined);
      }
    }
    return ctx.commit(() => {
      const now = state.clock.now();
      const content: EventContent[] = b.events.map((e, i) => {
        const r = resolved[i];
        const card = r === undefined ? undefined : 'card' in r ? r.card : r;
        return {
          kind: e.kind,
          direction: e.direction ?? null,
          occurred_at: occurredAt[i] as number,
          card_id: card?.card_id ?? null,
          zone: e.zone ?? p.zone ?? '',
          decision: e.decision,
          reason: e.reason ?? (card === undefined ? 'UNRESOLVED' : null),
          rule: e.rule ?? null,
          item_id: e.item_id ?? null,
          audit: e.audit === undefined ? null : JSON.stringify(e.audit),
        };
      });
      // (device_id, seq) names one event: sent again, it is a duplicate (stored once, pushed once);
      // another event under a seq already stored (a device that lost its outbox and numbers from
      // 1 again, two events numbered alike) is refused, the whole batch with it, as a business key
      // bound elsewhere is. Acknowledged as a duplicate, it would be dropped by the device and lost.
      const stored = state.db.prepare('SELECT * FROM events WHERE device_id = ? AND seq = ?');
      const firstOfSeq = new Map<number, number>();
      const conflicts: { path: string; message: string }[] = [];
      b.events.forEach((e, i) => {
        const earlier = firstOfSeq.get(e.seq);
        if (earlier === undefined) firstOfSeq.set(e.seq, i);
        const before =
          earlier !== undefined ? content[earlier] : (stored.get(p.id, e.seq) as EventRow | undefined);
        if (before === undefined) return;
        // In one batch both were resolved alike, at once: what names the card is compared as sent
        // (a card, a code, a UID), not only as resolved, since two that resolve to no card (an
        // unknown UID, a card that did not resolve) or one that does and one that does not are
        // two events all the same.
        const named = (x: (typeof b.events)[number]) => [
          x.card_id ?? null,
          x.qr_text ?? null,
          x.uid_hex ?? null,
        ];
        const other = earlier === undefined ? undefined : (b.events[earlier] as (typeof b.events)[number]);
        const field =
          other !== undefined && named(e).some((v, k) => v !== named(other)[k])
            ? 'card'
            : contentDiffers(content[i] as EventContent, before);
        if (field === undefined) return;
        conflicts.push({
          path: `body/events/${i}/seq`,
          message: `seq ${e.seq} already names another event (${earlier !== undefined ? `events/${earlier} of this batch` : 'stored'}; its ${field} differs)`,
        });
      });
      if (conflicts.length > 0) {
        throw new ApiError(
          409,
          'ERR_CONFLICT',
          `${conflicts[0]?.path}: ${conflicts[0]?.message}${conflicts.length > 1 ? ` (and ${conflicts.length - 1} more)` : ''}`,
          { errors: conflicts },
        );
      }
      const ins = state.db.prepare(
        `INSERT OR IGNORE INTO events (event_id, device_id, seq, kind, direction, occurred_at, received_at, person_id, card_id, class_id, zone, decision, reason, rule, item_id, audit)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      let accepted = 0;
      let duplicates = 0;
      b.events.forEach((e, i) => {
        const c = content[i] as EventContent;
        const r = resolved[i];
        const card = r === undefined ? undefined : 'card' in r ? r.card : r;
        const person = card === undefined ? undefined : getPersonRow(state, card.person_id);
        const eventId = `ev_${state.ids.next(12)}`;
        const res = ins.run(
          eventId,
          p.id,
          e.seq,
          c.kind,
          c.direction,
          c.occurred_at,
          now,
          person?.person_id ?? null,
          c.card_id,
          person?.class_id ?? null,
          c.zone,
          c.decision,
          c.reason,
          c.rule,
          c.item_id,
          c.audit,
        );
        if (res.changes === 0) {
          duplicates++;
          return;
        }
        accepted++;
        const code = codes[i];
        // an admitted code goes into the platform-wide one-use registry; any failure of the
        // registry's own fails the upload
        const first = code === undefined ? undefined : useCode(state, code, p.id, 'attendance');
        if (code !== undefined && first !== undefined) {
          const met = state.db
            .prepare('SELECT purpose FROM used_codes WHERE replay_key = ?')
            .get(code.replayKey) as { purpose: string | null };
          if (first === p.id && met.purpose === 'resolve') {
            // this reader resolved the code online, then uploads what it decided: one use. The
            // registry now says so, so that this reader admitting the code once more is a second
            // use (another reader's always is).
            state.db
              .prepare("UPDATE used_codes SET purpose = 'attendance' WHERE replay_key = ?")
              .run(code.replayKey);
          } else {
            // a code used before by another reader, or admitted (or paid with) before by this
            // one: a second use, reported
            recordIncident(state, {
              kind: 'code_used_twice',
              source: 'attendance',
              cardId: code.card.card_id,
              deviceId: p.id,
              firstDeviceId: first,
              seq: e.seq,
            });
          }
        }
        if (person !== undefined) {
          const row = state.db.prepare('SELECT * FROM events WHERE event_id = ?').get(eventId) as EventRow;
          enqueueEvent(state, 'attendance.recorded', eventOut(row), { personIds: [person.person_id] });
        }
      });
      const max = state.db.prepare('SELECT MAX(seq) AS m FROM events WHERE device_id = ?').get(p.id) as {
        m: number | null;
      };
      const body: EventBatchResult = {
        accepted,
        duplicates,
        acked_seqs: b.events.map((e) => e.seq),
        max_seq: max.m,
      };
      return { status: 200, body };
    });
  },

  listEvents: (ctx) => {
    const { state, query: q } = ctx;
    const p = requirePrincipal(ctx);
    const list = createListQuery(q)
      .eq('device_id', p.kind === 'device' ? p.id : undefined)
      .eq('person_id', q.person_id)
      .eq('class_id', q.class_id);
    // class names repeat between schools: a school's events are its devices'
    if (q.school_id !== undefined)
      list.where('device_id IN (SELECT device_id FROM devices WHERE school_id = ?)', q.school_id);
    const page = list.range('occurred_at').page(
      state.db,
      'events',
      [
        ['occurred_at', 'integer'],
        ['device_id', 'text'],
        ['seq', 'integer'],
      ],
      eventOut,
    );
    return { status: 200, body: page };
  },
};
