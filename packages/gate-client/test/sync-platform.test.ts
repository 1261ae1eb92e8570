/**
 * The gate client's material sync against the mock platform, with the real verifier: a 304 keeps
 * the copy held and its age counts from its signing time (a sync is not a re-signing); each change
 * reaches the gate as a new version of the document it touches, the others answered 304.
 */
import type { RunningMockPlatform } from '@campus-card/mock-server';
import { createVerifier } from '@campus-card/verifier';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createGateClient, type GateClient } from '../src/index.js';
import { cardOf, OPERATOR, qrOf, rootKeyOf, startDemo, tempDir } from './helpers.js';

let server: RunningMockPlatform;
let data: ReturnType<typeof tempDir>;
let client: GateClient | undefined;
beforeEach(async () => {
  server = await startDemo();
  data = tempDir();
});
afterEach(async () => {
  await client?.close();
  client = undefined;
  await server.close();
  data.cleanup();
});

const READER = { id: 'gate-01', zone: 'gate:main', direction: 'in' } as const;

it('a 304 keeps the copy and its age; a card reported lost arrives as a new status list only', async () => {
  const device = server.platform.demo?.devices.find((d) => d.id === 'gate-01');
  if (device === undefined) throw new Error('no demo gate');
  const g = await createGateClient({
    baseUrl: server.url,
    deviceId: 'gate-01',
    schoolId: 'sch-demo',
    privateKey: device.privateJwk,
    verifier: createVerifier({ rootKeys: [await rootKeyOf(server)] }),
    dataDir: data.dir,
    now: () => server.platform.clock.now(),
    outbox: { firstSeq: 1 },
    transport: { maxRetries: 0 },
  });
  client = g;
  expect((await g.syncNow()).ok).toBe(true);
  const signedAt = g.status().statusList.signedAt as number;
  server.platform.clock.advance(600);
  const again = await g.syncNow();
  expect([again.trustList.outcome, again.statusList.outcome, again.roster.outcome]).toEqual([
    'unchanged',
    'unchanged',
    'unchanged',
  ]);
  const st = g.status().statusList;
  expect([st.signedAt, st.age, st.lastSyncAt]).toEqual([
    signedAt,
    server.platform.clock.nowSeconds() - signedAt,
    server.platform.clock.nowSeconds(),
  ]);

  const version = st.version as number;
  const lost = await server.platform.invoke(
    'reportCardLost',
    { params: { card_id: cardOf(server, 's-001') } },
    OPERATOR,
  );
  expect(lost.status).toBe(200);
  const after = await g.syncNow();
  expect(after.statusList).toEqual({ outcome: 'updated', version: version + 1 });
  expect([after.trustList.outcome, after.roster.outcome]).toEqual(['unchanged', 'unchanged']);
  const r = await g.scan(await qrOf(server, 's-001'), READER, { kind: 'access' });
  expect([r.decision.accepted, r.decision.accepted ? null : r.decision.reason]).toEqual([false, 'REVOKED']);
});
