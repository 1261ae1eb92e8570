/**
 * A power cut right after a scan must not reopen the replay window (issue 3 §2): the gate's
 * verifier journals every accepted code before the door opens, and a restarted gate reads the
 * journal back on top of its last saved snapshot.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

async function boot(opts: { journal: boolean; url?: string; onError?: (e: unknown) => void }) {
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
    ...(opts.onError ? { onError: opts.onError } : {}),
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

  it('without the journal, a cut (a lock left behind) marks the window lost: codes made before the restart are refused, later ones admitted', async () => {
    const first = await boot({ journal: false });
    expect((await first.client.syncNow()).ok).toBe(true);
    const qr = await qrOf(server, 's-001');
    expect((await first.client.scan(qr, READER, { kind: 'access' })).decision.accepted).toBe(true);
    leaveLockOfDeadProcess(data.dir);
    const errors: unknown[] = [];
    const second = await boot({ journal: false, url: 'http://127.0.0.1:9', onError: (e) => errors.push(e) });
    open.push(second.client);
    const bootS = server.platform.clock.nowSeconds();
    expect((await second.client.scan(qr, READER, { kind: 'access' })).decision).toMatchObject({
      accepted: false,
      reason: 'CODE_TOO_OLD',
    });
    expect(errors).toEqual([
      expect.objectContaining({
        code: 'ERR_GATE_REPLAY_WINDOW_LOST',
        detail: { refusedThrough: bootS + 30 },
      }),
    ]);
    // a code the phone makes after the mark is admitted once
    server.platform.clock.advance(31);
    const fresh = await qrOf(server, 's-001');
    expect((await second.client.scan(fresh, READER, { kind: 'access' })).decision.accepted).toBe(true);
  });

  it('a clean close leaves nothing lost: the next start admits a code at once', async () => {
    const first = await boot({ journal: false });
    expect((await first.client.syncNow()).ok).toBe(true);
    await first.client.close();
    const errors: unknown[] = [];
    const second = await boot({ journal: false, url: 'http://127.0.0.1:9', onError: (e) => errors.push(e) });
    open.push(second.client);
    const qr = await qrOf(server, 's-002');
    expect((await second.client.scan(qr, READER, { kind: 'access' })).decision.accepted).toBe(true);
    expect(errors).toEqual([]);
  });

  for (const damage of ['damaged', 'deleted'] as const) {
    it(`a ${damage} state file with the journal: the codes of its snapshot are refused, not accepted again`, async () => {
      const first = await boot({ journal: true });
      expect((await first.client.syncNow()).ok).toBe(true);
      const qr = await qrOf(server, 's-001');
      expect((await first.client.scan(qr, READER, { kind: 'access' })).decision.accepted).toBe(true);
      await first.client.close(); // the snapshot now holds the code; the journal generation before it is gone
      first.journal?.close();
      const state = join(data.dir, 'verifier-state.bin');
      if (damage === 'deleted') rmSync(state);
      else {
        const bytes = readFileSync(state);
        bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
        writeFileSync(state, bytes);
      }
      const errors: unknown[] = [];
      const second = await boot({ journal: true, url: 'http://127.0.0.1:9', onError: (e) => errors.push(e) });
      open.push(second.client);
      expect((await second.client.scan(qr, READER, { kind: 'access' })).decision).toMatchObject({
        accepted: false,
        reason: 'CODE_TOO_OLD',
      });
      expect(errors.map((e) => (e as { code?: string }).code)).toContain('ERR_GATE_REPLAY_WINDOW_LOST');
    });
  }

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
