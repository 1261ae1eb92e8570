/**
 * Incidents: what the platform detected and reports to the operator (`GET /v1/incidents`).
 *
 * @module
 */
import type { Incident, IncidentKind } from '@campus-card/core/api';
import { type Handlers, type PlatformState, requirePrincipal } from '../context.js';
import { iso } from '../lib/clock.js';
import { createListQuery } from '../lib/list-query.js';

/** What an incident records besides its kind and time. */
export interface IncidentInput {
  readonly kind: IncidentKind;
  readonly source: Incident['source'];
  readonly cardId?: string | undefined;
  readonly deviceId?: string | undefined;
  readonly firstDeviceId?: string | undefined;
  readonly seq?: number | undefined;
  readonly amount?: number | undefined;
  readonly code?: string | undefined;
  /**
   * What tells this incident's cause apart when nothing else records it (kept in `detail`, never
   * served): see {@link incidentRecorded}.
   */
  readonly fingerprint?: string | undefined;
}

/** Records an incident, in the caller's transaction (it rolls back with it). */
export function recordIncident(state: PlatformState, i: IncidentInput): void {
  state.db.prepare('INSERT INTO incidents (kind, detail, created_at) VALUES (?, ?, ?)').run(
    i.kind,
    JSON.stringify({
      source: i.source,
      card_id: i.cardId ?? null,
      device_id: i.deviceId ?? null,
      first_device_id: i.firstDeviceId ?? null,
      seq: i.seq ?? null,
      amount: i.amount ?? null,
      code: i.code ?? null,
      ...(i.fingerprint === undefined ? {} : { fingerprint: i.fingerprint }),
    }),
    state.clock.now(),
  );
}

/**
 * Whether an incident of `kind` was recorded for `deviceId`'s `seq` with this `fingerprint`: so
 * that a refusal that leaves no other trace (an item under a seq that holds another sale) is
 * reported once however often the device sends it again.
 */
export function incidentRecorded(
  state: PlatformState,
  kind: IncidentKind,
  deviceId: string,
  seq: number,
  fingerprint: string,
): boolean {
  return (
    state.db
      .prepare(
        "SELECT 1 FROM incidents WHERE kind = ? AND json_extract(detail, '$.device_id') = ? AND json_extract(detail, '$.seq') = ? AND json_extract(detail, '$.fingerprint') = ? LIMIT 1",
      )
      .get(kind, deviceId, seq, fingerprint) !== undefined
  );
}

interface IncidentRow {
  id: number;
  kind: IncidentKind;
  detail: string;
  created_at: number;
}

function incidentOut(r: IncidentRow): Incident {
  // the shape recordIncident writes (migration 7 brought older rows to it; rows written before
  // `code` have none)
  const d = JSON.parse(r.detail) as Pick<
    Incident,
    'source' | 'card_id' | 'device_id' | 'first_device_id' | 'seq' | 'amount'
  > & { code?: string | null };
  return {
    incident_id: String(r.id),
    kind: r.kind,
    created_at: iso(r.created_at),
    card_id: d.card_id,
    device_id: d.device_id,
    first_device_id: d.first_device_id,
    seq: d.seq,
    amount: d.amount,
    code: d.code ?? null,
    source: d.source,
  };
}

/** Incident handlers. */
export const incidentHandlers: Handlers = {
  listIncidents: (ctx) => {
    const { state, query: q } = ctx;
    requirePrincipal(ctx);
    const query = createListQuery(q).eq('kind', q.kind).eq("json_extract(detail, '$.card_id')", q.card_id);
    if (q.device_id !== undefined) {
      query.where(
        "(json_extract(detail, '$.device_id') = ? OR json_extract(detail, '$.first_device_id') = ?)",
        q.device_id,
        q.device_id,
      );
    }
    const page = query.range('created_at').page(state.db, 'incidents', [['id', 'integer']], incidentOut);
    return { status: 200, body: page };
  },
};
