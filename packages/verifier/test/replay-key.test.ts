import { describe, expect, it } from 'vitest';
import { replayDigest } from '../src/replay-key.js';

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const kid = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 0xff]);
const nonce = new Uint8Array([9, 8, 7, 6]);

describe('replayDigest', () => {
  // pinned: the digest is persisted (snapshots, journals) and shared (Redis keys between readers),
  // so its bytes must never change between versions
  it.each([
    ['2024010001', 'a0f84b06880ec4a46955b90009080706'],
    ['T-01', '0c87322074fb6a076955b90009080706'],
    ['é漢字', '1e5e65e9d65dbfb86955b90009080706'],
    ['', 'c49f1f85bc7f30616955b90009080706'],
  ])('card %j gives the pinned bytes', (cardId, want) => {
    expect(hex(replayDigest(kid, cardId, 1_767_225_600, nonce))).toBe(want);
  });

  it('keeps t and the nonce exactly, and depends on the kid and the card id', () => {
    const d = replayDigest(kid, '7', 0x01020304, nonce);
    expect(Array.from(d.subarray(8))).toEqual([1, 2, 3, 4, 9, 8, 7, 6]);
    expect(hex(replayDigest(kid, '8', 0x01020304, nonce))).not.toBe(hex(d));
    expect(hex(replayDigest(new Uint8Array(8), '7', 0x01020304, nonce))).not.toBe(hex(d));
  });

  it('writes into the array it is given', () => {
    const out = new Uint8Array(16).fill(0xee);
    expect(replayDigest(kid, '2024010001', 1_767_225_600, nonce, out)).toBe(out);
    expect(hex(out)).toBe('a0f84b06880ec4a46955b90009080706');
  });
});
