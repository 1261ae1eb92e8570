/**
 * Attendance and access domain (I3): batched device events with (device_id, seq) dedupe,
 * queries, and pushes to parents and teachers.
 *
 * @module
 */
import {
  computeUidHash,
  decodeStatusList,
  decodeTrustList,
  type StatusList,
  type TrustList,
  toBase64Url,
  toHex,
  type VerifiedPresentation,
  verifyPresentation,
} from '@campus-card/core';
import type { EventBatchResult, StoredEvent } from '@campus-card/core/api';
import type { Handlers, PlatformState, Principal } from '../context.js';
import { requirePrincipal } from '../context.js';
import { iso, parseIso } from '../lib/clock.js';
import { createListQuery } from '../lib/list-query.js';
import { createNodeSignatureBackend } from '../lib/node-verify.js';
import { ApiError } from '../lib/problem.js';
import {
  type CardRow,
  consumeCode,
  getCardRow,
  getTrustMaterial,
  type Resolution,
  type ResolvedCard,
  resolveCredentialInput,
} from './cards.js';
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

/** node:crypto off the event loop, as for every code the platform checks (lib/node-verify.ts). */
const signatureBackend = createNodeSignatureBackend();

/** What resolveCredentialInput answers for a card that exists but is not active now. */
const NOT_ACTIVE_NOW: ReadonlySet<string> = new Set(['ERR_REVOKED', 'ERR_CARD_NOT_ACTIVE']);

/** A school's trust list, and its status list with every card valid (read once per upload). */
type StatusBlindMaterial = (schoolId: string) => Promise<{ trustList: TrustList; anyStatus: StatusList }>;

function statusBlindMaterial(state: PlatformState): StatusBlindMaterial {
  const loaded = new Map<string, ReturnType<StatusBlindMaterial>>();
  return (schoolId) => {
    let hit = loaded.get(schoolId);
    if (hit === undefined) {
      hit = (async () => {
        const tl = await getTrustMaterial(state, schoolId, 'trust-list');
        const sl = await getTrustMaterial(state, schoolId, 'status-list');
        const list = decodeStatusList(sl.bytes).statusList;
        // the same list (school, size) with every status 0: verifyPresentation then judges the
        // code's signatures and time window, and not its card's status
        return {
          trustList: decodeTrustList(tl.bytes).trustList,
          anyStatus: { ...list, lst: new Uint8Array(list.lst.length) },
        };
      })();
      loaded.set(schoolId, hit);
    }
    return hit;
  };
}

/**
 * The card of an event's code or card tap, as of the event's time (`nowSeconds`), **whatever the
 * card's current status**: an attendance or access event reports what the reader did, so the
 * person it admitted (or turned away) is named even when the card was reported lost or revoked
 * before the upload. Everything else is judged as for a payment (resolveCredentialInput): the
 * code's signatures and time window at `nowSeconds`, the card of the reader's school, the current
 * phone key, the card's validity at `nowSeconds`. Undefined when it does not resolve.
 *
 * Money is not judged so: an offline payment stays fail-closed on the current status.
 */
async function resolveEventCredential(
  state: PlatformState,
  principal: Principal,
  input: { qr_text?: string | undefined; uid_hex?: string | undefined },
  nowSeconds: number,
  material: StatusBlindMaterial,
): Promise<Resolution | undefined> {
  try {
    return await resolveCredentialInput(state, principal, input, { nowSeconds });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (!NOT_ACTIVE_NOW.has(err.code)) return undefined;
  }
  // the card exists but is not active now: resolve it again, with the status left out
  const schoolId = principal.schoolId;
  if (schoolId === null) return undefined;
  const columns =
    'card_id, school_id, person_id, role, status, holder_kid, physical_card_number, issued_at, expires_at';
  let card: ResolvedCard | undefined;
  let resolution: Omit<Resolution, 'card'>;
  if (input.qr_text !== undefined && input.uid_hex === undefined) {
    const { trustList, anyStatus } = await material(schoolId);
    let v: VerifiedPresentation;
    try {
      v = await verifyPresentation(input.qr_text, {
        trustList,
        statusLists: [anyStatus],
        now: nowSeconds,
        maxAge: state.settings.codeMaxAgeS,
        maxFuture: state.settings.codeMaxFutureS,
        backend: signatureBackend,
      });
    } catch {
      return undefined;
    }
    if (v.school !== schoolId) return undefined;
    card = state.db
      .prepare(`SELECT ${columns} FROM cards WHERE card_id = ? AND school_id = ?`)
      .get(v.cardId, schoolId) as ResolvedCard | undefined;
    if (card === undefined || card.holder_kid !== toBase64Url(v.holderKid)) return undefined;
    resolution = {
      source: 'qr',
      // the one-use registry's key, as resolveCredentialInput makes it
      replayKey: `${toHex(v.holderKid)}:${v.cardId}:${v.t}:${toHex(v.nonce)}`,
      codeTime: v.t,
      presentation: v,
    };
  } else if (input.uid_hex !== undefined && input.qr_text === undefined) {
    const hash = toHex(computeUidHash(schoolId, new Uint8Array(Buffer.from(input.uid_hex, 'hex'))));
    card = state.db
      .prepare(`SELECT ${columns} FROM cards WHERE physical_uid_hash = ? AND school_id = ?`)
      .get(hash, schoolId) as ResolvedCard | undefined;
    if (card === undefined) return undefined;
    resolution = {
      source: 'physical_card',
      replayKey: undefined,
      codeTime: undefined,
      presentation: undefined,
    };
  } else {
    return undefined;
  }
  if (card.expires_at <= nowSeconds * 1000) return undefined;
  return { card, ...resolution };
}

/** Attendance handlers. */
export const attendanceHandlers: Handlers = {
  uploadEvents: async (ctx) => {
    const { state, body: b } = ctx;
    const p = requirePrincipal(ctx);
    // Resolve codes and UIDs first (async), as of each event's time, whatever the card's status
    // now (resolveEventCredential): a card unknown, or a code that does not verify, leaves the
    // event unresolved.
    const resolved: (Resolution | CardRow | undefined)[] = [];
    // the codes of allowed scans, for the platform-wide one-use registry (C3): a device that names
    // the card still sends the code it admitted, and that code must not have been used elsewhere
    const codes: (Resolution | undefined)[] = [];
    // Every event time is checked before any work: a bad one refuses the whole batch.
    const occurredAt = b.events.map((e, i) => parseIso(e.occurred_at, `body/events/${i}/occurred_at`));
    const material = statusBlindMaterial(state);
    for (const [i, e] of b.events.entries()) {
      const at = Math.floor((occurredAt[i] as number) / 1000);
      let code: Resolution | undefined;
      if (e.qr_text !== undefined && e.decision === 'allowed') {
        code = await resolveEventCredential(state, p, { qr_text: e.qr_text }, at, material);
      }
      codes.push(code);
      if (e.card_id !== undefined) {
        const c = getCardRow(state, e.card_id);
        resolved.push(c !== undefined && c.school_id === p.schoolId ? c : undefined);
      } else if (code !== undefined && e.uid_hex === undefined) {
        resolved.push(code); // the same code, already resolved
      } else if (e.qr_text !== undefined || e.uid_hex !== undefined) {
        resolved.push(await resolveEventCredential(state, p, e, at, material));
      } else {
        resolved.push(undefined);
      }
    }
    return ctx.commit(() => {
      const now = state.clock.now();
      const ins = state.db.prepare(
        `INSERT OR IGNORE INTO events (event_id, device_id, seq, kind, direction, occurred_at, received_at, person_id, card_id, class_id, zone, decision, reason, rule, item_id, audit)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      let accepted = 0;
      let duplicates = 0;
      b.events.forEach((e, i) => {
        const r = resolved[i];
        const card = r === undefined ? undefined : 'card' in r ? r.card : r;
        const person = card === undefined ? undefined : getPersonRow(state, card.person_id);
        const eventId = `ev_${state.ids.next(12)}`;
        const res = ins.run(
          eventId,
          p.id,
          e.seq,
          e.kind,
          e.direction ?? null,
          occurredAt[i] as number,
          now,
          person?.person_id ?? null,
          card?.card_id ?? null,
          person?.class_id ?? null,
          e.zone ?? p.zone ?? '',
          e.decision,
          e.reason ?? (card === undefined ? 'UNRESOLVED' : null),
          e.rule ?? null,
          e.item_id ?? null,
          e.audit === undefined ? null : JSON.stringify(e.audit),
        );
        if (res.changes === 0) {
          duplicates++;
          return;
        }
        accepted++;
        const code = codes[i];
        if (code !== undefined) {
          try {
            consumeCode(state, code, p.id);
          } catch (err) {
            // only the registry's 409 is a second use; any other failure fails the upload
            if (!(err instanceof ApiError) || err.code !== 'ERR_CODE_ALREADY_USED') throw err;
            const first =
              code.replayKey === undefined
                ? undefined
                : (
                    state.db
                      .prepare('SELECT principal_id FROM used_codes WHERE replay_key = ?')
                      .get(code.replayKey) as { principal_id: string } | undefined
                  )?.principal_id;
            // a code used before by another reader is reported as an incident; the same reader
            // again is one use (it resolved the code online, then uploads what it decided)
            if (first !== p.id) {
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
    const page = createListQuery(q)
      .eq('device_id', p.kind === 'device' ? p.id : undefined)
      .eq('person_id', q.person_id)
      .eq('class_id', q.class_id)
      .range('occurred_at')
      .page(
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
