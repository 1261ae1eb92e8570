/**
 * Incidents: what the platform detected and reports to the operator (`GET /v1/incidents`).
 *
 * @module
 */
import type { Incident, IncidentKind } from '@campus-card/core/api';
import { type Handlers, type PlatformState, requirePrincipal } from '../context.js';
import { iso, parseIso } from '../lib/clock.js';

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
    const limit = q.limit ?? 100;
    const offset = q.cursor === undefined ? 0 : Number.parseInt(q.cursor, 10) || 0;
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.kind !== undefined) {
      where.push('kind = ?');
      args.push(q.kind);
    }
    if (q.card_id !== undefined) {
      where.push("json_extract(detail, '$.card_id') = ?");
      args.push(q.card_id);
    }
    if (q.device_id !== undefined) {
      where.push(
        "(json_extract(detail, '$.device_id') = ? OR json_extract(detail, '$.first_device_id') = ? OR json_extract(detail, '$.device') = ? OR EXISTS (SELECT 1 FROM json_each(detail, '$.devices') WHERE value = ?))",
      );
      args.push(q.device_id, q.device_id, q.device_id, q.device_id);
    }
    if (q.from !== undefined) {
      where.push('created_at >= ?');
      args.push(parseIso(q.from, 'querystring/from'));
    }
    if (q.to !== undefined) {
      where.push('created_at < ?');
      args.push(parseIso(q.to, 'querystring/to'));
    }
    const rows = state.db
      .prepare(
        `SELECT * FROM incidents ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ? OFFSET ?`,
      )
      .all(...args, limit + 1, offset) as IncidentRow[];
    return {
      status: 200,
      body: {
        data: rows.slice(0, limit).map(incidentOut),
        next_cursor: rows.length > limit ? String(offset + limit) : null,
      },
    };
  },
};
