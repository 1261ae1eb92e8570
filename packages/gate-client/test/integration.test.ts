import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PublicKey } from '@campus-card/core';
import type { RunningMockPlatform } from '@campus-card/mock-server';
import { createVerifier } from '@campus-card/verifier';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GateClient, GateClientOptions } from '../src/index.js';
import { cardOf, demoGate, OPERATOR, qrOf, rootKeyOf, startDemo, tempDir } from './helpers.js';

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

const gate = (overrides: Partial<GateClientOptions> = {}): Promise<GateClient> =>
  demoGate(server, rootKey, data.dir, clients, overrides);

const READER = { id: 'gate-01', zone: 'gate:main', direction: 'in' } as const;

function storedEvents(): {
  seq: number;
  decision: string;
  card_id: string | null;
  reason: string | null;
  audit: string | null;
}[] {
  return server.platform.state.db
    .prepare(
      "SELECT seq, decision, card_id, reason, audit FROM events WHERE device_id = 'gate-01' ORDER BY seq",
    )
    .all() as never;
}

describe('gate client against the mock platform', () => {
  it('syncs, verifies a fresh demo QR offline, then gets 304s on the next sync', async () => {
    const g = await gate();
    const first = await g.syncNow();
    expect(first.ok).toBe(true);
    expect(first.trustList.outcome).toBe('updated');
    expect(first.statusList.outcome).toBe('updated');
    expect(first.roster.outcome).toBe('updated');

    const r = await g.scan(await qrOf(server, 's-001'), READER, { kind: 'access' });
    expect(r.source).toBe('offline');
    expect(r.decision.accepted).toBe(true);
    expect(r.decision.accepted && r.decision.cardId).toBe(cardOf(server, 's-001'));

    const second = await g.syncNow();
    expect([second.trustList.outcome, second.statusList.outcome, second.roster.outcome]).toEqual([
      'unchanged',
      'unchanged',
      'unchanged',
    ]);
    const etagHits = server.platform.recorder.entries.filter(
      (e) => e.kind === 'request' && e.status === 304,
    ).length;
    expect(etagHits).toBe(3);
  });

  it('keeps the trust material across a restart with no network', async () => {
    const online = await gate();
    expect((await online.syncNow()).ok).toBe(true);
    await online.close();
    clients.splice(0);

    const offline = await gate({ baseUrl: 'http://127.0.0.1:9' });
    const st = offline.status();
    expect(st.trustList.held && st.statusList.held && st.roster.held).toBe(true);
    const r = await offline.scan(await qrOf(server, 's-002'), READER, { kind: 'attendance' });
    expect(r.decision.accepted).toBe(true);
    const report = await offline.syncNow();
    expect(report.ok).toBe(false);
    expect(report.trustList.outcome).toBe('failed');
    expect(offline.status().trustList.lastError?.code).toBe('ERR_CONNECTION');
    // the material is still the last good one
    expect(offline.status().trustList.version).toBe(st.trustList.version);
  });

  it('uploads events once after a crash between upload and cursor write', async () => {
    const a = await gate({
      hooks: {
        afterUpload: () => {
          throw new Error('power cut');
        },
      },
    });
    await a.syncNow();
    for (const p of ['s-001', 's-002', 't-001'])
      await a.scan(await qrOf(server, p), READER, { kind: 'access' });
    await expect(a.flush()).rejects.toThrow('power cut');
    expect(storedEvents()).toHaveLength(3);
    expect(a.outbox.depth).toBe(3);
    await a.close();
    clients.splice(0);

    const b = await gate({ baseUrl: server.url });
    expect(b.outbox.depth).toBe(3);
    const report = await b.flush();
    expect(report).toEqual({ batches: 1, accepted: 0, duplicates: 3, quarantined: [], remaining: 0 });
    await b.scan(await qrOf(server, 's-003'), READER, { kind: 'access' });
    expect(await b.flush()).toMatchObject({ accepted: 1, duplicates: 0, remaining: 0 });
    const events = storedEvents();
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(events.every((e) => e.decision === 'allowed')).toBe(true);
    // the decision audit travels with the event (issue 7 §3)
    const audit = JSON.parse(events[0]?.audit ?? 'null');
    expect(audit).toMatchObject({
      trust_list: { version: expect.any(Number) },
      clock: '2026-01-05T08:00:00Z',
    });
    expect(audit.last_sync_at).toBe('2026-01-05T08:00:00Z');
  });

  it('an event the platform refuses (written by an older version) is quarantined; the others upload', async () => {
    const a = await gate();
    await a.syncNow();
    for (const p of ['s-001', 's-002']) await a.scan(await qrOf(server, p), READER, { kind: 'access' });
    await a.close();
    clients.splice(0);
    // a line the contract does not take (an extra member) between two good ones
    const file = join(data.dir, 'outbox', 'events.jsonl');
    const [l1, l2] = readFileSync(file, 'utf8').trimEnd().split('\n') as [string, string];
    const old = { ...(JSON.parse(l2) as object), seq: 3, legacy_flag: true };
    const l4 = JSON.stringify({ ...(JSON.parse(l2) as object), seq: 4 });
    writeFileSync(file, `${l1}\n${l2}\n${JSON.stringify(old)}\n${l4}\n`);

    const b = await gate();
    const r = await b.flush();
    expect(r).toMatchObject({ remaining: 0 });
    expect(r.quarantined.map((q) => [q.event.seq, q.reason.status])).toEqual([[3, 400]]);
    expect(storedEvents().map((e) => e.seq)).toEqual([1, 2, 4]);
    expect(b.outbox.ackedSeq).toBe(4);
  });

  it('events under seqs the platform holds other events for (a wiped data directory) are quarantined, not lost', async () => {
    const a = await gate();
    await a.syncNow();
    for (const p of ['s-001', 's-002']) await a.scan(await qrOf(server, p), READER, { kind: 'access' });
    expect(await a.flush()).toMatchObject({ accepted: 2, remaining: 0 });
    await a.close();
    clients.splice(0);
    // the same gate on an empty data directory, numbering from 1 again
    const wiped = tempDir();
    try {
      const b = await gate({ dataDir: wiped.dir });
      await b.syncNow();
      for (const p of ['t-001', 's-003', 't-002'])
        await b.scan(await qrOf(server, p), READER, { kind: 'access' });
      const r = await b.flush();
      expect(r.quarantined.map((q) => [q.event.seq, q.reason.status, q.reason.code])).toEqual([
        [1, 409, 'ERR_CONFLICT'],
        [2, 409, 'ERR_CONFLICT'],
      ]);
      expect(r).toMatchObject({ accepted: 1, remaining: 0 });
      // the platform kept the first events, and took the third; the two others wait on disk
      const persons = server.platform.state.db
        .prepare("SELECT seq, person_id FROM events WHERE device_id = 'gate-01' ORDER BY seq")
        .all();
      expect(persons).toEqual([
        { seq: 1, person_id: 's-001' },
        { seq: 2, person_id: 's-002' },
        { seq: 3, person_id: 't-002' },
      ]);
      expect(b.outbox.quarantined().map((q) => q.event.seq)).toEqual([1, 2]);
      await b.close();
      clients.splice(0);
    } finally {
      wiped.cleanup();
    }
  });

  it('denies a card reported lost after the next syncNow, and the event says which list it used', async () => {
    const g = await gate();
    await g.syncNow();
    const before = g.status().statusList.version;
    expect((await g.scan(await qrOf(server, 's-001'), READER, { kind: 'access' })).decision.accepted).toBe(
      true,
    );

    const lost = await server.platform.invoke(
      'reportCardLost',
      { params: { card_id: cardOf(server, 's-001') }, body: { reason: 'lost on the bus' } },
      OPERATOR,
    );
    expect(lost.status).toBe(200);
    server.platform.clock.advance(60);
    // not synced yet: still admitted offline
    expect((await g.scan(await qrOf(server, 's-001'), READER, { kind: 'access' })).decision.accepted).toBe(
      true,
    );

    const report = await g.syncNow();
    expect(report.statusList.outcome).toBe('updated');
    expect(report.statusList.version).toBeGreaterThan(before ?? 0);
    const r = await g.scan(await qrOf(server, 's-001'), READER, { kind: 'access' });
    expect(r.decision.accepted).toBe(false);
    expect(!r.decision.accepted && r.decision.reason).toBe('REVOKED');

    await g.flush();
    const events = storedEvents();
    expect(events.map((e) => [e.decision, e.reason])).toEqual([
      ['allowed', null],
      ['allowed', null],
      ['denied', 'REVOKED'],
    ]);
    const audits = events.map((e) => JSON.parse(e.audit ?? 'null') as { status_list: { version: number } });
    expect(audits[1]?.status_list.version).toBe(before);
    expect(audits[2]?.status_list.version).toBe(report.statusList.version);
  });

  it('reports staleness long before the limit, then denies past it', async () => {
    const g = await gate();
    await g.syncNow();
    expect(g.status().alerts).toEqual([]);
    expect(g.status().statusList).toMatchObject({ state: 'fresh', stale: false, alert: false, age: 0 });

    server.platform.clock.advance(13 * 3600); // past half of the 1-day status list limit
    const s = g.status();
    expect(s.statusList).toMatchObject({ state: 'fresh', stale: false, alert: true, age: 13 * 3600 });
    expect(s.alerts.some((a) => a.startsWith('status list'))).toBe(true);

    server.platform.clock.advance(12 * 3600);
    expect(g.status().statusList).toMatchObject({ state: 'stale', stale: true });
    const denied = await g.scan(await qrOf(server, 's-002'), READER, { kind: 'access' });
    expect(!denied.decision.accepted && denied.decision.reason).toBe('STATUS_LIST_STALE');

    // a sync brings a freshly signed list (the platform re-signs stale material) or keeps alerting
    const hb = await g.heartbeat();
    expect(hb.device_id).toBe('gate-01');
    const row = server.platform.state.db
      .prepare("SELECT body FROM device_heartbeats WHERE device_id = 'gate-01'")
      .get() as { body: string };
    expect(JSON.parse(row.body)).toMatchObject({ status_list: { state: 'stale' }, outbox_depth: 1 });
  });

  it('runs sync, upload and heartbeat in the background after start(), until stop()', async () => {
    const errors: unknown[] = [];
    const g = await gate({
      syncIntervalMs: 20,
      flushIntervalMs: 20,
      heartbeatIntervalMs: 20,
      onError: (e) => errors.push(e),
    });
    g.start();
    await expect.poll(() => g.status().trustList.held, { timeout: 5000 }).toBe(true);
    await g.scan(await qrOf(server, 's-001'), READER, { kind: 'attendance' });
    await expect.poll(() => storedEvents().length, { timeout: 5000 }).toBe(1);
    await g.stop();
    expect(errors).toEqual([]);
    const beats = server.platform.state.db.prepare('SELECT COUNT(*) AS n FROM device_heartbeats').get() as {
      n: number;
    };
    expect(beats.n).toBe(1);
  });

  it('batchSize 500 with 500 events (over the 256 KiB body limit in one request) uploads them all', async () => {
    const g = await gate({ batchSize: 500 });
    // no trust material yet: every scan is denied and the event carries the code's text
    const qrs = await Promise.all(['s-001', 's-002', 's-003', 't-001'].map((p) => qrOf(server, p)));
    await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        g.scan(qrs[i % qrs.length] as string, READER, { kind: 'access' }),
      ),
    );
    const bytes = g.outbox.pending().reduce((n, e) => n + JSON.stringify(e).length, 0);
    expect(bytes).toBeGreaterThan(262_144); // one batch of all 500 would be refused with 413
    const report = await g.flush();
    expect(report).toMatchObject({ accepted: 500, duplicates: 0, remaining: 0 });
    expect(storedEvents()).toHaveLength(500);
  }, 60_000);

  it('falls back to online identity for a physical card not in the roster yet', async () => {
    const g = await gate();
    await g.syncNow();
    const uid = Uint8Array.from([0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66]);
    const link = await server.platform.invoke(
      'linkPhysicalCard',
      {
        params: { card_id: cardOf(server, 's-002') },
        body: { uid_hex: '04112233445566', card_number: 'PC-s-002' },
      },
      OPERATOR,
    );
    expect(link.status).toBe(200);
    const r = await g.scan({ uid }, READER, { kind: 'access' });
    expect(r.offline?.reason).toBe('UNKNOWN_CARD');
    expect(r.source).toBe('online');
    expect(r.identity?.identity.person_id).toBe('s-002');
    expect(r.decision.accepted).toBe(true);
    await g.flush();
    const [ev] = storedEvents();
    expect(ev?.card_id).toBe(cardOf(server, 's-002'));
    expect(JSON.parse(ev?.audit ?? '{}').online).toBe(true);
  });

  it("an online fallback is judged by the reader's own policy too: the same rules, groups and anti-passback as offline", async () => {
    const g = await gate();
    await g.syncNow();
    const link = await server.platform.invoke(
      'linkPhysicalCard',
      {
        params: { card_id: cardOf(server, 's-002') },
        body: { uid_hex: '04112233445566', card_number: 'PC-2' },
      },
      OPERATOR,
    );
    expect(link.status).toBe(200);
    const tap = { uid: Uint8Array.from([0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66]) };
    // a teachers-only door: the platform knows the student, the reader's policy refuses them
    const teachers = {
      ...READER,
      policy: {
        id: 'staff-door',
        rules: [{ kind: 'roles' as const, id: 'teachers-only', allow: ['teacher' as const] }],
      },
    };
    const refused = await g.scan(tap, teachers, { kind: 'access' });
    expect(refused.source).toBe('online');
    expect(refused.decision).toMatchObject({
      accepted: false,
      reason: 'POLICY_DENIED',
      rule: 'teachers-only',
    });
    // a group rule decides on the groups the platform resolved (the student's class)
    const cls = refused.identity?.identity.groups.find((x) => x.startsWith('class:'));
    expect(cls).toBeDefined();
    const classroom = {
      ...READER,
      id: 'room-1',
      policy: {
        id: 'class-room',
        rules: [
          { kind: 'groups' as const, id: 'own-class', anyOf: [cls as string] },
          { kind: 'antiPassback' as const, id: 'room-apb', zone: 'room-1', minReentrySeconds: 0 },
        ],
      },
    };
    const admitted = await g.scan(tap, classroom, { kind: 'access' });
    expect(admitted.decision).toMatchObject({
      accepted: true,
      groups: expect.arrayContaining([cls]),
    });
    // the online admission went into the verifier's anti-passback state: inside now
    const again = await g.scan(tap, classroom, { kind: 'access' });
    expect(again.decision).toMatchObject({ accepted: false, reason: 'POLICY_DENIED', rule: 'room-apb' });
  });

  it('a code admitted online enters the offline replay window: once the material is in, it is REPLAYED here', async () => {
    const g = await gate();
    const fallback = { ...READER, onlineFallback: true };
    const qr = await qrOf(server, 's-001');
    // no trust material yet: the platform decides, and uses the code up
    const first = await g.scan(qr, fallback, { kind: 'access' });
    expect(first).toMatchObject({ source: 'online', offline: { reason: 'NO_TRUST_LIST' } });
    expect(first.decision.accepted).toBe(true);
    // the material arrives (or the network goes away): the same code offline is a second use
    expect((await g.syncNow()).ok).toBe(true);
    const again = await g.scan(qr, READER, { kind: 'access' });
    expect(again).toMatchObject({ source: 'offline', decision: { accepted: false, reason: 'REPLAYED' } });
  });

  it("an online fallback applies the reader's scene rule to the scene the code carries", async () => {
    const g = await gate();
    const door = {
      ...READER,
      onlineFallback: true,
      policy: { id: 'door', rules: [{ kind: 'scene' as const, id: 'access-codes', require: [1] }] },
    };
    const access = await g.scan(await qrOf(server, 's-001', undefined, 1), door, { kind: 'access' });
    expect(access).toMatchObject({ source: 'online', decision: { accepted: true, scene: 1 } });
    const none = await g.scan(await qrOf(server, 's-002'), door, { kind: 'access' });
    expect(none).toMatchObject({
      source: 'online',
      decision: { accepted: false, reason: 'POLICY_DENIED', rule: 'access-codes' },
    });
  });

  it('a code that passed here offline is not let in again online (its upload still queued)', async () => {
    const g = await gate({
      verifier: createVerifier({ rootKeys: [rootKey], maxStaleness: { statusList: 60 } }),
    });
    expect((await g.syncNow()).ok).toBe(true);
    const qr = await qrOf(server, 's-001');
    expect((await g.scan(qr, READER, { kind: 'access' })).decision.accepted).toBe(true);
    // the status list goes stale (no sync) before the accepted scan was uploaded; the platform
    // has not seen the code, but this reader has
    server.platform.clock.advance(61);
    const fallback = { ...READER, onlineFallback: true };
    const again = await g.scan(qr, fallback, { kind: 'access' });
    expect(again.offline?.reason).toBe('STATUS_LIST_STALE');
    expect(again).toMatchObject({ source: 'online', decision: { accepted: false, reason: 'REPLAYED' } });
  });
});
