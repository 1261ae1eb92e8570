/**
 * A power cut right after a scan must not reopen the replay window (issue 3 §2): the gate's
 * verifier journals every accepted code before the door opens, and a restarted gate reads the
 * journal back on top of its last saved snapshot.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { PublicKey } from '@campus-card/core';
import type { RunningMockPlatform } from '@campus-card/mock-server';
import { createVerifier } from '@campus-card/verifier';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGateClient, type GateClient, openReplayJournalFile } from '../src/index.js';
import { leaveLockOfDeadProcess, qrOf, rootKeyOf, startDemo, tempDir } from './helpers.js';

let server: RunningMockPlatform;
let rootKey: PublicKey;
let data: ReturnType<typeof tempDir>;
const open: GateClient[] = [];

beforeEach(async () => {
  server = await startDemo();
  rootKey = await rootKeyOf(server);
  data = tempDir();
});

afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
  await server.close();
  data.cleanup();
});

const READER = { id: 'gate-01', zone: 'gate:main', direction: 'in' } as const;

async function boot(opts: { journal: boolean; url?: string }) {
  const device = server.platform.demo?.devices.find((d) => d.id === 'gate-01');
  if (device === undefined) throw new Error('no demo gate');
  const journal = opts.journal ? openReplayJournalFile(join(data.dir, 'replay.journal')) : undefined;
  const verifier = createVerifier({
    rootKeys: [rootKey],
    ...(journal ? { onReplayRecord: journal.onReplayRecord } : {}),
  });
  const client = await createGateClient({
    baseUrl: opts.url ?? server.url,
    deviceId: 'gate-01',
    schoolId: 'sch-demo',
    privateKey: device.privateJwk,
    verifier,
    dataDir: data.dir,
    now: () => server.platform.clock.now(),
    outbox: { firstSeq: 1 },
    transport: { maxRetries: 0 },
    ...(journal ? { replayJournal: journal } : {}),
  });
  return { client, journal };
}

describe('replay journal across a power cut', () => {
  it('a code accepted just before the cut is still refused after the restart', async () => {
    const first = await boot({ journal: true });
    expect((await first.client.syncNow()).ok).toBe(true); // saves a snapshot
    const qr = await qrOf(server, 's-001');
    expect((await first.client.scan(qr, READER, { kind: 'access' })).decision.accepted).toBe(true);
    // power cut: no close(), no saveState(); only what is on disk survives
    first.journal?.close();
    leaveLockOfDeadProcess(data.dir);

    const second = await boot({ journal: true, url: 'http://127.0.0.1:9' }); // and no network
    open.push(second.client);
    const again = await second.client.scan(qr, READER, { kind: 'access' });
    expect(again.decision).toMatchObject({ accepted: false, reason: 'REPLAYED' });
  });

  it('without the journal the same cut would reopen the window (the journal is what closes it)', async () => {
    const first = await boot({ journal: false });
    expect((await first.client.syncNow()).ok).toBe(true);
    const qr = await qrOf(server, 's-001');
    expect((await first.client.scan(qr, READER, { kind: 'access' })).decision.accepted).toBe(true);
    leaveLockOfDeadProcess(data.dir);
    const second = await boot({ journal: false, url: 'http://127.0.0.1:9' });
    open.push(second.client);
    expect((await second.client.scan(qr, READER, { kind: 'access' })).decision.accepted).toBe(true);
  });

  it('drops old generations once a later snapshot is saved', async () => {
    const g = await boot({ journal: true });
    open.push(g.client);
    await g.client.syncNow();
    await g.client.scan(await qrOf(server, 's-001'), READER, { kind: 'access' });
    await g.client.saveState();
    const files = readdirSync(data.dir).filter((f) => f.startsWith('replay.journal.'));
    expect(files).toHaveLength(1);
    expect(existsSync(join(data.dir, files[0] as string))).toBe(true);
  });
});
