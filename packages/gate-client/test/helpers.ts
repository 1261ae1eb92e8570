import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createPresentation,
  encodeQr,
  fromBase64Url,
  importPrivateJwk,
  importPublicJwk,
  type PublicKey,
} from '@campus-card/core';
import {
  createClock,
  DEMO_OPERATOR,
  type RunningMockPlatform,
  startMockPlatform,
} from '@campus-card/mock-server';
import { createVerifier } from '@campus-card/verifier';
import { createGateClient, type GateClient, type GateClientOptions } from '../src/index.js';

export const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);

export const OPERATOR = DEMO_OPERATOR;

/** A mock platform with demo data and a frozen virtual clock at T0. */
export async function startDemo(): Promise<RunningMockPlatform> {
  return startMockPlatform({
    demo: true,
    clock: createClock({ start: T0, frozen: true }),
    pushIntervalMs: 50,
  });
}

/**
 * The demo gate `gate-01` on `server`, with its data in `dataDir`, on the platform's clock, its
 * outbox numbered from 1 and no transport retries; pushed to `clients` so the test closes it.
 */
export async function demoGate(
  server: RunningMockPlatform,
  rootKey: PublicKey,
  dataDir: string,
  clients: GateClient[],
  overrides: Partial<GateClientOptions> = {},
): Promise<GateClient> {
  const device = server.platform.demo?.devices.find((d) => d.id === 'gate-01');
  if (device === undefined) throw new Error('no demo gate');
  const client = await createGateClient({
    baseUrl: server.url,
    deviceId: 'gate-01',
    schoolId: 'sch-demo',
    privateKey: device.privateJwk,
    verifier: createVerifier({ rootKeys: [rootKey] }),
    dataDir,
    now: () => server.platform.clock.now(),
    outbox: { firstSeq: 1 },
    transport: { maxRetries: 0 },
    ...overrides,
  });
  clients.push(client);
  return client;
}

/** The school's root public key (configured in readers out of band). */
export async function rootKeyOf(server: RunningMockPlatform): Promise<PublicKey> {
  const r = await server.platform.invoke('getRootKey', { params: { school_id: 'sch-demo' } }, OPERATOR);
  return importPublicJwk((r.body as { jwk: unknown }).jwk);
}

/** A fresh QR code of a demo person's card, made at `t` (default: the platform clock). */
export async function qrOf(
  server: RunningMockPlatform,
  personId: string,
  t?: number,
  scene?: number,
): Promise<string> {
  const c = server.platform.demo?.cards.find((x) => x.personId === personId);
  if (c === undefined) throw new Error(`no card for ${personId}`);
  const credential = fromBase64Url(c.credential);
  if (credential === undefined) throw new Error('bad credential');
  const bytes = await createPresentation(
    { credential, t: t ?? server.platform.clock.nowSeconds(), ...(scene === undefined ? {} : { scene }) },
    importPrivateJwk(c.holderPrivateJwk),
  );
  return encodeQr(bytes);
}

export function cardOf(server: RunningMockPlatform, personId: string): string {
  const c = server.platform.demo?.cards.find((x) => x.personId === personId);
  if (c === undefined) throw new Error(`no card for ${personId}`);
  return c.cardId;
}

/** A temporary data directory, removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'gate-client-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * What a power cut leaves of a gate client's data-directory lock, for a test that abandons a
 * client in its own process: the lock file, naming a process that no longer runs (a real one, just
 * ended), which the next boot takes over.
 */
export function leaveLockOfDeadProcess(dataDir: string): void {
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  writeFileSync(join(dataDir, 'lock'), JSON.stringify({ pid: dead, boot: null, start: null }));
}
