/**
 * Push signatures cover `@authority` (src/http/push.ts, src/transport/push-receiver.ts): a push
 * that one receiver got is refused by another receiver at the same path, within the tolerance and
 * with a nonce it has never seen; a receiver can pin its own authority so that a forged `Host`
 * does not help; HTTP/2's `:authority` stands for `Host`; no authority at all fails closed.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import {
  importSigningKey,
  importVerifyKey,
  type Jwk,
  PUSH_COVERED_COMPONENTS,
  signPush,
  type VerifyPushOptions,
  verifyPush,
} from '../../src/http.js';
import { verifyPushFromRawBody, verifyPushFromWebRequest } from '../../src/transport.js';

const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/=+$/, '')
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
const d = new Uint8Array(32).fill(9);
const jwk: Jwk = { kty: 'OKP', crv: 'Ed25519', x: b64url(ed25519.getPublicKey(d)), d: b64url(d) };
const { d: _secret, ...publicJwk } = jwk;
const CREATED = 1_767_600_000;
const BODY = new TextEncoder().encode('{"id":"evt_1","type":"payment.succeeded","data":{}}');
const key = importVerifyKey(publicJwk);

/** A push the platform signed for merchant A's receiver. */
function pushForA(url = 'https://merchant-a.example/webhook') {
  return signPush({
    url,
    body: BODY,
    pushId: 'evt_1',
    keyId: 'platform-1',
    key: importSigningKey(jwk),
    created: CREATED,
    nonce: 'n-1',
  }) as unknown as Record<string, string>;
}

function verifyAt(
  headers: Record<string, string>,
  url = '/webhook',
  opts: Partial<VerifyPushOptions> & { scheme?: string } = {},
) {
  const { scheme, ...rest } = opts;
  return verifyPush(
    { method: 'POST', url, headers, body: BODY, ...(scheme === undefined ? {} : { scheme }) },
    {
      keyLookup: (kid) => (kid === 'platform-1' ? key : undefined),
      now: CREATED * 1000,
      // a fresh nonce store per receiver: the replay is not caught by nonces
      nonceStore: () => true,
      ...rest,
    },
  );
}

describe('push signatures cover @authority', () => {
  it('the platform signs it; the receiver it was signed for accepts it', async () => {
    expect(PUSH_COVERED_COMPONENTS).toContain('@authority');
    const h = pushForA();
    expect(h['signature-input']).toContain('"@authority"');
    await expect(verifyAt({ ...h, host: 'merchant-a.example' })).resolves.toMatchObject({
      ok: true,
      pushId: 'evt_1',
      components: expect.arrayContaining(['@authority']),
    });
    // the scheme's default port in Host is no other authority; the case of a host name neither
    await expect(
      verifyAt({ ...h, host: 'Merchant-A.example:443' }, '/webhook', { scheme: 'https' }),
    ).resolves.toMatchObject({ ok: true });
    // an absolute URL brings its own authority
    await expect(verifyAt(h, 'https://merchant-a.example/webhook')).resolves.toMatchObject({ ok: true });
  });

  it('another receiver at the same path refuses it (a push replayed within the tolerance)', async () => {
    const h = pushForA();
    await expect(verifyAt({ ...h, host: 'merchant-b.example' })).resolves.toMatchObject({
      ok: false,
      code: 'ERR_SIG_INVALID',
    });
    await expect(verifyAt(h, 'https://merchant-b.example/webhook')).resolves.toMatchObject({
      ok: false,
      code: 'ERR_SIG_INVALID',
    });
    // another port of the same host is another receiver too
    await expect(verifyAt({ ...h, host: 'merchant-a.example:8443' })).resolves.toMatchObject({
      ok: false,
      code: 'ERR_SIG_INVALID',
    });
  });

  it('a receiver that pins its authority refuses a forged Host, and takes its pushes behind a proxy that rewrites Host', async () => {
    const h = pushForA();
    // the replayer sends A's Host to B: B, pinned to its own authority, refuses it
    await expect(
      verifyAt({ ...h, host: 'merchant-a.example' }, '/webhook', { authority: 'merchant-b.example' }),
    ).resolves.toMatchObject({ ok: false, code: 'ERR_SIG_INVALID' });
    await expect(
      verifyAt(h, 'https://merchant-a.example/webhook', { authority: 'merchant-b.example' }),
    ).resolves.toMatchObject({ ok: false, code: 'ERR_SIG_INVALID' });
    // A behind a proxy that sends `Host: localhost:3000`, pinned to its public authority
    await expect(
      verifyAt({ ...h, host: 'localhost:3000' }, '/webhook', { authority: 'merchant-a.example' }),
    ).resolves.toMatchObject({ ok: true });
    // the receiver helpers take the same option
    const options = {
      platformKeys: { 'platform-1': publicJwk },
      now: () => CREATED * 1000,
    };
    const raw = {
      method: 'POST',
      url: '/webhook',
      headers: { ...h, host: 'merchant-a.example' },
      rawBody: BODY,
    };
    await expect(verifyPushFromRawBody(raw, options)).resolves.toMatchObject({ ok: true });
    await expect(
      verifyPushFromRawBody(raw, { ...options, authority: 'merchant-b.example' }),
    ).resolves.toMatchObject({ ok: false, code: 'ERR_SIG_INVALID' });
    await expect(
      verifyPushFromRawBody(
        { ...raw, headers: { ...h, host: '10.0.0.7:3000' } },
        { ...options, authority: 'merchant-a.example' },
      ),
    ).resolves.toMatchObject({ ok: true });
    const replayed = new Request('https://merchant-b.example/webhook', {
      method: 'POST',
      headers: h,
      body: BODY,
    });
    await expect(verifyPushFromWebRequest(replayed, options)).resolves.toMatchObject({
      ok: false,
      code: 'ERR_SIG_INVALID',
    });
  });

  it("HTTP/2's :authority stands for Host; no authority at all fails closed; a bad authority option is a TypeError", async () => {
    const h = pushForA();
    await expect(verifyAt({ ...h, ':authority': 'merchant-a.example' })).resolves.toMatchObject({
      ok: true,
    });
    await expect(verifyAt({ ...h, ':authority': 'merchant-b.example' })).resolves.toMatchObject({
      ok: false,
    });
    await expect(verifyAt(h)).resolves.toMatchObject({ ok: false });
    await expect(verifyAt(h, '/webhook', { authority: 'merchant-a.example/evil' })).rejects.toThrow(
      TypeError,
    );
    await expect(verifyAt(h, '/webhook', { authority: '' })).rejects.toThrow(TypeError);
  });
});
