import { afterEach, beforeEach, expect, it } from 'vitest';

// The reference POS (examples/reference-pos/pos-device.ts) prints what stops it on stderr, which a
// conformance run keeps: that must never hold private key material.
const saved = { ...process.env };
beforeEach(() => {
  process.env.CAMPUS_CARD_POS_DEVICE_LIBRARY = '1';
  Object.assign(process.env, {
    PLATFORM_URL: 'http://127.0.0.1:9',
    DEVICE_ID: 'pos-01',
    MERCHANT_ID: 'm-canteen-s',
    QR: 'CC1:6BFOXN*TS0BI$ZD-PHQ7P',
    AMOUNT_FEN: '1200',
    OUT_TRADE_NO: 'T1',
  });
});
afterEach(() => {
  process.env = { ...saved };
});

it('a malformed DEVICE_KEY is refused without quoting the key', async () => {
  const { runPosDevice } = await import('../../../examples/reference-pos/pos-device.js');
  for (const key of [
    '{"kty":"EC","crv":"P-256","d":SECRETSECRETSECRETSECRET}',
    'SECRETSECRETSECRETSECRET',
    '{"kty":"EC","crv":"P-256","d":"SECRETSECRETSECRETSECRET"',
  ]) {
    process.env.DEVICE_KEY = key;
    const e = await runPosDevice().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toMatch(/DEVICE_KEY/);
    expect(`${(e as Error).message} ${String((e as Error).cause ?? '')}`).not.toMatch(/SECRET/);
  }
});
