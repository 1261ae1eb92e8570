/**
 * The signature profile of issue 4 §1: a request's RFC 9421 signature covers the method, the
 * path, for a query `@query`, and for a body `content-digest` (RFC 9530), and carries `created`
 * and a `nonce`. A
 * signature that leaves any of them out is refused with its precise code, before any work: the
 * database does not change and the nonce is not burnt, so the same request signed in full, with
 * the same nonce, then succeeds (which also shows the refusal was for the missing piece).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import {
  createContentDigest,
  createSignatureBase,
  importSigningKey,
  type SignatureParams,
  signBytes,
} from '@campus-card/core/http';
import type { InjectOptions } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../src/index.js';
import {
  changedTables,
  demoPlatform,
  deviceSigner,
  json,
  operator,
  type Signer,
  tableDigests,
} from './helpers.js';

let p: MockPlatform;
beforeEach(async () => {
  p = await demoPlatform();
});
afterEach(async () => p?.close());

const FULL_WITH_BODY = ['@method', '@path', 'content-digest'];
const FULL_WITHOUT_BODY = ['@method', '@path'];

interface Profile {
  /** Covered components. */
  readonly components: readonly string[];
  /** Signature parameters to leave out. */
  readonly omit?: readonly (keyof SignatureParams)[];
  /** Send the Content-Digest header even when the signature does not cover it (default true). */
  readonly digestHeader?: boolean;
}

/** Signs a request with exactly the given components and parameters (helpers.signed cannot omit any). */
function signedWith(
  signer: Signer,
  method: 'GET' | 'POST',
  url: string,
  body: unknown,
  nonce: string,
  profile: Profile,
): InjectOptions {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const bytes = payload === undefined ? undefined : new TextEncoder().encode(payload);
  const headers: Record<string, string> = {};
  if (payload !== undefined) headers['content-type'] = 'application/json';
  if (method === 'POST') headers['idempotency-key'] = randomUUID();
  if (bytes !== undefined && profile.digestHeader !== false)
    headers['content-digest'] = createContentDigest(bytes);
  const key = importSigningKey(signer.jwk as never);
  const all: SignatureParams = { created: p.clock.nowSeconds(), keyid: signer.id, alg: key.alg, nonce };
  const params = Object.fromEntries(
    Object.entries(all).filter(([name]) => !(profile.omit ?? []).includes(name as keyof SignatureParams)),
  ) as SignatureParams;
  const { base, signatureInput } = createSignatureBase(
    { method, url: `http://localhost${url}`, headers, body: bytes },
    profile.components,
    params,
  );
  const signature = Buffer.from(signBytes(key, new TextEncoder().encode(base))).toString('base64');
  headers['signature-input'] = `sig1=${signatureInput}`;
  headers.signature = `sig1=:${signature}:`;
  return { method, url, headers, ...(payload === undefined ? {} : { payload }) };
}

interface Request {
  readonly signer: () => Signer;
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly body?: unknown;
  /** Status of the request signed in full. */
  readonly ok: number;
}

let orderNo = 0;
/** A top-up by the operator: a POST that books money, under a fresh order number. */
const topUp = (): Request => ({
  signer: () => operator(p),
  method: 'POST',
  url: '/v1/wallets/s-002/top-ups',
  body: { out_trade_no: `SIG-C${++orderNo}`, amount: 500, channel: 'simulated' },
  ok: 201,
});
const readWallet: Request = {
  signer: () => deviceSigner(p, 'pos-01'),
  method: 'GET',
  url: '/v1/wallets/s-001',
  ok: 200,
};

/**
 * Sends `req` signed with `profile` and expects 401 `code` as problem+json with no state change
 * and the nonce unburnt; then sends it signed in full with the same nonce and expects success.
 */
async function refusedThenAccepted(req: Request, profile: Profile, code: string): Promise<void> {
  const signer = req.signer();
  const nonce = `sig-components-${randomUUID()}`;
  const before = tableDigests(p);
  const res = await p.app.inject(signedWith(signer, req.method, req.url, req.body, nonce, profile));
  expect([res.statusCode, json(res).code], res.body).toEqual([401, code]);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(json(res)).toMatchObject({ status: 401, retryable: false, request_id: res.headers['x-request-id'] });
  expect(changedTables(before, tableDigests(p)), 'nothing changes, no nonce is stored').toEqual([]);

  const full = [
    ...(req.body === undefined ? FULL_WITHOUT_BODY : FULL_WITH_BODY),
    ...(req.url.includes('?') ? ['@query'] : []),
  ];
  const ok = await p.app.inject(
    signedWith(signer, req.method, req.url, req.body, nonce, { components: full }),
  );
  expect(ok.statusCode, ok.body).toBe(req.ok);
}

describe('required signature components and parameters', () => {
  it('refuses a body whose signature does not cover content-digest, the header sent or not', async () => {
    await refusedThenAccepted(topUp(), { components: ['@method', '@path'] }, 'ERR_SIG_COMPONENT_MISSING');
    await refusedThenAccepted(
      topUp(),
      { components: ['@method', '@path'], digestHeader: false },
      'ERR_SIG_COMPONENT_MISSING',
    );
  });

  it('refuses a signature without a nonce parameter', async () => {
    const profile = (components: string[]): Profile => ({ components, omit: ['nonce'] });
    await refusedThenAccepted(topUp(), profile(FULL_WITH_BODY), 'ERR_SIG_MALFORMED');
    await refusedThenAccepted(readWallet, profile(FULL_WITHOUT_BODY), 'ERR_SIG_MALFORMED');
  });

  it('refuses a signature without created', async () => {
    const profile = (components: string[]): Profile => ({ components, omit: ['created'] });
    await refusedThenAccepted(topUp(), profile(FULL_WITH_BODY), 'ERR_SIG_MALFORMED');
    await refusedThenAccepted(readWallet, profile(FULL_WITHOUT_BODY), 'ERR_SIG_MALFORMED');
  });

  it('refuses a signature without keyid', async () => {
    await refusedThenAccepted(topUp(), { components: FULL_WITH_BODY, omit: ['keyid'] }, 'ERR_SIG_MALFORMED');
  });

  it('refuses a signature that does not cover @method or @path', async () => {
    await refusedThenAccepted(
      topUp(),
      { components: ['@path', 'content-digest'] },
      'ERR_SIG_COMPONENT_MISSING',
    );
    await refusedThenAccepted(
      topUp(),
      { components: ['@method', 'content-digest'] },
      'ERR_SIG_COMPONENT_MISSING',
    );
    await refusedThenAccepted(readWallet, { components: ['@path'] }, 'ERR_SIG_COMPONENT_MISSING');
    await refusedThenAccepted(readWallet, { components: ['@method'] }, 'ERR_SIG_COMPONENT_MISSING');
  });

  it('a body swapped under a signature that leaves content-digest out is refused, not booked', async () => {
    // The attack the required component prevents: the signature holds for any body.
    const signer = operator(p);
    const { url, body } = topUp();
    const req = signedWith(signer, 'POST', url, body, 'sig-components-swap', {
      components: ['@method', '@path'],
      digestHeader: false,
    });
    const orders = () => (p.state.db.prepare('SELECT COUNT(*) AS n FROM orders').get() as { n: number }).n;
    const before = orders();
    const res = await p.app.inject({
      ...req,
      payload: JSON.stringify({ out_trade_no: 'SIG-SWAP', amount: 100_000, channel: 'simulated' }),
    });
    expect([res.statusCode, json(res).code]).toEqual([401, 'ERR_SIG_COMPONENT_MISSING']);
    expect(orders()).toBe(before);
  });
});

describe('a request with a query', () => {
  const listOrders: Request = {
    signer: () => operator(p),
    method: 'GET',
    url: '/v1/orders?person_id=s-001',
    ok: 200,
  };

  it('is refused when its signature leaves @query out, and the 401 asks for it', async () => {
    await refusedThenAccepted(listOrders, { components: FULL_WITHOUT_BODY }, 'ERR_SIG_COMPONENT_MISSING');
    const unsigned = await p.app.inject({ method: 'GET', url: listOrders.url });
    expect(unsigned.headers['accept-signature']).toBe(
      'sig1=("@method" "@path" "@query");created;keyid;nonce',
    );
    const noQuery = await p.app.inject({ method: 'GET', url: '/v1/orders' });
    expect(noQuery.headers['accept-signature']).toBe('sig1=("@method" "@path");created;keyid;nonce');
  });

  it('changed on the way under a signature that covers it is refused: another person is not read', async () => {
    const req = signedWith(operator(p), 'GET', listOrders.url, undefined, `q-${randomUUID()}`, {
      components: [...FULL_WITHOUT_BODY, '@query'],
    });
    const res = await p.app.inject({ ...req, url: '/v1/orders?person_id=s-002' });
    expect([res.statusCode, json(res).code]).toEqual([401, 'ERR_SIG_INVALID']);
    const ok = await p.app.inject(req);
    expect(ok.statusCode, ok.body).toBe(200);
  });
});

describe('several signatures on one request', () => {
  it("verifies the device's own when a gateway's signature comes first, and a clock_skew rule still finds the device", async () => {
    const { generateKeyPair, exportJwk } = await import('@campus-card/core');
    const { signRequest } = await import('@campus-card/core/http');
    const gateway = exportJwk((await generateKeyPair('ES256')).privateKey, { includePrivate: true });
    const url = '/v1/wallets/s-001';
    const headersFor = (created: number) => {
      const req = { method: 'GET', url: `http://localhost${url}`, headers: {} };
      const dev = deviceSigner(p, 'pos-01');
      const mine = signRequest(req, {
        keyId: dev.id,
        key: importSigningKey(dev.jwk as never),
        created,
        nonce: randomUUID(),
        components: FULL_WITHOUT_BODY,
      });
      const theirs = signRequest(req, {
        keyId: 'campus-gateway',
        key: importSigningKey(gateway as never),
        created,
        nonce: randomUUID(),
        components: FULL_WITHOUT_BODY,
        label: 'proxy',
      });
      return {
        'signature-input': `${theirs['signature-input']}, ${mine['signature-input']}`,
        signature: `${theirs.signature}, ${mine.signature}`,
      };
    };
    const get = (created: number) => p.app.inject({ method: 'GET', url, headers: headersFor(created) });
    expect((await get(p.clock.nowSeconds())).statusCode).toBe(200);
    p.state.faults.set([{ kind: 'clock_skew', device_id: 'pos-01', skew_s: 1000, count: 1 }]);
    expect((await get(p.clock.nowSeconds() + 1000)).statusCode).toBe(200);
    expect(p.state.faults.fire('clock_skew', { principalId: 'pos-01' })).toBeUndefined(); // used up
  });
});
