/**
 * The CBOR decoder's text strings: decoded exactly as encoded, byte for byte (a leading U+FEFF is
 * content, not a byte order mark to drop), so two encodings never become the same text.
 */
import { describe, expect, it } from 'vitest';
import {
  decodeCredential,
  generateKeyPair,
  issueCredential,
  parsePresentationPayload,
} from '../../src/index.js';
import { decodeCbor, decodeCborOwned, encodeCbor } from '../../src/lib/cbor.js';
import { PRESENTATION_LIMITS } from '../../src/lib/limits.js';

const NOW = 1_767_225_600;
const BOM = [0xef, 0xbb, 0xbf];
const T_0042 = [0x54, 0x2d, 0x30, 0x30, 0x34, 0x32]; // "T-0042"

describe('decodeCbor text strings', () => {
  it('keeps a leading U+FEFF (EF BB BF) instead of dropping it', () => {
    const withBom = Uint8Array.from([0x60 + 9, ...BOM, ...T_0042]);
    const plain = Uint8Array.from([0x60 + 6, ...T_0042]);
    expect(decodeCbor(withBom, PRESENTATION_LIMITS, 'test')).toBe('\uFEFFT-0042');
    expect(decodeCborOwned(withBom.slice(), PRESENTATION_LIMITS, 'test')).toBe('\uFEFFT-0042');
    expect(decodeCbor(plain, PRESENTATION_LIMITS, 'test')).toBe('T-0042');
    // a BOM-only string and one inside an array too
    expect(decodeCbor(Uint8Array.from([0x63, ...BOM]), PRESENTATION_LIMITS, 'test')).toBe('\uFEFF');
    expect(decodeCbor(Uint8Array.from([0x81, 0x64, ...BOM, 0x41]), PRESENTATION_LIMITS, 'test')).toEqual([
      '\uFEFFA',
    ]);
  });

  it('round-trips text with a leading U+FEFF', () => {
    for (const text of ['\uFEFF', '\uFEFFT-0042', '\uFEFF\uFEFFx', 'a\uFEFF']) {
      expect(decodeCbor(encodeCbor(text), PRESENTATION_LIMITS, 'test')).toBe(text);
    }
  });

  it('a compact code whose card id starts with U+FEFF names that card id, not "T-0042"', () => {
    const payload = encodeCbor(['\uFEFFT-0042', new Uint8Array(8).fill(7), NOW, new Uint8Array(4)]);
    expect(Array.from(payload.subarray(2, 5))).toEqual(BOM);
    expect(parsePresentationPayload(payload).cardId).toBe('\uFEFFT-0042');
  });

  it('a credential whose card id (sub) starts with U+FEFF keeps it', async () => {
    const issuer = generateKeyPair('ES256');
    const phone = generateKeyPair('ES256');
    const input = { school: '10001', role: 'teacher', iat: NOW, validityDays: 30, statusIndex: 3 } as const;
    const withBom = await issueCredential(
      { ...input, cardId: '\uFEFFT-0042', holderKey: phone.publicKey },
      issuer.privateKey,
    );
    const plain = await issueCredential(
      { ...input, cardId: 'T-0042', holderKey: phone.publicKey },
      issuer.privateKey,
    );
    expect(decodeCredential(withBom).claims.cardId).toBe('\uFEFFT-0042');
    expect(decodeCredential(plain).claims.cardId).toBe('T-0042');
  });
});
