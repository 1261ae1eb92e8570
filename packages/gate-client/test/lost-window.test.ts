/**
 * A replay window the gate cannot read back whole is marked lost (issue 3 §2: a power cut must not
 * reopen the window): after a close whose save failed, with a boot clock reading slow, and without
 * holding the data directory when the verifier cannot be marked.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PublicKey } from '@campus-card/core';
import type { RunningMockPlatform } from '@campus-card/mock-server';
import { createVerifier, type Verifier } from '@campus-card/verifier';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createGateClient, type GateClient } from '../src/index.js';
import { leaveLockOfDeadProcess, qrOf, rootKeyOf, startDemo, tempDir } from './helpers.js';

const fail = vi.hoisted(() => ({ stateWrite: false }));
vi.mock('../src/lib/fs-atomic.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/lib/fs-atomic.js')>();
  return {
    ...real,
    writeFileAtomic: async (path: string, data: Uint8Array | string) => {
      if (fail.stateWrite && path.endsWith('verifier-state.bin')) {
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      }
      return real.writeFileAtomic(path, data);
    },
  };
});

let server: RunningMockPlatform;
let rootKey: PublicKey;
let data: ReturnType<typeof tempDir>;
const open: GateClient[] = [];

beforeEach(async () => {
  server = await startDemo();
  rootKey = await rootKeyOf(server);
  data = tempDir();
  fail.stateWrite = false;
});

afterEach(async () => {
  fail.stateWrite = false;
  for (const c of open.splice(0)) await c.close();
  await server.close();
  data.cleanup();
});

const READER = { id: 'gate-01', zone: 'gate:main', direction: 'in' } as const;
const codeOf = (e: unknown) => (e as { code?: string }).code;

async function boot(
  opts: { url?: string; onError?: (e: unknown) => void; now?: () => number; verifier?: Verifier } = {},
) {
  const device = server.platform.demo?.devices.find((d) => d.id === 'gate-01');
  if (device === undefined) throw new Error('no demo gate');
  return createGateClient({
    baseUrl: opts.url ?? server.url,
    deviceId: 'gate-01',
    schoolId: 'sch-demo',
    privateKey: device.privateJwk,
    verifier: opts.verifier ?? createVerifier({ rootKeys: [rootKey] }),
    dataDir: data.dir,
    now: opts.now ?? (() => server.platform.clock.now()),
    outbox: { firstSeq: 1 },
    transport: { maxRetries: 0 },
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
}

/** The next start, offline unless `opts.url` says otherwise, with the errors it reported. */
async function reboot(opts: Parameters<typeof boot>[0] = {}): Promise<{ g: GateClient; errors: unknown[] }> {
  const errors: unknown[] = [];
  const g = await boot({ url: 'http://127.0.0.1:9', onError: (e) => errors.push(e), ...opts });
  open.push(g);
  return { g, errors };
}

/** The window is lost: the code accepted before is refused, never let in a second time. */
async function expectTooOld(g: GateClient, qr: string): Promise<void> {
  expect((await g.scan(qr, READER, { kind: 'access' })).decision).toMatchObject({
    accepted: false,
    reason: 'CODE_TOO_OLD',
  });
}

/** A first run: synced, and one code accepted. */
async function acceptOne(): Promise<{ first: GateClient; qr: string }> {
  const first = await boot();
  expect((await first.syncNow()).ok).toBe(true);
  const qr = await qrOf(server, 's-001');
  expect((await first.scan(qr, READER, { kind: 'access' })).decision.accepted).toBe(true);
  return { first, qr };
}

it('a close whose save failed leaves the lock behind: the next start marks the window lost, and the code is not used twice', async () => {
  const { first, qr } = await acceptOne();
  fail.stateWrite = true; // the disk is full at close
  await first.close();
  fail.stateWrite = false;
  const { g: second, errors } = await reboot();
  expect(errors.map(codeOf)).toContain('ERR_GATE_REPLAY_WINDOW_LOST');
  await expectTooOld(second, qr);
});

it('a boot clock reading slow: the mark starts at the latest clock reading the directory recorded (the accepted scan)', async () => {
  const { qr } = await acceptOne();
  leaveLockOfDeadProcess(data.dir); // a crash, and no replay journal
  let skewMs = -100_000; // the clock reads 100 s behind at boot (within the floor's tolerance)
  const { g: second, errors } = await reboot({ now: () => server.platform.clock.now() + skewMs });
  const lost = errors.find((e) => codeOf(e) === 'ERR_GATE_REPLAY_WINDOW_LOST') as {
    detail: { refusedThrough: number };
  };
  expect(lost.detail.refusedThrough).toBeGreaterThanOrEqual(server.platform.clock.nowSeconds() + 30);
  skewMs = -20_000; // 80 s later on the device clock: the code is within its window again
  await expectTooOld(second, qr);
});

it('a start that cannot mark the window (an older @campus-card/verifier) fails and leaves the lock behind: the next start marks it', async () => {
  const { qr } = await acceptOne();
  leaveLockOfDeadProcess(data.dir); // a crash, and no replay journal
  const older = { ...createVerifier({ rootKeys: [rootKey] }), markReplayWindowLost: undefined };
  const refused = await boot({ url: 'http://127.0.0.1:9', verifier: older as unknown as Verifier }).catch(
    (e: unknown) => e,
  );
  expect(refused).toBeInstanceOf(TypeError);
  const { g: second, errors } = await reboot();
  expect(errors.map(codeOf)).toContain('ERR_GATE_REPLAY_WINDOW_LOST');
  await expectTooOld(second, qr);
});

it('a boot clock 900 s slow, with a floor older than the scan: the mark still covers the code', async () => {
  const first = await boot();
  expect((await first.syncNow()).ok).toBe(true);
  server.platform.clock.advance(1200);
  const qr = await qrOf(server, 's-001');
  expect((await first.scan(qr, READER, { kind: 'access' })).decision.accepted).toBe(true);
  leaveLockOfDeadProcess(data.dir); // a crash, and no replay journal
  let skewMs = -900_000;
  const { g: second } = await reboot({ now: () => server.platform.clock.now() + skewMs });
  skewMs = -20_000; // the slow clock has reached the code's time
  await expectTooOld(second, qr);
});

it('recorded clock readings far ahead (a clock that once ran a year fast, a corrupt file) move the mark a day at most', async () => {
  const first = await boot();
  expect((await first.syncNow()).ok).toBe(true);
  await first.close();
  const yearAheadMs = server.platform.clock.now() + 365 * 86_400_000;
  const tl = join(data.dir, 'material', 'trust-list.json');
  writeFileSync(tl, JSON.stringify({ ...JSON.parse(readFileSync(tl, 'utf8')), fetched_at: yearAheadMs }));
  const ss = join(data.dir, 'sync-state.json');
  const saved = JSON.parse(readFileSync(ss, 'utf8'));
  saved.trustList.lastAttemptAt = 1e11; // not even unix seconds
  writeFileSync(ss, JSON.stringify(saved));
  leaveLockOfDeadProcess(data.dir);
  const { g: second, errors } = await reboot({ url: server.url });
  const lost = errors.find((e) => codeOf(e) === 'ERR_GATE_REPLAY_WINDOW_LOST') as {
    detail: { refusedThrough: number };
  };
  const bootS = server.platform.clock.nowSeconds();
  expect(lost.detail.refusedThrough).toBeLessThanOrEqual(bootS + 86_400 + 30);
  server.platform.clock.advance(86_431);
  expect((await second.syncNow()).ok).toBe(true);
  const fresh = await qrOf(server, 's-002');
  expect((await second.scan(fresh, READER, { kind: 'access' })).decision.accepted).toBe(true);
});

it('a second close() waits for the first: the directory is free once either resolves', async () => {
  const g = await boot();
  const a = g.close();
  await g.close();
  const next = await boot({ url: 'http://127.0.0.1:9' });
  open.push(next);
  await a;
});

it('an onError that throws stops nothing: the start goes on, the lock is released at close', async () => {
  const first = await boot();
  expect((await first.syncNow()).ok).toBe(true);
  await first.close();
  rmSync(join(data.dir, 'verifier-state.bin')); // reported at start: ERR_GATE_REPLAY_WINDOW_LOST
  const seen: unknown[] = [];
  const second = await boot({
    url: 'http://127.0.0.1:9',
    onError: (e) => {
      seen.push(e);
      throw new Error('the handler failed');
    },
  });
  expect(seen.map(codeOf)).toContain('ERR_GATE_REPLAY_WINDOW_LOST');
  await second.close();
  const third = await boot({ url: 'http://127.0.0.1:9' });
  open.push(third);
});
