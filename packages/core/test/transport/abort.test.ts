import { MockAgent } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTransport, sleep } from '../../src/transport.js';
import { makeJwk } from './helpers.js';

const ORIGIN = 'https://api.campus.test';
const jwk = makeJwk('ed25519');

afterEach(() => {
  vi.useRealTimers();
});

describe('abort', () => {
  it('the default sleep rejects with the typed reason on abort and leaves no timer behind', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const reason = new DOMException('stop', 'AbortError');
    const p = sleep(60_000, controller.signal);
    expect(vi.getTimerCount()).toBe(1);
    controller.abort(reason);
    await expect(p).rejects.toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
    await expect(sleep(10, controller.signal)).rejects.toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an abort during the backoff sleep ends the call with its reason: no further attempt', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    let attempts = 0;
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(() => {
        attempts++;
        return { statusCode: 503, data: '' };
      })
      .persist();
    const controller = new AbortController();
    const reason = new Error('operator cancelled');
    const t = createTransport({
      baseUrl: ORIGIN,
      keyId: 'pos-1',
      privateKey: jwk,
      dispatcher: agent,
      retryBaseMs: 60_000,
      retryMaxMs: 60_000,
    });
    const p = t.request({ method: 'POST', path: '/v1/payments', body: {}, signal: controller.signal });
    await vi.waitFor(() => expect(attempts).toBe(1));
    setTimeout(() => controller.abort(reason), 20);
    await expect(p).rejects.toBe(reason);
    expect(attempts).toBe(1);
    await agent.close();
  });

  it('a signal aborted before the call sends nothing', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const reason = new Error('already gone');
    const t = createTransport({ baseUrl: ORIGIN, keyId: 'pos-1', privateKey: jwk, dispatcher: agent });
    await expect(
      t.request({ method: 'POST', path: '/v1/payments', body: {}, signal: AbortSignal.abort(reason) }),
    ).rejects.toBe(reason);
    await agent.close();
  });
});
