/**
 * `pos.device()`: the terminal reads its own device resource (`GET /v1/devices/{device_id}`),
 * and with it the platform's offline caps of it. A POS configured with them sells offline nothing
 * the platform refuses at upload: on the demo `pos-01` (5 000 fen a sale, 50 000 a business day),
 * ten sales of 5 000 pass, the eleventh is refused at the counter, and the upload takes all ten.
 */
import type { RunningMockPlatform } from '@campus-card/mock-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryOutbox, isPosClientError } from '../src/index.js';
import { posFor, qrOf, startPlatform } from './platform.js';

let server: RunningMockPlatform;
beforeAll(async () => {
  server = await startPlatform();
});
afterAll(async () => {
  await server.close();
});

describe('pos.device()', () => {
  it("answers the platform's resource of this terminal, the one the mock prints at startup", async () => {
    const { pos, close } = posFor(server);
    try {
      const d = await pos.device();
      expect(d).toMatchObject({
        device_id: 'pos-01',
        school_id: 'sch-demo',
        type: 'pos',
        merchant_id: 'm-canteen-s',
        offline_tx_cap: 5_000,
        offline_device_cap: 50_000,
        offline_day_utc_offset: '+08:00',
      });
      const printed = server.platform.demo?.devices.find((x) => x.id === 'pos-01');
      expect(printed).toMatchObject({
        merchantId: d.merchant_id,
        offlineTxCap: d.offline_tx_cap,
        offlineDeviceCap: d.offline_device_cap,
        offlineDayUtcOffset: d.offline_day_utc_offset,
      });
      const aborted = new AbortController();
      aborted.abort(new Error('stop'));
      await expect(pos.device({ signal: aborted.signal })).rejects.toThrow('stop');
    } finally {
      await close();
    }
  });

  it('its caps keep offline sales within what the platform accepts (11 × 5 000 fen: 10 sold, 1 refused at the counter)', async () => {
    const { pos: probe, close: closeProbe } = posFor(server);
    const d = await probe.device();
    await closeProbe();
    const { pos, close } = posFor(server, {
      offline: {
        outbox: createMemoryOutbox(),
        caps: {
          perTransactionFen: d.offline_tx_cap,
          totalFen: d.offline_device_cap,
          dayUtcOffset: d.offline_day_utc_offset,
          maxAgeSeconds: 3_600,
        },
        startOffline: true,
      },
    });
    try {
      const outcomes: string[] = [];
      for (let i = 0; i < 11; i++) {
        const r = await pos
          .scanToPay({ qr: await qrOf(server, 'p-001'), amountFen: 5_000, outTradeNo: `DEV-CAP-${i}` })
          .then(
            (x) => x.status,
            (e: unknown) => (isPosClientError(e) ? `${e.code}:${e.cap}` : String(e)),
          );
        outcomes.push(r);
      }
      expect(outcomes).toEqual([...Array(10).fill('offline_accepted'), 'ERR_POS_OFFLINE_CAP:total']);
      pos.setOffline(false);
      const synced = await pos.sync();
      expect(synced.rejected).toEqual([]);
      expect(synced.quarantined).toEqual([]);
      expect(synced.accepted).toBe(10);
    } finally {
      await close();
    }
  });
});
