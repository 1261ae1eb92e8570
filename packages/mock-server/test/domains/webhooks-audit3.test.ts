/**
 * Third audit of push delivery:
 *
 * - the recording shows a push attempt as it starts (`push_sent`), not only once the subscriber
 *   answered (`push`): a push in flight, or whose subscriber hangs until the timeout, or cut short
 *   by closing, is visible; readers that take `push` lines as "one per finished attempt" still do;
 * - a hostile subscriber's answer body (huge, or never ending) costs the platform neither memory
 *   nor time: its status is the answer, the body is not read.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import { demoPlatform, deviceSigner, json, operator, qrOf, signed, startReceiver } from '../helpers.js';

let p: MockPlatform | undefined;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await p?.close();
  p = undefined;
  for (const c of cleanups.splice(0)) await c();
});

async function platform(): Promise<MockPlatform> {
  p = await demoPlatform({ pushIntervalMs: 3_600_000 });
  return p;
}

/** A server whose handler gets each request once its body has arrived; counts bytes written per response. */
async function server(handle: (res: ServerResponse) => void): Promise<{ base: string; hits: () => number }> {
  let hits = 0;
  const srv = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits++;
      handle(res);
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  );
  return { base: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, hits: () => hits };
}

async function subscribe(pf: MockPlatform, url: string): Promise<void> {
  const r = await pf.app.inject(
    signed(pf, operator(pf), 'POST', '/v1/webhook-subscriptions', {
      url,
      event_types: ['attendance.recorded'],
      recipient_person_id: 'p-001',
    }),
  );
  expect(r.statusCode, r.body).toBe(201);
}

/** One attendance event of s-001 (pushed to its parent p-001), without running a delivery round. */
async function upload(pf: MockPlatform, seq: number): Promise<void> {
  const r = await pf.app.inject(
    signed(pf, deviceSigner(pf, 'gate-01'), 'POST', '/v1/events/batches', {
      events: [
        {
          seq,
          kind: 'attendance',
          direction: 'in',
          occurred_at: new Date(pf.clock.now()).toISOString(),
          qr_text: await qrOf(pf, 's-001', 1),
          decision: 'allowed',
        },
      ],
    }),
  );
  expect(json(r), r.body).toMatchObject({ accepted: 1 });
}

async function eventually(done: () => boolean, withinMs: number): Promise<boolean> {
  const until = Date.now() + withinMs;
  while (!done()) {
    if (Date.now() > until) return false;
    await sleep(10);
  }
  return true;
}

const pushLines = (pf: MockPlatform, url: string) =>
  pf.recorder.entries.filter((e) => (e.kind === 'push' || e.kind === 'push_sent') && e.url === url);

describe('the recording of push attempts', () => {
  it('records an attempt when it is sent, and its outcome when it is over, in that order', async () => {
    const pf = await platform();
    const hook = await startReceiver(() => pf.clock.now());
    cleanups.push(() => hook.close());
    const url = `${hook.base}/h`;
    await subscribe(pf, url);
    await upload(pf, 1);
    await pf.pushes.pump();
    const pushId = pf.state.db.prepare('SELECT push_id FROM pushes WHERE url = ?').pluck().get(url);
    const body = hook.on('/h')[0]?.body.toString('utf8');
    const lines = pushLines(pf, url);
    expect(lines.map((e) => [e.kind, e.push_id, e.attempt, e.event_type, e.body])).toEqual([
      ['push_sent', pushId, 1, 'attendance.recorded', body],
      ['push', pushId, 1, 'attendance.recorded', body],
    ]);
    expect(lines[0]).not.toHaveProperty('status');
    expect(lines[1]).toMatchObject({ status: 200, duration_ms: expect.any(Number) });
    // one outcome line per attempt, as before: readers counting `push` lines see no change
    expect(pf.recorder.entries.filter((e) => e.kind === 'push')).toHaveLength(1);
  });

  it('a push whose subscriber hangs shows in the recording while in flight, and after a close cut it short', async () => {
    const pf = await platform();
    const hang = await server(() => undefined); // never answers
    const url = `${hang.base}/hang`;
    await subscribe(pf, url);
    await upload(pf, 1);
    const round = pf.pushes.pump();
    expect(await eventually(() => hang.hits() === 1, 4000)).toBe(true);
    // the subscriber has the push; the recording says so, with no outcome yet
    expect(pushLines(pf, url).map((e) => [e.kind, e.attempt])).toEqual([['push_sent', 1]]);
    const lines = pf.recorder.toJsonLines();
    expect(lines).toContain('"kind":"push_sent"');
    await pf.close();
    await round;
    // cut short by the close: still the sent line only, and the push is not counted
    expect(pushLines(pf, url).map((e) => [e.kind, e.attempt])).toEqual([['push_sent', 1]]);
  });
});

describe('a hostile subscriber answer', () => {
  it('a 200 whose body never ends is an answer at once, not a wait for the 5 s timeout', async () => {
    const pf = await platform();
    const stall = await server((res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('accepted, and more to come'); // ... never
    });
    const url = `${stall.base}/stall`;
    await subscribe(pf, url);
    await upload(pf, 1);
    const since = Date.now();
    expect(await pf.pushes.pump()).toBe(1);
    expect(Date.now() - since).toBeLessThan(4000);
    expect(pf.state.db.prepare('SELECT state, last_status FROM pushes WHERE url = ?').get(url)).toEqual({
      state: 'delivered',
      last_status: 200,
    });
  });

  it('a huge answer body is not read into the platform', async () => {
    const pf = await platform();
    const LIMIT = 24 * 1024 * 1024;
    let written = 0;
    const chunk = Buffer.alloc(256 * 1024, 0x61);
    const flood = await server((res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      // as fast as the platform reads, up to 24 MiB, then the body stays open
      const pump = (): void => {
        while (written < LIMIT && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
    const url = `${flood.base}/flood`;
    await subscribe(pf, url);
    await upload(pf, 1);
    const since = Date.now();
    expect(await pf.pushes.pump()).toBe(1);
    expect(Date.now() - since).toBeLessThan(4000);
    // what the subscriber got out before the platform let go: socket buffers, not the 24 MiB
    expect(written).toBeLessThan(8 * 1024 * 1024);
  });
});
