import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../src/index.js';
import { demoPlatform, deviceSigner, json, signed } from './helpers.js';

let p: MockPlatform;
beforeEach(async () => {
  p = await demoPlatform();
});
afterEach(async () => {
  await p.close();
});

const heartbeat = {
  clock: '2026-01-05T08:00:00Z',
  trust_list: {
    version: 1,
    signed_at: '2026-01-05T07:00:00Z',
    age_s: 3600,
    max_age_s: 2592000,
    state: 'fresh',
  },
  status_list: null,
  roster: null,
  last_sync_at: '2026-01-05T07:59:00Z',
  floor: '2026-01-05T07:00:00Z',
  clock_before_floor: false,
  outbox_depth: 3,
  last_seq: 41,
};

describe('device heartbeat and event audit', () => {
  it('stores the heartbeat of the calling device and refuses another device id', async () => {
    const gate = deviceSigner(p, 'gate-01');
    const ok = await p.app.inject(signed(p, gate, 'POST', '/v1/devices/gate-01/heartbeat', heartbeat));
    expect(ok.statusCode).toBe(200);
    expect(json(ok)).toEqual({ device_id: 'gate-01', received_at: '2026-01-05T08:00:00Z' });
    const row = p.state.db
      .prepare('SELECT body FROM device_heartbeats WHERE device_id = ?')
      .get('gate-01') as {
      body: string;
    };
    expect(JSON.parse(row.body)).toMatchObject({ outbox_depth: 3, last_seq: 41 });
    const other = await p.app.inject(signed(p, gate, 'POST', '/v1/devices/lib-01/heartbeat', heartbeat));
    expect(other.statusCode).toBe(403);
    const bad = await p.app.inject(
      signed(p, gate, 'POST', '/v1/devices/gate-01/heartbeat', { ...heartbeat, outbox_depth: -1 }),
    );
    expect(bad.statusCode).toBe(400);
  });

  it('keeps the decision audit of an uploaded event and returns it', async () => {
    const gate = deviceSigner(p, 'gate-01');
    const audit = {
      trust_list: { version: 1, signed_at: '2026-01-05T07:00:00Z' },
      status_list: { version: 4, signed_at: '2026-01-05T07:30:00Z' },
      roster: null,
      last_sync_at: '2026-01-05T07:59:00Z',
      clock: '2026-01-05T08:00:00Z',
      floor: '2026-01-05T07:30:00Z',
    };
    const card = p.demo!.cards[0]!;
    const up = await p.app.inject(
      signed(p, gate, 'POST', '/v1/events/batches', {
        events: [
          {
            seq: 1,
            kind: 'access',
            occurred_at: '2026-01-05T08:00:00Z',
            card_id: card.cardId,
            decision: 'allowed',
            audit,
          },
        ],
      }),
    );
    expect(up.statusCode).toBe(200);
    const list = await p.app.inject(signed(p, gate, 'GET', '/v1/events'));
    expect(json<{ data: { audit: unknown }[] }>(list).data[0]?.audit).toEqual(audit);
  });
});
