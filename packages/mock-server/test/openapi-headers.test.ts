// The response headers the platform really sends, against what /openapi.json declares for the
// operation and status (or, for a 405, which no operation answers, `components.responses`).
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../src/index.js';
import { demoPlatform, deviceSigner, json, operator, signed } from './helpers.js';

let p: MockPlatform;
afterEach(async () => p?.close());

type Obj = Record<string, unknown>;

/** Headers of the transport, not of the contract. */
const TRANSPORT = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive']);

async function openapi(): Promise<Obj> {
  return json<Obj>(await p.app.inject({ method: 'GET', url: '/openapi.json' }));
}

function resolve(doc: Obj, value: unknown): Obj {
  const ref = (value as { $ref?: string }).$ref;
  if (ref === undefined) return value as Obj;
  let at: unknown = doc;
  for (const part of ref.replace(/^#\//, '').split('/')) at = (at as Obj)[part];
  return at as Obj;
}

/** The response object the document declares for `method url` answering `status`. */
function declaredResponse(doc: Obj, method: string, url: string, status: number): Obj {
  const path = url.split('?')[0] as string;
  for (const [template, item] of Object.entries(doc.paths as Obj)) {
    const re = new RegExp(`^${template.replace(/\{[a-z_]+\}/g, '[^/]+')}$`);
    if (!re.test(path)) continue;
    const op = (item as Obj)[method.toLowerCase()] as Obj | undefined;
    if (op === undefined) continue;
    const responses = op.responses as Obj;
    const r = responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses.default;
    expect(r, `${method} ${template} declares ${status}`).toBeDefined();
    return resolve(doc, r);
  }
  throw new Error(`no operation ${method} ${path}`);
}

function undeclared(doc: Obj, response: Obj, res: LightMyRequestResponse): string[] {
  const declared = new Set(Object.keys((response.headers ?? {}) as Obj).map((h) => h.toLowerCase()));
  for (const h of Object.values((response.headers ?? {}) as Obj))
    expect(resolve(doc, h).schema).toBeDefined();
  return Object.keys(res.headers).filter((h) => !TRANSPORT.has(h) && !declared.has(h));
}

describe('response headers in /openapi.json', () => {
  it('declares every header of a 401, 429, 5xx, 405, a replayed POST and an ETag answer', async () => {
    p = await demoPlatform();
    const doc = await openapi();
    const op = operator(p);
    const gate = deviceSigner(p, 'gate-01');
    const seen: { label: string; method: string; url: string; res: LightMyRequestResponse }[] = [];
    const send = async (label: string, req: Parameters<typeof signed>) => {
      const res = await p.app.inject(signed(...req));
      seen.push({ label, method: req[2], url: req[3], res });
      return res;
    };

    // 401: no signature
    const unsigned = await send('401', [p, undefined, 'GET', '/v1/wallets/s-001']);
    expect(unsigned.statusCode).toBe(401);
    expect(unsigned.headers['www-authenticate']).toBe('Signature realm="campus-card"');
    expect(unsigned.headers['accept-signature']).toBeDefined();
    // 401 on a POST (the challenge asks for content-digest)
    const unsignedPost = await send('401 POST', [
      p,
      undefined,
      'POST',
      '/v1/wallets/s-002/top-ups',
      { out_trade_no: 'TU-H0', amount: 100, channel: 'simulated' },
    ]);
    expect(unsignedPost.statusCode).toBe(401);
    // 429 from a rate_limit fault, then 503 from an error_5xx fault
    p.state.faults.set([
      { kind: 'rate_limit', route: 'getWallet', retry_after_s: 3, count: 1 },
      { kind: 'error_5xx', route: 'getWallet', status: 503, count: 1 },
    ]);
    const limited = await send('429', [p, gate, 'GET', '/v1/wallets/s-001']);
    expect([limited.statusCode, limited.headers['retry-after']]).toEqual([429, '3']);
    const faulted = await send('503', [p, gate, 'GET', '/v1/wallets/s-001']); // the rate limit is spent
    expect([faulted.statusCode, json(faulted).code]).toEqual([503, 'ERR_INJECTED_FAULT']);
    // a replayed POST
    const topUp = { out_trade_no: 'TU-H1', amount: 100, channel: 'simulated' };
    const first = await send('201', [
      p,
      op,
      'POST',
      '/v1/wallets/s-002/top-ups',
      topUp,
      { idempotencyKey: 'kh' },
    ]);
    const replay = await send('201 replayed', [
      p,
      op,
      'POST',
      '/v1/wallets/s-002/top-ups',
      topUp,
      { idempotencyKey: 'kh' },
    ]);
    expect([first.statusCode, replay.statusCode, replay.headers['idempotent-replayed']]).toEqual([
      201,
      201,
      'true',
    ]);
    // a signed document with its ETag
    const trust = await send('200 ETag', [p, gate, 'GET', '/v1/schools/sch-demo/trust-list']);
    expect([trust.statusCode, typeof trust.headers.etag]).toEqual([200, 'string']);

    const missing: string[] = [];
    for (const { label, method, url, res } of seen) {
      const response = declaredResponse(doc, method, url, res.statusCode);
      for (const h of undeclared(doc, response, res)) missing.push(`${label} ${method} ${url}: ${h}`);
      expect(res.headers['x-request-id'], label).toBeDefined();
    }
    expect(missing).toEqual([]);

    // 405: a path of the contract with another method; no operation answers it
    const notAllowed = await p.app.inject({ method: 'DELETE', url: '/v1/platform/keys' });
    expect([notAllowed.statusCode, json(notAllowed).code]).toEqual([405, 'ERR_METHOD_NOT_ALLOWED']);
    expect(notAllowed.headers.allow).toBe('GET, HEAD');
    const declared405 = (doc.components as { responses: Obj }).responses.MethodNotAllowed as Obj;
    expect(undeclared(doc, declared405, notAllowed)).toEqual([]);
  });
});
