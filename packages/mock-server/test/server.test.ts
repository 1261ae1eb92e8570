import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importVerifyKey, verifyPush } from '@campus-card/core/http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClock, createMockPlatform, MIGRATIONS, startMockPlatform } from '../src/index.js';
import { deviceSigner, json, operator, qrOf, signed, startReceiver, T0, whenDelayed } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('persistence', () => {
  it('data survives a restart with a file database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-mock-'));
    dirs.push(dir);
    const dbPath = join(dir, 'platform.db');
    const clock = createClock({ start: T0, frozen: true });
    const a = await createMockPlatform({ dbPath, demo: true, clock });
    const r = await a.app.inject(
      signed(a, deviceSigner(a, 'pos-01'), 'POST', '/v1/payments', {
        out_trade_no: 'S1',
        amount: 700,
        qr_text: await qrOf(a, 's-001', 2),
      }),
    );
    expect(r.statusCode).toBe(201);
    await a.close();
    const b = await createMockPlatform({ dbPath, demo: true, clock });
    const o = await b.app.inject(signed(b, deviceSigner(b, 'pos-01'), 'GET', '/v1/payments/S1'));
    expect(json(o).status).toBe('success');
    expect(json(await b.app.inject(signed(b, operator(b), 'GET', '/v1/wallets/s-001'))).balance).toBe(9_300);
    expect((b.state.db.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get() as { n: number }).n).toBe(
      MIGRATIONS.length,
    );
    await b.close();
  });
});

describe('real server on port 0', () => {
  it('listens, serves, pushes signed attendance to the parent, dedupes events, and closes', async () => {
    const hook = await startReceiver();
    const received = hook.received;
    await using server = await startMockPlatform({
      demo: true,
      clock: createClock({ start: T0, frozen: true }),
      pushIntervalMs: 20,
    });
    const p = server.platform;
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    const sub = await p.app.inject(
      signed(p, operator(p), 'POST', '/v1/webhook-subscriptions', {
        url: `${hook.base}/hooks/parent`,
        event_types: ['attendance.recorded'],
        recipient_person_id: 'p-001',
      }),
    );
    expect(sub.statusCode, sub.body).toBe(201);
    const qr = await qrOf(p, 's-001', 1);
    const at = new Date(T0).toISOString();
    const events = {
      events: [
        { seq: 1, kind: 'attendance', direction: 'in', occurred_at: at, qr_text: qr, decision: 'allowed' },
      ],
    };
    const up = await p.app.inject(
      signed(p, deviceSigner(p, 'gate-01'), 'POST', '/v1/events/batches', events),
    );
    expect(json(up)).toMatchObject({ accepted: 1, duplicates: 0, max_seq: 1 });
    const dup = await p.app.inject(
      signed(p, deviceSigner(p, 'gate-01'), 'POST', '/v1/events/batches', events),
    );
    expect(json(dup)).toMatchObject({ accepted: 0, duplicates: 1 });
    for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(received.length).toBe(1);
    const push = received[0]!;
    const keys = json<{ webhook_signing: { kid: string }[] }>(
      await p.app.inject({ method: 'GET', url: '/v1/platform/keys' }),
    );
    const jwk = keys.webhook_signing[0]!;
    const v = await verifyPush(
      {
        method: 'POST',
        url: `${hook.base}${push.path}`,
        headers: push.headers as Record<string, string>,
        body: new Uint8Array(push.body),
      },
      { keyLookup: (id) => (id === jwk.kid ? importVerifyKey(jwk as never) : undefined), now: p.clock.now() },
    );
    expect(v.ok, JSON.stringify(v)).toBe(true);
    expect(JSON.parse(push.body.toString())).toMatchObject({
      type: 'attendance.recorded',
      data: { person_id: 's-001', class_id: '7-2' },
    });
    const list = await p.app.inject(signed(p, operator(p), 'GET', '/v1/events?class_id=7-2&limit=10'));
    expect(json<{ data: unknown[] }>(list).data).toHaveLength(1);
    expect(p.recorder.entries.some((e) => e.kind === 'push')).toBe(true);
    await hook.close();
  });

  it('drops the response after commit when told to, and the retry is replayed', async () => {
    await using server = await startMockPlatform({
      demo: true,
      clock: createClock({ start: T0, frozen: true }),
    });
    const p = server.platform;
    p.state.faults.set([{ kind: 'drop_after_commit', route: 'topUpWallet', count: 1 }], 7);
    const req = signed(
      p,
      operator(p),
      'POST',
      '/v1/wallets/s-002/top-ups',
      { out_trade_no: 'DR1', amount: 100, channel: 'bank' },
      { idempotencyKey: 'drop-1' },
    );
    const send = () =>
      fetch(`${server.url}${req.url}`, {
        method: 'POST',
        headers: req.headers as Record<string, string>,
        body: req.payload as string,
      });
    await expect(send()).rejects.toThrow();
    const retry = signed(
      p,
      operator(p),
      'POST',
      '/v1/wallets/s-002/top-ups',
      { out_trade_no: 'DR1', amount: 100, channel: 'bank' },
      { idempotencyKey: 'drop-1' },
    );
    const r = await fetch(`${server.url}${retry.url}`, {
      method: 'POST',
      headers: retry.headers as Record<string, string>,
      body: retry.payload as string,
    });
    expect(r.status).toBe(201);
    expect(r.headers.get('idempotent-replayed')).toBe('true');
    expect(json(await p.app.inject(signed(p, operator(p), 'GET', '/v1/wallets/s-002'))).balance).toBe(5_100);
    // the recording tells which answer never reached the device
    const lines = p.recorder.entries.filter((e) => e.operation_id === 'topUpWallet');
    expect(lines.map((e) => [e.status, e.response_dropped])).toEqual([
      [201, true],
      [201, false],
    ]);
  });

  it('closing answers every request pipelined on a connection, committed or not, before it closes it', async () => {
    const server = await startMockPlatform({ demo: true, clock: createClock({ start: T0, frozen: true }) });
    const p = server.platform;
    p.state.faults.set([{ kind: 'delay', route: 'topUpWallet', delay_ms: 500, count: 3 }], 1);
    const raw = (i: number) => {
      const r = signed(
        p,
        operator(p),
        'POST',
        '/v1/wallets/s-002/top-ups',
        { out_trade_no: `KA-${i}`, amount: 100, channel: 'bank' },
        { idempotencyKey: `ka-${i}` },
      );
      const body = r.payload as string;
      const headers = {
        ...(r.headers as Record<string, string>),
        host: '127.0.0.1',
        'content-length': String(Buffer.byteLength(body)),
      };
      return `POST ${r.url} HTTP/1.1\r\n${Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}`)
        .join('\r\n')}\r\n\r\n${body}`;
    };
    const socket = connect(server.port, '127.0.0.1');
    let got = '';
    socket.on('data', (d) => {
      got += d.toString();
    });
    const ended = new Promise((resolve) => socket.on('close', resolve));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write([1, 2, 3].map(raw).join(''));
    await new Promise((resolve) => setTimeout(resolve, 150)); // all three are running (delayed)
    await server.close();
    await ended;
    const statuses = [...got.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    expect(statuses).toEqual(['201', '201', '201']);
    const closes = [...got.matchAll(/\r\nconnection: (\w+)/gi)].map((m) => m[1]?.toLowerCase());
    expect(closes.at(-1)).toBe('close');
    expect(closes.slice(0, -1)).not.toContain('close');
  });

  it('an unscoped drop_after_commit is not spent on the admin call that sets it: the device request gets it', async () => {
    await using server = await startMockPlatform({
      demo: true,
      clock: createClock({ start: T0, frozen: true }),
    });
    const p = server.platform;
    const set = await fetch(`${server.url}/admin/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ seed: 1, rules: [{ kind: 'drop_after_commit', count: 1 }] }),
    });
    expect(set.status).toBe(200);
    const req = signed(
      p,
      operator(p),
      'POST',
      '/v1/wallets/s-002/top-ups',
      { out_trade_no: 'DR-A', amount: 100, channel: 'bank' },
      { idempotencyKey: 'drop-admin' },
    );
    await expect(
      fetch(`${server.url}${req.url}`, {
        method: 'POST',
        headers: req.headers as Record<string, string>,
        body: req.payload as string,
      }),
    ).rejects.toThrow();
    expect(p.recorder.entries.map((e) => [e.operation_id, e.response_dropped])).toEqual([
      ['setFaults', false],
      ['topUpWallet', true],
    ]);
  });

  it('injects 429 with Retry-After and 5xx, scoped to a device', async () => {
    await using server = await startMockPlatform({
      demo: true,
      clock: createClock({ start: T0, frozen: true }),
    });
    const p = server.platform;
    const set = await fetch(`${server.url}/admin/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        seed: 3,
        rules: [
          { kind: 'rate_limit', device_id: 'gate-01', retry_after_s: 7, count: 1 },
          { kind: 'error_5xx', device_id: 'lib-01', status: 503, count: 1 },
        ],
      }),
    });
    expect(set.status).toBe(200);
    const g = await p.app.inject(signed(p, deviceSigner(p, 'gate-01'), 'GET', '/v1/wallets/s-001'));
    expect([g.statusCode, g.headers['retry-after'], json(g).retryable]).toEqual([429, '7', true]);
    const l = await p.app.inject(signed(p, deviceSigner(p, 'lib-01'), 'GET', '/v1/wallets/s-001'));
    expect([l.statusCode, json(l).code]).toEqual([503, 'ERR_INJECTED_FAULT']);
    const pos = await p.app.inject(signed(p, deviceSigner(p, 'pos-01'), 'GET', '/v1/wallets/s-001'));
    expect(pos.statusCode).toBe(200);
    const clock = await fetch(`${server.url}/admin/clock`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ advance_s: 60 }),
    });
    expect(json({ body: await clock.text() }).now).toBe('2026-01-05T08:01:00Z');
  });
});

describe('graceful close', () => {
  it('answers a request in flight (its injected delay ends at once), commits it, and logs no error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mock-close-'));
    dirs.push(dir);
    const dbPath = join(dir, 'platform.db');
    const server = await startMockPlatform({
      dbPath,
      demo: true,
      clock: createClock({ start: T0, frozen: true }),
    });
    const p = server.platform;
    p.state.faults.set([{ kind: 'delay', route: 'topUpWallet', delay_ms: 30_000, count: 1 }]);
    const sleeping = whenDelayed(p);
    const errors: unknown[][] = [];
    const error = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      errors.push(args);
    });
    try {
      const req = signed(
        p,
        operator(p),
        'POST',
        '/v1/wallets/s-002/top-ups',
        { out_trade_no: 'CLOSE-1', amount: 100, channel: 'bank' },
        { idempotencyKey: 'close-1' },
      );
      const answer = fetch(`${server.url}${req.url}`, {
        method: 'POST',
        headers: req.headers as Record<string, string>,
        body: req.payload as string,
      }).then(
        async (r) => ({ status: r.status, body: await r.text() }),
        (e: unknown) => ({ status: 0, body: String(e) }),
      );
      await sleeping;
      const t0 = performance.now();
      await server.close();
      expect(performance.now() - t0).toBeLessThan(10_000);
      const got = await answer;
      expect(got.status).toBe(201);
      expect(errors).toEqual([]);
    } finally {
      error.mockRestore();
    }
    // what it answered is there after a restart
    const again = await createMockPlatform({ dbPath, clock: createClock({ start: T0, frozen: true }) });
    try {
      const row = again.state.db.prepare("SELECT amount FROM orders WHERE out_trade_no = 'CLOSE-1'").get();
      expect(row).toEqual({ amount: 100 });
    } finally {
      await again.close();
    }
  });
});
