/**
 * The push receiver helpers' size limit: a body over `maxBodyBytes` is `ERR_PUSH_TOO_LARGE`
 * before any hashing, and a fetch `Request` is read no further than the limit (by its
 * `Content-Length`, or as its stream arrives); a push within it verifies as before.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { importSigningKey, type Jwk, signPush } from '../../src/http.js';
import {
  DEFAULT_MAX_PUSH_BYTES,
  verifyPushFromRawBody,
  verifyPushFromWebRequest,
} from '../../src/transport.js';

const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/=+$/, '')
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
const d = new Uint8Array(32).fill(7);
const jwk: Jwk = { kty: 'OKP', crv: 'Ed25519', x: b64url(ed25519.getPublicKey(d)), d: b64url(d) };
const { d: _secret, ...publicJwk } = jwk;
const CREATED = 1_767_600_000;
const URL_ = 'https://vendor.test/hooks/campus';
// the receiver at https://vendor.test (pushes are signed for their receiver's authority)
const options = {
  platformKeys: { 'platform-1': publicJwk },
  now: () => CREATED * 1000,
  authority: 'vendor.test',
};

function signed(body: Uint8Array) {
  return signPush({
    url: URL_,
    body,
    pushId: 'evt_1',
    keyId: 'platform-1',
    key: importSigningKey(jwk),
    created: CREATED,
    nonce: 'n-1',
  }) as unknown as Record<string, string>;
}

describe('push receiver size limit', () => {
  const small = new TextEncoder().encode('{"id":"evt_1","type":"payment.succeeded","data":{}}');

  it('verifies a push within the limit, raw or as a Request', async () => {
    const headers = signed(small);
    expect(DEFAULT_MAX_PUSH_BYTES).toBe(262_144);
    await expect(
      verifyPushFromRawBody({ method: 'POST', url: '/hooks/campus', headers, rawBody: small }, options),
    ).resolves.toMatchObject({ ok: true, pushId: 'evt_1' });
    const request = new Request(URL_, { method: 'POST', headers, body: small });
    await expect(verifyPushFromWebRequest(request, options)).resolves.toMatchObject({ ok: true });
    expect(await request.text()).toBe(new TextDecoder().decode(small)); // still readable
  });

  it('refuses a larger body ERR_PUSH_TOO_LARGE, raw or by its Content-Length, without reading it', async () => {
    const body = new Uint8Array(DEFAULT_MAX_PUSH_BYTES + 1).fill(0x20);
    const headers = signed(body);
    await expect(
      verifyPushFromRawBody({ method: 'POST', url: '/hooks/campus', headers, rawBody: body }, options),
    ).resolves.toEqual({
      ok: false,
      code: 'ERR_PUSH_TOO_LARGE',
      message: expect.any(String),
      maxBodyBytes: DEFAULT_MAX_PUSH_BYTES,
    });
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        pulled++;
        c.enqueue(new Uint8Array(1024));
      },
    });
    const request = new Request(URL_, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(10 * 1024 * 1024) },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    await expect(verifyPushFromWebRequest(request, options)).resolves.toMatchObject({
      ok: false,
      code: 'ERR_PUSH_TOO_LARGE',
    });
    expect(pulled).toBeLessThanOrEqual(2); // (a stream may pull once ahead)
  });

  it('stops reading an endless streamed body at the limit', async () => {
    let sent = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(c) {
        sent += 4096;
        c.enqueue(new Uint8Array(4096));
      },
    });
    const request = new Request(URL_, {
      method: 'POST',
      headers: signed(small),
      body: endless,
      duplex: 'half',
    } as RequestInit);
    await expect(
      verifyPushFromWebRequest(request, { ...options, maxBodyBytes: 64 * 1024 }),
    ).resolves.toMatchObject({
      ok: false,
      code: 'ERR_PUSH_TOO_LARGE',
      maxBodyBytes: 65_536,
    });
    expect(sent).toBeLessThan(200 * 1024);
  });

  it('refuses a maxBodyBytes that is not a whole number of bytes', async () => {
    await expect(
      verifyPushFromRawBody(
        { method: 'POST', url: '/hooks/campus', headers: {}, rawBody: small },
        { ...options, maxBodyBytes: Number.NaN },
      ),
    ).rejects.toThrow(TypeError);
  });
});
