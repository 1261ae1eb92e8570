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
    }),
    state.clock.now(),
  );
}

interface IncidentRow {
  id: number;
  kind: IncidentKind;
  detail: string;
  created_at: number;
}

function incidentOut(r: IncidentRow): Incident {
  const d = JSON.parse(r.detail) as Partial<Record<string, unknown>>;
  // rows of an older version kept `devices: [first, second]` and `device`
  const devices = Array.isArray(d.devices) ? (d.devices as string[]) : undefined;
  return {
    incident_id: String(r.id),
    kind: r.kind,
    created_at: iso(r.created_at),
    card_id: (d.card_id as string | undefined) ?? null,
    device_id:
      (d.device_id as string | undefined) ?? devices?.[1] ?? (d.device as string | undefined) ?? null,
    first_device_id: (d.first_device_id as string | undefined) ?? devices?.[0] ?? null,
    seq: (d.seq as number | undefined) ?? null,
    amount: (d.amount as number | undefined) ?? null,
    source:
      (d.source as Incident['source'] | undefined) ??
      (devices !== undefined ? 'offline_payment' : 'attendance'),
  };
}

/** Incident handlers. */
export const incidentHandlers: Handlers = {
  listIncidents: (ctx) => {
    const { state, query: q } = ctx;
    requirePrincipal(ctx);
    const byDevice =
      "(json_extract(detail, '$.device_id') = ? OR json_extract(detail, '$.first_device_id') = ? OR json_extract(detail, '$.device') = ? OR EXISTS (SELECT 1 FROM json_each(detail, '$.devices') WHERE value = ?))";
    const query = createListQuery(q).eq('kind', q.kind).eq("json_extract(detail, '$.card_id')", q.card_id);
    if (q.device_id !== undefined) query.where(byDevice, q.device_id, q.device_id, q.device_id, q.device_id);
    const page = query.range('created_at').page(state.db, 'incidents', 'id', incidentOut);
    return { status: 200, body: page };
  },
};
