/**
 * The default signature backend (issue 3 §5): WebCrypto when `globalThis.crypto.subtle` exists,
 * else @noble/curves. Both must give the right decision on a real code.
 */
import { decodeQr, encodeQr } from '@campus-card/core';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { defaultBackend } from '../../src/backends/default-backend.js';
import { createVerifier, nobleBackend, type Verifier } from '../../src/index.js';
import { type Campus, makeCampus, T0 } from '../helpers/fixtures.js';

const realSubtle = globalThis.crypto.subtle;
let campus: Campus;
let trustList: Uint8Array;
let statusList: Uint8Array;
let roster: Uint8Array;

beforeAll(async () => {
  campus = await makeCampus();
  trustList = await campus.trustList(1, T0 - 3600);
  statusList = await campus.statusList(1, T0 - 600);
  roster = await campus.roster(1, T0 - 600);
});

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

/** A `SubtleCrypto` that forwards to the real one and counts its calls. */
function countingSubtle() {
  const importKey = vi.fn((...args: Parameters<SubtleCrypto['importKey']>) => realSubtle.importKey(...args));
  const verify = vi.fn((...args: Parameters<SubtleCrypto['verify']>) => realSubtle.verify(...args));
  return { subtle: { importKey, verify } as unknown as SubtleCrypto, importKey, verify };
}

/** A verifier built with no `backend` option (so with the default), loaded with trust material. */
function defaultVerifier(): Verifier {
  const v = createVerifier({ rootKeys: [campus.root.publicKey] });
  expect(v.loadTrustList(trustList, { now: T0 }).ok).toBe(true);
  expect(v.loadStatusList(statusList, { now: T0 }).ok).toBe(true);
  expect(v.loadRoster(roster, { now: T0 }).ok).toBe(true);
  return v;
}

/** Codes made before any stubbing (making them may use `crypto` for nonces). */
async function codes() {
  const full = await campus.code('2024010001', T0);
  const compact = await campus.compact('2024010002', T0);
  const bytes = decodeQr(await campus.code('T-0042', T0)).slice();
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0x01;
  return { full, compact, tampered: encodeQr(bytes) };
}

async function expectCorrectDecisions(v: Verifier, c: Awaited<ReturnType<typeof codes>>): Promise<void> {
  const reader = { id: 'gate' };
  expect(await v.verify(c.full, { now: T0, reader })).toMatchObject({ accepted: true, cardId: '2024010001' });
  expect(await v.verify(c.compact, { now: T0, reader })).toMatchObject({
    accepted: true,
    cardId: '2024010002',
    mode: 'compact',
  });
  expect(await v.verify(c.tampered, { now: T0, reader })).toMatchObject({
    accepted: false,
    reason: 'BAD_SIGNATURE',
  });
}

describe('defaultBackend', () => {
  it('is the WebCrypto backend when globalThis.crypto.subtle exists (Node 20 has it)', async () => {
    expect(globalThis.crypto?.subtle).toBeDefined();
    const backend = defaultBackend();
    expect(backend).not.toBe(nobleBackend);
    // WebCrypto answers asynchronously; noble synchronously
    const es = campus.issuer.publicKey;
    const answer = backend.verify(es, new Uint8Array(1), new Uint8Array(64));
    expect(answer).toBeInstanceOf(Promise);
    expect(await answer).toBe(false);
  });

  it('uses globalThis.crypto.subtle, read when the verifier is created, and decides real codes right', async () => {
    const c = await codes();
    const noble = vi.spyOn(nobleBackend, 'verify');
    const counting = countingSubtle();
    vi.stubGlobal('crypto', { subtle: counting.subtle });
    const v = defaultVerifier();
    await expectCorrectDecisions(v, c);
    // issuer + holder signatures of the full code, holder of the compact one, the tampered code's
    expect(counting.verify.mock.calls.length).toBeGreaterThanOrEqual(4);
    expect(counting.importKey).toHaveBeenCalled();
    expect(noble).not.toHaveBeenCalled();
  });

  it('is the noble backend without globalThis.crypto, and decides real codes right', async () => {
    const c = await codes();
    const noble = vi.spyOn(nobleBackend, 'verify');
    vi.stubGlobal('crypto', undefined);
    expect(globalThis.crypto).toBeUndefined();
    expect(defaultBackend()).toBe(nobleBackend);
    const v = defaultVerifier();
    await expectCorrectDecisions(v, c);
    expect(noble.mock.calls.length).toBeGreaterThanOrEqual(4);
  });

  it('is the noble backend when crypto has no usable subtle', () => {
    vi.stubGlobal('crypto', {});
    expect(defaultBackend()).toBe(nobleBackend);
    vi.stubGlobal('crypto', { subtle: {} });
    expect(defaultBackend()).toBe(nobleBackend);
    vi.stubGlobal('crypto', { subtle: { verify: 'no' } });
    expect(defaultBackend()).toBe(nobleBackend);
  });

  it('the stubs are gone afterwards', () => {
    expect(globalThis.crypto.subtle).toBe(realSubtle);
  });
});
