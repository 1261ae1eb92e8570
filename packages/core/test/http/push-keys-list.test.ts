/**
 * A receiver passes the `webhook_signing` list of `GET /v1/platform/keys` as it comes as
 * `platformKeys`: each key is looked up by its own `kid`, never by its index. And a push that fails
 * `ERR_SIG_INVALID` names the `@authority` and `@path` that were checked (a proxy that rewrites
 * `Host` shows there).
 */
import type { IncomingMessage } from 'node:http';
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import type { PlatformKeys } from '../../src/api.js';
import { importSigningKey, importVerifyKey, type Jwk, signPush, verifyPush } from '../../src/http.js';
import { verifyPushFromNodeRequest, verifyPushFromRawBody } from '../../src/transport.js';

const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/=+$/, '')
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
function keyPair(fill: number, kid: string) {
  const d = new Uint8Array(32).fill(fill);
  const x = b64url(ed25519.getPublicKey(d));
  const jwk: Jwk = { kty: 'OKP', crv: 'Ed25519', x, d: b64url(d), kid };
  return { jwk, publicJwk: { kty: 'OKP' as const, crv: 'Ed25519' as const, x, alg: 'EdDSA' as const, kid } };
}
const current = keyPair(7, 'platform-2');
const previous = keyPair(9, 'platform-1');
const BODY = new TextEncoder().encode('{"id":"evt_9","type":"payment.succeeded"}');
const CREATED = 1_767_600_000;
const now = () => CREATED * 1000;
// as `GET /v1/platform/keys` answers: the current key first, then the previous one
const listed: PlatformKeys = {
  webhook_signing: [current.publicJwk, previous.publicJwk],
  retry_schedule_s: [10, 60],
  tolerance_s: 300,
};

function signFor(url: string, by = previous, keyId = by.jwk.kid as string) {
  return signPush({
    url,
    body: BODY,
    pushId: 'evt_9',
    keyId,
    key: importSigningKey(by.jwk),
    created: CREATED,
    nonce: 'n-9',
  }) as unknown as Record<string, string>;
}

/** What `verifyPushFromNodeRequest` reads of a Node request. */
const nodeRequest = (url: string, headers: Record<string, string>) =>
  ({ method: 'POST', url, headers }) as unknown as IncomingMessage;

describe('platformKeys as the webhook_signing list of GET /v1/platform/keys', () => {
  it('looks each key up by its kid (Node request and raw body)', async () => {
    for (const by of [current, previous]) {
      const headers = { ...signFor('https://vendor.test/hooks/x', by), host: 'vendor.test' };
      await expect(
        verifyPushFromNodeRequest(nodeRequest('/hooks/x', headers), BODY, {
          platformKeys: listed.webhook_signing,
          now,
        }),
      ).resolves.toMatchObject({ ok: true, keyId: by.jwk.kid, pushId: 'evt_9' });
    }
    // imported keys carry their kid too
    const imported = listed.webhook_signing.map((k) => importVerifyKey(k));
    const headers = { ...signFor('https://vendor.test/hooks/x'), host: 'vendor.test' };
    await expect(
      verifyPushFromRawBody(
        { method: 'POST', url: '/hooks/x', headers, rawBody: BODY },
        { platformKeys: imported, now },
      ),
    ).resolves.toMatchObject({ ok: true, keyId: 'platform-1' });
  });

  it('never by its index', async () => {
    const headers = { ...signFor('https://vendor.test/hooks/x', current, '0'), host: 'vendor.test' };
    await expect(
      verifyPushFromNodeRequest(nodeRequest('/hooks/x', headers), BODY, {
        platformKeys: listed.webhook_signing,
        now,
      }),
    ).resolves.toMatchObject({ ok: false, code: 'ERR_SIG_UNKNOWN_KEY' });
  });

  it('refuses a list with a key without a kid, or two keys of one kid (TypeError)', async () => {
    const headers = { ...signFor('https://vendor.test/hooks/x'), host: 'vendor.test' };
    const { kid: _kid, ...noKid } = previous.publicJwk;
    for (const platformKeys of [
      [current.publicJwk, noKid],
      [previous.publicJwk, previous.publicJwk],
    ]) {
      await expect(
        verifyPushFromNodeRequest(nodeRequest('/hooks/x', headers), BODY, { platformKeys, now }),
      ).rejects.toThrow(TypeError);
    }
  });
});

describe('an ERR_SIG_INVALID push', () => {
  it('names the @authority and @path it checked', async () => {
    const headers = signFor('http://127.0.0.1:8793/hooks/x');
    const key = importVerifyKey(previous.publicJwk);
    // behind a proxy that rewrote Host
    const rewritten = await verifyPush(
      { method: 'POST', url: '/hooks/x', headers: { ...headers, host: 'backend:3000' }, body: BODY },
      { keyLookup: () => key, now: CREATED * 1000 },
    );
    expect(rewritten).toEqual({
      ok: false,
      code: 'ERR_SIG_INVALID',
      message: 'signature does not verify (checked @authority backend:3000, @path /hooks/x)',
      keyId: 'platform-1',
    });
    // a path the proxy changed, and the pinned authority
    const moved = await verifyPush(
      { method: 'POST', url: '/in/hooks/x', headers: { ...headers, host: 'backend:3000' }, body: BODY },
      { keyLookup: () => key, now: CREATED * 1000, authority: '127.0.0.1:8793' },
    );
    expect(moved).toMatchObject({
      ok: false,
      code: 'ERR_SIG_INVALID',
      message: 'signature does not verify (checked @authority 127.0.0.1:8793, @path /in/hooks/x)',
    });
    // the receiver helpers give the same message
    await expect(
      verifyPushFromNodeRequest(nodeRequest('/hooks/x', { ...headers, host: 'backend:3000' }), BODY, {
        platformKeys: listed.webhook_signing,
        now,
      }),
    ).resolves.toMatchObject({ message: expect.stringContaining('(checked @authority backend:3000, @path') });
  });

  it('escapes control and line-separator characters of a target the caller built, and cuts a long one', async () => {
    const headers = signFor('http://127.0.0.1:8793/hooks/x');
    const key = importVerifyKey(previous.publicJwk);
    const odd = await verifyPush(
      {
        method: 'POST',
        url: '/hooks/x\ty\u2028z\u0085',
        headers: { ...headers, host: 'backend:3000' },
        body: BODY,
      },
      { keyLookup: () => key, now: CREATED * 1000 },
    );
    expect(odd).toMatchObject({ ok: false, code: 'ERR_SIG_INVALID' });
    if (!odd.ok) {
      expect(odd.message).toBe(
        'signature does not verify (checked @authority backend:3000, @path /hooks/x\\u0009y\\u2028z\\u0085)',
      );
    }
    const long = await verifyPush(
      {
        method: 'POST',
        url: `/${'a'.repeat(1000)}`,
        headers: { ...headers, host: 'backend:3000' },
        body: BODY,
      },
      { keyLookup: () => key, now: CREATED * 1000 },
    );
    if (!long.ok) expect(long.message.length).toBeLessThan(400);
    expect(long.ok).toBe(false);
  });
});
