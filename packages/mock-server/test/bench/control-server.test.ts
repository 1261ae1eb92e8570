import { afterEach, describe, expect, it } from 'vitest';
import { type ControlServer, startControlServer } from '../../bench/lib/control-server.js';

// The server bench's calibration target (BENCH_CONTROL_US): what the load generator needs from it.
let server: ControlServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const post = (url: string, body: unknown) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('startControlServer', () => {
  it('answers a payment 201 with "status":"success", after its busy time on the event loop', async () => {
    server = await startControlServer({ burnUs: 20_000 });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const t0 = performance.now();
    const res = await post(`${server.url}/v1/payments`, { amount: 1 });
    const ms = performance.now() - t0;
    expect(res.status).toBe(201);
    const text = await res.text();
    expect(text).toContain('"status":"success"');
    expect(text.length).toBeGreaterThan(500); // about the size of the platform's answer
    expect(ms).toBeGreaterThanOrEqual(20);
  });

  it('answers other POSTs (the top-ups) 201 at once and a GET 200', async () => {
    // (a busy time far over what two plain answers take on a loaded machine)
    server = await startControlServer({ burnUs: 1_000_000 });
    const t0 = performance.now();
    const topUp = await post(`${server.url}/v1/top-ups`, { amount: 10_000 });
    expect(topUp.status).toBe(201);
    await topUp.text();
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    expect(performance.now() - t0).toBeLessThan(700); // neither paid the payment's busy time
  });

  it('with hogUs, hands the busy work to a worker thread without waiting for it', async () => {
    server = await startControlServer({ burnUs: 0, hogUs: 300_000 });
    const t0 = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => post(`${server?.url}/v1/payments`, {}).then((r) => r.status)),
    );
    expect(answers).toEqual([201, 201, 201, 201, 201]);
    // 5 × 300 ms went to the worker, one after the other; the answers did not wait for it
    expect(performance.now() - t0).toBeLessThan(1000);
    const cpu0 = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const used = process.cpuUsage(cpu0);
    // the worker burns meanwhile, on this process's CPU, while this thread sleeps
    expect((used.user + used.system) / 1000).toBeGreaterThan(60);
  });

  it('closes with connections still open, and stops its worker', async () => {
    const s = await startControlServer({ burnUs: 0, hogUs: 10 });
    await (await post(`${s.url}/v1/payments`, {})).text();
    await s.close();
    await expect(fetch(`${s.url}/health`)).rejects.toThrow();
  });
});
