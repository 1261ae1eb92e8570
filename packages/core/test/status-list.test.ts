/**
 * Status lists (spec §6.1): packing and reading statuses, and indexes outside the list.
 */
import { describe, expect, it } from 'vitest';
import { getStatus, packStatuses, type StatusList } from '../src/index.js';

const NOW = 1_767_225_600;

function list(bits: 1 | 2 | 4 | 8, lst: Uint8Array): StatusList {
  return { school: '10001', version: 1, iat: NOW, bits, lst };
}

describe('getStatus', () => {
  it('reads every packed value back, for every width', () => {
    for (const bits of [1, 2, 4, 8] as const) {
      const statuses = Array.from({ length: 37 }, (_, i) => (i * 7) % (1 << bits));
      const l = list(bits, packStatuses(statuses, bits));
      for (let i = 0; i < statuses.length; i++) expect(getStatus(l, i)).toBe(statuses[i]);
    }
  });

  it('is undefined for an index past the end of the list', () => {
    const l = list(2, new Uint8Array(250)); // 1000 entries
    expect(getStatus(l, 999)).toBe(0);
    expect(getStatus(l, 1000)).toBeUndefined();
    expect(getStatus(list(8, new Uint8Array(3)), 3)).toBeUndefined();
  });

  it('is undefined for an index whose bit offset passes 2^31 (no 32-bit wrap-around)', () => {
    const l = list(2, new Uint8Array(250));
    expect(getStatus(l, 2 ** 31)).toBeUndefined();
    expect(getStatus(l, 2 ** 30)).toBeUndefined();
    expect(getStatus(list(1, new Uint8Array(250)), 2 ** 32)).toBeUndefined();
    expect(getStatus(list(8, new Uint8Array(250)), 2 ** 29)).toBeUndefined();
    expect(getStatus(list(8, new Uint8Array(250)), 0xffffffff)).toBeUndefined();
  });

  it('is undefined for a negative, fractional or unsafe index', () => {
    const l = list(2, new Uint8Array(250));
    for (const bad of [-1, -(2 ** 31), 0.5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      expect(getStatus(l, bad)).toBeUndefined();
    }
  });
});
