/**
 * What the demo credentials give a vendor without a signed request: the school's root public key
 * (the reader's trust anchor, as `GET /v1/schools/{id}/root-key` serves it), and each device's
 * merchant and offline caps (as `GET /v1/devices/{device_id}` answers them). A reader configured
 * with the printed root key alone verifies a demo card's code.
 */

import { importPublicJwk } from '@campus-card/core';
import type { Device } from '@campus-card/core/api';
import { createVerifier } from '@campus-card/verifier';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_OPERATOR } from '../src/demo.js';
import type { MockPlatform } from '../src/index.js';
import { demoPlatform, qrOf } from './helpers.js';

let platform: MockPlatform | undefined;
afterEach(async () => {
  await platform?.close();
  platform = undefined;
});

describe('demo credentials', () => {
  it("hold the school's root public key: the root-key route's, no private part, and it verifies a demo code", async () => {
    platform = await demoPlatform();
    const demo = platform.demo!;
    const served = await platform.invoke(
      'getRootKey',
      { params: { school_id: demo.schoolId } },
      DEMO_OPERATOR,
    );
    expect(served.status).toBe(200);
    expect(demo.rootPublicJwk).toEqual((served.body as { jwk: unknown }).jwk);
    expect(demo.rootPublicJwk).toMatchObject({ kty: 'EC', crv: 'P-256' });
    expect(demo.rootPublicJwk).not.toHaveProperty('d');

    const now = platform.clock.nowSeconds();
    const material = async (op: 'getTrustList' | 'getStatusList') => {
      const r = await platform!.invoke(op, { params: { school_id: demo.schoolId } }, DEMO_OPERATOR);
      expect(r.status).toBe(200);
      return r.binary as Uint8Array;
    };
    const verifier = createVerifier({ rootKeys: [importPublicJwk(demo.rootPublicJwk)] });
    expect(verifier.loadTrustList(await material('getTrustList'), { now }).ok).toBe(true);
    expect(verifier.loadStatusList(await material('getStatusList'), { now }).ok).toBe(true);
    const decision = await verifier.verify(await qrOf(platform, 's-001'), { now, reader: { id: 'gate-01' } });
    expect(decision).toMatchObject({ accepted: true, role: 'student' });
  });

  it('derive the root key from the seed, as every demo key: the same on every fresh database of one seed', async () => {
    const rootOf = async (seed: number) => {
      const p = await demoPlatform({ seed });
      try {
        return p.demo!.rootPublicJwk;
      } finally {
        await p.close();
      }
    };
    const first = await rootOf(3);
    expect(await rootOf(3)).toEqual(first);
    expect(await rootOf(4)).not.toEqual(first);
  });

  it("give each device's merchant and offline caps as the device route answers them, at the platform's day offset", async () => {
    platform = await demoPlatform({ dayUtcOffset: '-05:00' });
    const demo = platform.demo!;
    expect(demo.devices.length).toBeGreaterThan(0);
    for (const d of demo.devices) {
      const r = await platform.invoke('getDevice', { params: { device_id: d.id } }, DEMO_OPERATOR);
      const served = r.body as Device;
      expect({
        merchantId: d.merchantId,
        offlineTxCap: d.offlineTxCap,
        offlineDeviceCap: d.offlineDeviceCap,
        offlineDayUtcOffset: d.offlineDayUtcOffset,
      }).toEqual({
        merchantId: served.merchant_id,
        offlineTxCap: served.offline_tx_cap,
        offlineDeviceCap: served.offline_device_cap,
        offlineDayUtcOffset: served.offline_day_utc_offset,
      });
    }
    expect(demo.devices.find((d) => d.id === 'pos-01')).toMatchObject({
      merchantId: 'm-canteen-s',
      offlineTxCap: 5_000,
      offlineDeviceCap: 50_000,
      offlineDayUtcOffset: '-05:00',
    });
    expect(demo.devices.find((d) => d.id === 'gate-01')).toMatchObject({ merchantId: null });
  });
});
