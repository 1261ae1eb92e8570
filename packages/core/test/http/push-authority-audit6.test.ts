/**
 * A pinned push authority (`verifyPush`'s and the receiver helpers' `authority` option) is read as
 * the platform's signer reads the subscribed URL's (WHATWG host: canonical IPv6, port without
 * leading zeros, the default port left out), and its default port is that of the receiver's
 * configured scheme, never of a scheme the sender picks with an absolute-form target.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { importSigningKey, importVerifyKey, type Jwk, signPush, verifyPush } from '../../src/http.js';
import { verifyPushFromRawBody, verifyPushFromWebRequest } from '../../src/transport.js';

const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/=+$/, '')
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
const d = new Uint8Array(32).fill(7);
const jwk: Jwk = { kty: 'OKP', crv: 'Ed25519', x: b64url(ed25519.getPublicKey(d)), d: b64url(d) };
const { d: _secret, ...publicJwk } = jwk;
const key = importVerifyKey(publicJwk);
const BODY = new TextEncoder().encode('{"id":"evt_9","type":"payment.succeeded"}');
const CREATED = 1_767_600_000;
const options = { platformKeys: { 'platform-1': publicJwk }, now: () => CREATED * 1000 };

function signFor(url: string) {
  return signPush({
    url,
    body: BODY,
    pushId: 'evt_9',
    keyId: 'platform-1',
    key: importSigningKey(jwk),
    created: CREATED,
    nonce: 'n-9',
  }) as unknown as Record<string, string>;
}

function verify(url: string, headers: Record<string, string>, authority: string, scheme?: string) {
  return verifyPush(
    { method: 'POST', url, headers, body: BODY, ...(scheme === undefined ? {} : { scheme }) },
    { keyLookup: () => key, now: CREATED * 1000, authority },
  );
}

describe('a pinned push authority', () => {
  it('is normalised as the signer normalises the subscribed URL (IPv6, leading zeros in the port)', async () => {
    const h6 = signFor('https://[2001:DB8:0:0::0001]/hooks');
    await expect(
      verify('/hooks', { ...h6, host: '127.0.0.1:3000' }, '[2001:DB8:0:0::0001]', 'https'),
    ).resolves.toMatchObject({ ok: true });
    const h = signFor('https://b.example:8443/hooks');
    await expect(
      verify('/hooks', { ...h, host: 'localhost' }, 'b.example:08443', 'https'),
    ).resolves.toMatchObject({ ok: true });
    // still another receiver's authority is refused
    await expect(
      verify('/hooks', { ...h, host: 'b.example:8443' }, 'b.example:8444', 'https'),
    ).resolves.toMatchObject({ ok: false, code: 'ERR_SIG_INVALID' });
    // an authority no URL has is a TypeError, as one that is not host[:port]
    await expect(verify('/hooks', h, 'b..example%', 'https')).rejects.toThrow(TypeError);
  });

  it("takes its default port from the receiver's scheme, not from an absolute-form target the sender picks", async () => {
    // a push the platform signed for http://b.example:443 (authority `b.example:443`)
    const other = signFor('http://b.example:443/hooks');
    // the https receiver pinned at b.example:443 (authority `b.example`) refuses it in origin form...
    await expect(
      verify('/hooks', { ...other, host: 'b.example' }, 'b.example:443', 'https'),
    ).resolves.toMatchObject({ ok: false, code: 'ERR_SIG_INVALID' });
    // ... and when the sender puts an http absolute-form target on the request line
    await expect(
      verify('http://anything.example/hooks', { ...other, host: 'b.example' }, 'b.example:443', 'https'),
    ).resolves.toMatchObject({ ok: false, code: 'ERR_SIG_INVALID' });
    await expect(
      verifyPushFromRawBody(
        {
          method: 'POST',
          url: 'http://anything.example/hooks',
          headers: { ...other, host: 'b.example' },
          rawBody: BODY,
        },
        { ...options, authority: 'b.example:443' },
      ),
    ).resolves.toMatchObject({ ok: false, code: 'ERR_SIG_INVALID' });
  });

  it('a fetch Request behind a TLS-terminating proxy (an http:// URL) verifies against a pinned host:443', async () => {
    const h = signFor('https://b.example/hooks');
    const request = new Request('http://10.0.0.7:3000/hooks', { method: 'POST', headers: h, body: BODY });
    await expect(
      verifyPushFromWebRequest(request, { ...options, authority: 'b.example:443' }),
    ).resolves.toMatchObject({ ok: true, pushId: 'evt_9' });
    // the Host a replayer sends is still not what counts
    const replay = new Request('http://10.0.0.7:3000/hooks', { method: 'POST', headers: h, body: BODY });
    await expect(
      verifyPushFromWebRequest(replay, { ...options, authority: 'c.example:443' }),
    ).resolves.toMatchObject({ ok: false, code: 'ERR_SIG_INVALID' });
  });
});
