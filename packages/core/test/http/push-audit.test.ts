/**
 * `verifyPush` as a vendor's push receiver uses it: a genuine push verifies (whatever the case
 * of its header names, and after the platform's key changed, with both keys known); a push whose
 * body, path, query, method, `push-id`, `created` or key id changed, that another key signed,
 * that is stale, unsigned or carries a second `push-id` is refused; with a nonce store, the same
 * signed push again is refused.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import {
  type HeaderInput,
  importSigningKey,
  importVerifyKey,
  type Jwk,
  signPush,
  type VerifyKey,
  type VerifyPushOptions,
  verifyPush,
} from '../../src/http.js';

function b64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}
function jwkFor(seed: number): Jwk {
  const d = new Uint8Array(32).fill(seed);
  return { kty: 'OKP', crv: 'Ed25519', x: b64url(ed25519.getPublicKey(d)), d: b64url(d) };
}

const enc = new TextEncoder();
const CREATED = 1_767_600_000;
const URL_ = 'https://vendor.test/hooks/campus?tenant=1';
const TARGET = '/hooks/campus?tenant=1';
const BODY = enc.encode('{"id":"evt_1","type":"payment.succeeded","data":{}}');
const old = jwkFor(3);
const next = jwkFor(4);
const keys = new Map<string, VerifyKey>([
  ['platform-old', importVerifyKey(old)],
  ['platform-new', importVerifyKey(next)],
]);

/** The headers of a push signed with `jwk` under `kid`, as a plain record. */
function sign(kid = 'platform-old', jwk = old, pushId = 'evt_1', nonce = 'n-1') {
  const h = signPush({
    url: URL_,
    body: BODY,
    pushId,
    keyId: kid,
    key: importSigningKey(jwk),
    created: CREATED,
    nonce,
  });
  return { ...h } as Record<string, string> & typeof h;
}

function verify(
  headers: HeaderInput,
  over: { url?: string; body?: Uint8Array; method?: string; opts?: Partial<VerifyPushOptions> } = {},
) {
  return verifyPush(
    { method: over.method ?? 'POST', url: over.url ?? TARGET, headers, body: over.body ?? BODY },
    // the receiver at https://vendor.test (pushes are signed for their receiver's authority)
    { keyLookup: (kid) => keys.get(kid), now: CREATED * 1000, authority: 'vendor.test', ...over.opts },
  );
}

describe('verifyPush: what a receiver accepts', () => {
  it('a genuine push, under either of the platform keys, with header names in any case', async () => {
    const h = sign();
    expect(await verify({ ...h, host: 'vendor.test' })).toMatchObject({
      ok: true,
      pushId: 'evt_1',
      keyId: 'platform-old',
    });
    expect(await verify(sign('platform-new', next))).toMatchObject({ ok: true, keyId: 'platform-new' });
    const upper = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toUpperCase(), v]));
    expect(await verify(upper)).toMatchObject({ ok: true, pushId: 'evt_1' });
    const mixed = new Headers({ 'Push-Id': h['push-id'], 'Signature-Input': h['signature-input'] });
    mixed.set('SIGNATURE', h.signature);
    mixed.set('Content-Digest', h['content-digest']);
    expect(await verify(mixed)).toMatchObject({ ok: true, pushId: 'evt_1' });
    // a stale or early push, within the tolerance
    expect((await verify(h, { opts: { now: (CREATED + 300) * 1000 } })).ok).toBe(true);
    expect((await verify(h, { opts: { now: (CREATED - 300) * 1000 } })).ok).toBe(true);
  });
});

describe('verifyPush: what a receiver refuses', () => {
  it('any change to a covered part, another key, a stale push, no signature, a second push-id', async () => {
    const h = sign();
    const code = async (p: Promise<{ ok: boolean; code?: string }>) => {
      const r = await p;
      return r.ok ? 'accepted' : r.code;
    };
    expect(
      await code(verify(h, { body: enc.encode('{"id":"evt_1","type":"payment.failed","data":{}}') })),
    ).toBe('ERR_DIGEST_MISMATCH');
    expect(await code(verify(h, { url: '/hooks/other?tenant=1' }))).toBe('ERR_SIG_INVALID');
    expect(await code(verify(h, { url: '/hooks/campus?tenant=2' }))).toBe('ERR_SIG_INVALID');
    expect(await code(verify(h, { method: 'PUT' }))).toBe('ERR_SIG_INVALID');
    expect(await code(verify({ ...h, 'push-id': 'evt_2' }))).toBe('ERR_SIG_INVALID');
    expect(await code(verify({ ...h, 'push-id': [h['push-id'], 'evt_2'] }))).toBe('ERR_SIG_INVALID');
    expect(await code(verify({ ...h, 'Push-Id': 'evt_2' }))).toBe('ERR_SIG_INVALID');
    expect(await code(verify({ ...h, 'push-id': undefined }))).toBe('ERR_SIG_INVALID');
    const input = h['signature-input'];
    expect(
      await code(
        verify({ ...h, 'signature-input': input.replace(`created=${CREATED}`, `created=${CREATED + 1}`) }),
      ),
    ).toBe('ERR_SIG_INVALID');
    expect(
      await code(verify({ ...h, 'signature-input': input.replace('platform-old', 'platform-new') })),
    ).toBe('ERR_SIG_INVALID');
    expect(await code(verify({ ...h, 'signature-input': input.replace('platform-old', 'platform-x') }))).toBe(
      'ERR_SIG_UNKNOWN_KEY',
    );
    // signed by a key that is not the platform's, under the platform's key id
    expect(await code(verify(sign('platform-old', jwkFor(9))))).toBe('ERR_SIG_INVALID');
    // outside ±300 s
    expect(await code(verify(h, { opts: { now: (CREATED + 301) * 1000 } }))).toBe('ERR_SIG_EXPIRED');
    expect(await code(verify(h, { opts: { now: (CREATED - 301) * 1000 } }))).toBe('ERR_SIG_EXPIRED');
    // unsigned
    expect(await code(verify({ 'push-id': 'evt_1', 'content-digest': h['content-digest'] }))).toBe(
      'ERR_SIG_MISSING',
    );
    expect(await code(verify({ ...h, signature: undefined }))).toBe('ERR_SIG_MISSING');
  });

  it('with a nonce store, the same signed push again is refused; a redelivery (fresh nonce) is not', async () => {
    const seen = new Set<string>();
    const nonceStore = (nonce: string, kid: string) =>
      !seen.has(`${kid} ${nonce}`) && !!seen.add(`${kid} ${nonce}`);
    const h = sign();
    expect((await verify(h, { opts: { nonceStore } })).ok).toBe(true);
    expect(await verify(h, { opts: { nonceStore } })).toMatchObject({
      ok: false,
      code: 'ERR_SIG_NONCE_REPLAYED',
    });
    expect(await verify(sign('platform-old', old, 'evt_1', 'n-2'), { opts: { nonceStore } })).toMatchObject({
      ok: true,
      pushId: 'evt_1',
    });
  });
});
