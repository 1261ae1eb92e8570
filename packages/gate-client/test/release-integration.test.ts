import type { PublicKey } from '@campus-card/core';
import type { RunningMockPlatform } from '@campus-card/mock-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GateClient, GateClientOptions } from '../src/index.js';
import { demoGate, qrOf, rootKeyOf, startDemo, tempDir } from './helpers.js';

let server: RunningMockPlatform;
let rootKey: PublicKey;
let data: ReturnType<typeof tempDir>;
const clients: GateClient[] = [];

beforeEach(async () => {
  server = await startDemo();
  rootKey = await rootKeyOf(server);
  data = tempDir();
});

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await server.close();
  data.cleanup();
});

const gate = (dir: string, overrides: Partial<GateClientOptions> = {}): Promise<GateClient> =>
  demoGate(server, rootKey, dir, clients, overrides);

const READER = { id: 'gate-01', zone: 'gate:main', direction: 'in' } as const;

const stored = () =>
  server.platform.state.db
    .prepare("SELECT seq, person_id, occurred_at FROM events WHERE device_id = 'gate-01' ORDER BY seq")
    .all() as { seq: number; person_id: string; occurred_at: number }[];

describe('releasing quarantined events against the mock platform', () => {
  it('events of a wiped data directory, refused ERR_CONFLICT, upload under new seqs once released', async () => {
    const a = await gate(data.dir);
    await a.syncNow();
    for (const p of ['s-001', 's-002']) await a.scan(await qrOf(server, p), READER, { kind: 'access' });
    expect(await a.flush()).toMatchObject({ accepted: 2 });
    await a.close();
    clients.splice(0);

    const wiped = tempDir();
    try {
      const b = await gate(wiped.dir);
      await b.syncNow();
      for (const p of ['t-001', 's-003']) await b.scan(await qrOf(server, p), READER, { kind: 'access' });
      const first = await b.flush();
      expect(first.quarantined.map((q) => q.reason.code)).toEqual(['ERR_CONFLICT', 'ERR_CONFLICT']);
      const released = await b.outbox.release();
      expect(released.map((e) => e.seq)).toEqual([3, 4]);
      expect(await b.flush()).toMatchObject({ accepted: 2, quarantined: [], remaining: 0 });
      expect(stored().map((e) => [e.seq, e.person_id])).toEqual([
        [1, 's-001'],
        [2, 's-002'],
        [3, 't-001'],
        [4, 's-003'],
      ]);
      expect(b.outbox.quarantined()).toEqual([]);
    } finally {
      wiped.cleanup();
    }
  });

  it('an event recorded while the gate clock ran fast is refused, then stored as recorded once released after its time', async () => {
    let offsetMs = 0;
    const g = await gate(data.dir, { now: () => server.platform.clock.now() + offsetMs });
    await g.syncNow();
    offsetMs = 3_600_000; // then an hour fast while it scans
    const at = server.platform.clock.now() + offsetMs;
    const r = await g.scan(await qrOf(server, 's-001', at / 1000), READER, { kind: 'access' });
    expect(r.decision.accepted).toBe(true);
    offsetMs = 0; // the clock is put right before the upload
    const first = await g.flush();
    expect(first.quarantined.map((q) => [q.event.seq, q.reason.code])).toEqual([[1, 'ERR_OCCURRED_AT']]);
    expect(stored()).toEqual([]);

    server.platform.clock.advance(3600); // the hour has passed
    await g.outbox.release();
    expect(await g.flush()).toMatchObject({ accepted: 1, quarantined: [], remaining: 0 });
    expect(stored()).toEqual([{ seq: 2, person_id: 's-001', occurred_at: at }]);
  });
});
