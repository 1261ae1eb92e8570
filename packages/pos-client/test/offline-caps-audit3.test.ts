import { describe, expect, it } from 'vitest';
import { createMemoryOutbox, createPosClient } from '../src/index.js';
import { assertCaps } from '../src/offline-caps.js';
import { assertPollSchedule } from '../src/poll-schedule.js';
import { deviceJwk, ORIGIN } from './helpers.js';

const ok = { perTransactionFen: 5_000, totalFen: 10_000, maxAgeSeconds: 3_600 };

describe('client options that hold amounts and delays (audit 3)', () => {
  it('offline caps in fen must be integers: a fraction, an unsafe integer or a negative is refused', () => {
    for (const bad of [
      { ...ok, perTransactionFen: 1.5 },
      { ...ok, totalFen: 10_000.01 },
      { ...ok, totalFen: 2 ** 53 },
      { ...ok, perTransactionFen: -1 },
      { ...ok, totalFen: Number.NaN },
    ]) {
      expect(() => assertCaps(bad), JSON.stringify(bad)).toThrow(RangeError);
      expect(() =>
        createPosClient({
          baseUrl: ORIGIN,
          deviceId: 'pos-01',
          privateKey: deviceJwk,
          offline: { outbox: createMemoryOutbox(), caps: bad },
        }),
      ).toThrow(RangeError);
    }
    expect(() => assertCaps(ok)).not.toThrow();
    expect(() => assertCaps({ perTransactionFen: 0, totalFen: 0, maxAgeSeconds: 0.5 })).not.toThrow();
  });

  it('a poll delay a timer cannot hold (it would fire at once) is refused', () => {
    expect(() => assertPollSchedule([0.5, 3_000_000])).toThrow(RangeError);
    expect(() => assertPollSchedule([2_147_483.648])).toThrow(RangeError);
    expect(() => assertPollSchedule([0, 2_147_483.647])).not.toThrow();
  });
});
