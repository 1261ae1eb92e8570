import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Device } from '@campus-card/core/api';
import { checkLedger, type Principal, type RunningMockPlatform } from '@campus-card/mock-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createFileOutbox,
  createMemoryOutbox,
  type OfflineCaps,
  type OutboxStore,
  type SyncResult,
} from '../src/index.js';
import { posFor, qrOf, startPlatform } from './platform.js';

// The platform's caps of pos-01, lowered so that the demo wallets can pay for a full day of them.
const TX_CAP = 1_000;
const DEVICE_CAP = 2_000;
const DAY = 86_400_000;

let server: RunningMockPlatform;
let dir: string;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  server = await startPlatform();
  server.platform.state.db
    .prepare('UPDATE devices SET offline_tx_cap = ?, offline_device_cap = ? WHERE device_id = ?')
    .run(TX_CAP, DEVICE_CAP, 'pos-01');
  dir = await mkdtemp(join(tmpdir(), 'pos-caps-'));
});
afterEach(async () => {
  server.platform.state.faults.clear();
  for (const c of closers.splice(0)) await c();
  expect(checkLedger(server.platform.state)).toMatchObject({ balanced: true, problems: [] });
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

/** The demo operator, for calls without HTTP. */
const operator = (): Principal => ({
  id: server.platform.demo?.operator.id as string,
  kind: 'operator',
  schoolId: server.platform.demo?.schoolId as string,
  merchantId: null,
  zone: null,
  deviceType: null,
});

/**
 * The POS configured with the platform's own caps of the device, as the conformance harness does,
 * and the offset its daily cap counts by (`offline_day_utc_offset`, +08:00 by default).
 */
async function platformCaps(): Promise<OfflineCaps> {
  const d = (await server.platform.invoke('getDevice', { params: { device_id: 'pos-01' } }, operator()))
    .body as Device;
  return {
    perTransactionFen: d.offline_tx_cap,
    totalFen: d.offline_device_cap,
    dayUtcOffset: d.offline_day_utc_offset,
    maxAgeSeconds: 3_600,
  };
}

async function client(outbox: OutboxStore, caps?: Partial<OfflineCaps>) {
  const c = posFor(server, {
    offline: { outbox, caps: { ...(await platformCaps()), ...caps }, startOffline: true },
  });
  closers.push(c.close);
  return c.pos;
}

/** Moves the platform's clock (which the POS shares) to 10:00 UTC of a day after today's. */
function morningOfANewDay(): number {
  const now = server.platform.clock.now();
  const next = Math.floor(now / DAY) * DAY + DAY + 10 * 3_600_000;
  server.platform.clock.set(next);
  return next;
}

async function sell(pos: Awaited<ReturnType<typeof client>>, payer: string, amountFen: number) {
  try {
    return (await pos.scanToPay({ qr: await qrOf(server, payer), amountFen })).status;
  } catch (e) {
    return (e as { code?: string; cap?: string }).code === 'ERR_POS_OFFLINE_CAP'
      ? `cap:${(e as { cap: string }).cap}`
      : Promise.reject(e);
  }
}

const refusedForCap = (r: SyncResult) => r.rejected.filter((x) => x.code === 'ERR_OFFLINE_CAP');

describe("offline caps match the platform's per-device cap per business day (audit 4)", () => {
  it('after a sync, the day total still counts the uploaded sales: nothing the platform refuses for its cap is sold offline, also across a restart', async () => {
    morningOfANewDay();
    const file = join(dir, 'morning.jsonl');
    const outbox1 = await createFileOutbox(file);
    const pos1 = await client(outbox1);
    // the morning: the whole day's cap, sold offline and uploaded
    expect(await sell(pos1, 's-001', 1_000)).toBe('offline_accepted');
    expect(await sell(pos1, 's-002', 1_000)).toBe('offline_accepted');
    expect(await sell(pos1, 's-001', 1)).toBe('cap:total');
    const morning = await pos1.sync();
    expect(morning).toMatchObject({ accepted: 2, rejected: [], complete: true });
    await outbox1.close();

    // a restart later the same day: the platform would refuse any further offline sale of today
    server.platform.clock.advance(3_600);
    const outbox2 = await createFileOutbox(file);
    const pos2 = await client(outbox2);
    const afternoon = [await sell(pos2, 's-001', 500), await sell(pos2, 's-002', 1)];
    const upload = await pos2.sync();
    expect(refusedForCap(upload)).toEqual([]); // goods were never handed over for a refused sale
    expect(afternoon).toEqual(['cap:total', 'cap:total']);

    // the next day (at +08:00) has a cap of its own
    server.platform.clock.advance(DAY / 1000);
    expect(await sell(pos2, 's-001', 1_000)).toBe('offline_accepted');
    expect(await pos2.sync()).toMatchObject({ accepted: 1, rejected: [], complete: true });
    await outbox2.close();
  });

  it('a crash between upload and recording counts the sales once; a sale the platform refused does not count', async () => {
    morningOfANewDay();
    const file = join(dir, 'crash.jsonl');
    const outbox1 = await createFileOutbox(file);
    const crashing: OutboxStore = {
      append: (e) => outbox1.append(e),
      pending: () => outbox1.pending(),
      ack: async () => {
        throw new Error('power cut');
      },
      quarantine: (s, r) => outbox1.quarantine(s, r),
      quarantined: () => outbox1.quarantined(),
      close: () => outbox1.close(),
    };
    const pos1 = await client(crashing);
    const qr = await qrOf(server, 's-001');
    expect((await pos1.scanToPay({ qr, amountFen: 800 })).status).toBe('offline_accepted');
    // the same code again: the platform refuses it at upload (ERR_CODE_ALREADY_USED), so it does not count there
    expect((await pos1.scanToPay({ qr, amountFen: 700 })).status).toBe('offline_accepted');
    expect(await pos1.sync()).toMatchObject({ complete: false }); // uploaded, then the power cut
    await outbox1.close();

    // restart: the sales are still pending (counted as such), the re-upload answers duplicates
    const outbox2 = await createFileOutbox(file);
    const pos2 = await client(outbox2);
    expect(await sell(pos2, 's-002', 1_000)).toBe('cap:total'); // 800 + 700 pending + 1 000 > 2 000
    const again = await pos2.sync();
    // (the same batch again: the platform replays its first answer, or answers duplicates)
    expect(again).toMatchObject({ complete: true });
    expect(again.accepted + again.duplicates).toBe(1);
    expect(again.rejected.map((r) => r.code)).toEqual(['ERR_CODE_ALREADY_USED']);
    await outbox2.close();

    // restart again: 800 fen accepted today, once; the refused 700 do not count
    const outbox3 = await createFileOutbox(file);
    const pos3 = await client(outbox3);
    expect(await sell(pos3, 's-002', 1_000)).toBe('offline_accepted');
    expect(await sell(pos3, 's-002', 201)).toBe('cap:total');
    expect(await sell(pos3, 's-002', 200)).toBe('offline_accepted'); // 800 + 1 000 + 200 = the cap
    const last = await pos3.sync();
    expect(last).toMatchObject({ accepted: 2, rejected: [], complete: true });
    await outbox3.close();
  });
});

describe('the day is the business day at +08:00 on the POS as on the platform', () => {
  it('a sale at 07:30 in Beijing (23:30Z the day before) counts towards that local day on both', async () => {
    const now = server.platform.clock.now();
    const midnightZ = Math.floor(now / DAY) * DAY + 2 * DAY; // 08:00 in Beijing
    server.platform.clock.set(midnightZ - 30 * 60_000); // 23:30Z, 07:30 in Beijing
    const outbox = await createFileOutbox(join(dir, 'beijing.jsonl'));
    closers.push(() => outbox.close());
    const right = await client(outbox);
    expect((await platformCaps()).dayUtcOffset).toBe('+08:00');
    expect(await sell(right, 's-001', 1_000)).toBe('offline_accepted');
    expect(await sell(right, 's-002', 1_000)).toBe('offline_accepted');
    expect(await right.sync()).toMatchObject({ accepted: 2, rejected: [], complete: true });
    // 10:00 in Beijing, a new UTC day, the same local day: the cap is reached on both
    server.platform.clock.set(midnightZ + 2 * 3_600_000);
    expect(await sell(right, 's-001', 1)).toBe('cap:total');
    // a POS counting UTC days sells it offline, and the platform refuses it at upload
    const wrong = await client(createMemoryOutbox({ now: () => server.platform.clock.now() }), {
      dayUtcOffset: '+00:00',
    });
    expect(await sell(wrong, 's-001', 500)).toBe('offline_accepted');
    expect(refusedForCap(await wrong.sync())).toHaveLength(1);
    // 00:00 in Beijing: the next local day has a cap of its own
    server.platform.clock.set(midnightZ + 16 * 3_600_000);
    expect(await sell(right, 's-002', 1_000)).toBe('offline_accepted');
    expect(await right.sync()).toMatchObject({ accepted: 1, rejected: [], complete: true });
  });
});
