import { existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { exportJwk, generateKeyPair } from '@campus-card/core';
import type { Jwk } from '@campus-card/core/http';
import type { Decision, LoadResult, Verifier } from '@campus-card/verifier';
import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGateClient, type GateClientOptions } from '../src/index.js';
import { tempDir } from './helpers.js';
import { stubVerifier } from './stub-verifier.js';

const ORIGIN = 'https://api.campus.test';
const NOW = Date.UTC(2026, 0, 5, 8, 0, 0);
const jwk = exportJwk(generateKeyPair('ES256').privateKey, { includePrivate: true }) as Jwk;

let agent: MockAgent;
let data: ReturnType<typeof tempDir>;
beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  data = tempDir();
});
afterEach(async () => {
  agent.assertNoPendingInterceptors();
  await agent.close();
  data.cleanup();
});

function options(verifier: Verifier, extra: Partial<GateClientOptions> = {}): GateClientOptions {
  return {
    baseUrl: ORIGIN,
    deviceId: 'gate-1',
    schoolId: 'sch-1',
    privateKey: jwk,
    verifier,
    dataDir: data.dir,
    dispatcher: agent,
    now: () => NOW,
    outbox: { firstSeq: 1 },
    transport: { sleep: async () => {}, maxRetries: 2 },
    ...extra,
  };
}

function bodyText(body: unknown): string {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body).toString('utf8');
  throw new TypeError('unexpected mock body');
}

const CBOR = { 'content-type': 'application/cbor' };
const JSON_H = { 'content-type': 'application/json' };

function material(segment: string, version: number, etag: string, opts: { ifNoneMatch?: string } = {}) {
  agent
    .get(ORIGIN)
    .intercept({
      path: `/v1/schools/sch-1/${segment}`,
      method: 'GET',
      headers: (h: Record<string, string>) => h['if-none-match'] === opts.ifNoneMatch,
    })
    .reply(200, Buffer.from([version, 0xaa]), { headers: { ...CBOR, etag } });
}
function notModified(segment: string, etag: string) {
  agent
    .get(ORIGIN)
    .intercept({
      path: `/v1/schools/sch-1/${segment}`,
      method: 'GET',
      headers: (h: Record<string, string>) => h['if-none-match'] === etag,
    })
    .reply(304, '', { headers: { etag } });
}

const denied: Decision = {
  accepted: false,
  reason: 'UNKNOWN_CARD',
  detail: 'not in the roster',
  audit: {
    trustList: { version: 3, iat: 1_767_600_000 },
    statusList: null,
    roster: null,
    lastSyncAt: null,
    clock: NOW / 1000,
    floor: 0,
  },
};

describe('sync with ETags', () => {
  it('fetches, persists, then sends If-None-Match and treats 304 as unchanged', async () => {
    const { verifier, loads } = stubVerifier();
    const g = await createGateClient(options(verifier));
    material('trust-list', 3, '"tl-3"');
    material('status-list', 7, '"sl-7"');
    material('roster', 2, '"ro-2"');
    const first = await g.syncNow();
    expect(first.ok).toBe(true);
    expect(first.statusList).toEqual({ outcome: 'updated', version: 7 });
    const stored = JSON.parse(readFileSync(join(data.dir, 'material', 'status-list.json'), 'utf8'));
    expect(stored.etag).toBe('"sl-7"');

    notModified('trust-list', '"tl-3"');
    notModified('status-list', '"sl-7"');
    notModified('roster', '"ro-2"');
    const second = await g.syncNow();
    expect(second.ok).toBe(true);
    expect(second.trustList).toEqual({ outcome: 'unchanged', version: 3 });
    // the held copy was re-presented so the verifier records the sync
    expect(loads.filter((l) => l.material === 'trustList').map((l) => l.version)).toEqual([3, 3]);
    expect(g.status().trustList).toMatchObject({
      held: true,
      version: 3,
      lastSyncAt: NOW / 1000,
      lastError: null,
    });
    await g.close();
  });

  it('keeps the last good copy when the platform sends a rollback, and reports it', async () => {
    const { verifier } = stubVerifier();
    const g = await createGateClient(options(verifier));
    material('trust-list', 3, '"tl-3"');
    material('status-list', 7, '"sl-7"');
    material('roster', 2, '"ro-2"');
    await g.syncNow();
    material('trust-list', 2, '"tl-2"', { ifNoneMatch: '"tl-3"' });
    notModified('status-list', '"sl-7"');
    notModified('roster', '"ro-2"');
    const r = await g.syncNow();
    expect(r.ok).toBe(false);
    expect(r.trustList.outcome).toBe('rejected');
    expect(r.trustList.error).toMatchObject({ code: 'ERR_GATE_MATERIAL_REJECTED' });
    expect(g.status().trustList.lastError?.code).toBe('ERR_GATE_MATERIAL_REJECTED');
    const stored = JSON.parse(readFileSync(join(data.dir, 'material', 'trust-list.json'), 'utf8'));
    expect(stored.etag).toBe('"tl-3"');
    await g.close();
  });

  it('reloads the stored material at startup (no network) and reports a failed sync', async () => {
    const first = stubVerifier();
    const g = await createGateClient(options(first.verifier));
    material('trust-list', 3, '"tl-3"');
    material('status-list', 7, '"sl-7"');
    material('roster', 2, '"ro-2"');
    await g.syncNow();
    await g.close();

    const second = stubVerifier();
    const h = await createGateClient(options(second.verifier));
    expect(second.loads.map((l) => [l.material, l.version])).toEqual([
      ['trustList', 3],
      ['statusList', 7],
      ['roster', 2],
    ]);
    // loaded as of the fetch time, not as a new sync
    expect(second.loads.every((l) => l.now === NOW / 1000)).toBe(true);
    agent
      .get(ORIGIN)
      .intercept({ path: /\/v1\/schools\/sch-1\/.*/, method: 'GET' })
      .replyWithError(new Error('ECONNREFUSED'))
      .times(9);
    const r = await h.syncNow();
    expect(r.trustList.outcome).toBe('failed');
    expect(r.trustList.version).toBe(3);
    expect(h.status().trustList.lastError?.code).toBe('ERR_CONNECTION');
    await h.close();
  });
});

describe('sync on a failing disk', () => {
  it('a material that cannot be stored is still used, and the sync goes on with the others', async () => {
    const { verifier } = stubVerifier();
    const errors: [string, string][] = [];
    const g = await createGateClient(
      options(verifier, { onError: (e, task) => errors.push([task, (e as { code?: string }).code ?? '']) }),
    );
    // the material directory cannot be created (a file is in the way), as with a full disk
    writeFileSync(join(data.dir, 'material'), 'x');
    material('trust-list', 3, '"tl-3"');
    material('status-list', 7, '"sl-7"'); // the revocations must reach the verifier all the same
    material('roster', 2, '"ro-2"');
    const r = await g.syncNow();
    expect(r.ok).toBe(true);
    expect(r.statusList).toEqual({ outcome: 'updated', version: 7 });
    expect(errors.filter(([task]) => task === 'save').length).toBe(3);

    // once the disk is back, the next sync stores the copies it holds, even on a 304
    rmSync(join(data.dir, 'material'));
    notModified('trust-list', '"tl-3"');
    notModified('status-list', '"sl-7"');
    notModified('roster', '"ro-2"');
    expect((await g.syncNow()).ok).toBe(true);
    const stored = JSON.parse(readFileSync(join(data.dir, 'material', 'status-list.json'), 'utf8'));
    expect(stored.etag).toBe('"sl-7"');
    await g.close();
  });
});

describe('event upload', () => {
  const batchPath = '/v1/events/batches';
  /** Answers the next batch upload with `answer`; the returned function gives the body that was sent. */
  function captureBatch(answer: object): () => { events: Record<string, unknown>[] } | undefined {
    let sent: { events: Record<string, unknown>[] } | undefined;
    agent
      .get(ORIGIN)
      .intercept({ path: batchPath, method: 'POST' })
      .reply(
        200,
        (o) => {
          sent = JSON.parse(bodyText(o.body));
          return answer;
        },
        { headers: JSON_H },
      );
    return () => sent;
  }
  const ackAll = (body: string) => {
    const events = (JSON.parse(body) as { events: { seq: number }[] }).events;
    return { accepted: events.length, duplicates: 0, acked_seqs: events.map((e) => e.seq), max_seq: null };
  };

  it('retries a 503 with the same idempotency key, then moves the cursor', async () => {
    const { verifier } = stubVerifier(denied);
    const g = await createGateClient(options(verifier, { batchSize: 2 }));
    for (let i = 0; i < 3; i++) await g.recordDecision(denied, { kind: 'access', direction: 'in' });
    const keys: string[] = [];
    const keyOf = (o: { headers?: unknown }) => {
      const h = o.headers as Record<string, string> | string[];
      if (Array.isArray(h)) return h[h.findIndex((x) => x.toLowerCase() === 'idempotency-key') + 1] ?? '';
      return h['idempotency-key'] ?? '';
    };
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: batchPath, method: 'POST' }).reply(
      503,
      (o) => {
        keys.push(keyOf(o));
        return { message: 'busy' };
      },
      { headers: JSON_H },
    );
    pool
      .intercept({ path: batchPath, method: 'POST' })
      .reply(
        200,
        (o) => {
          keys.push(keyOf(o));
          return ackAll(bodyText(o.body));
        },
        { headers: JSON_H },
      )
      .times(2);
    const r = await g.flush();
    expect(r).toEqual({ batches: 2, accepted: 3, duplicates: 0, quarantined: [], remaining: 0 });
    expect(keys).toHaveLength(3);
    expect(keys[0]).toBe(keys[1]);
    expect(keys[2]).not.toBe(keys[1]);
    expect(g.outbox.ackedSeq).toBe(3);
    expect(JSON.parse(readFileSync(join(data.dir, 'outbox', 'cursor.json'), 'utf8'))).toEqual({
      acked_seq: 3,
    });
    await g.close();
  });

  it('uploads the decision audit and never moves the cursor past an unacknowledged event', async () => {
    const { verifier } = stubVerifier(denied);
    const g = await createGateClient(options(verifier));
    await g.recordDecision(denied, {
      kind: 'library_borrow',
      itemId: 'book-1',
      input: { uid: Uint8Array.from([1, 2, 3, 4]) },
    });
    const sent = captureBatch({ accepted: 0, duplicates: 0, acked_seqs: [], max_seq: null });
    await expect(g.flush()).rejects.toMatchObject({ code: 'ERR_GATE_OUTBOX_IO' });
    expect(sent()).toEqual({
      events: [
        {
          seq: 1,
          kind: 'library_borrow',
          occurred_at: '2026-01-05T08:00:00Z',
          decision: 'denied',
          uid_hex: '01020304',
          reason: 'UNKNOWN_CARD',
          item_id: 'book-1',
          audit: {
            trust_list: { version: 3, signed_at: '2026-01-05T08:00:00Z' },
            status_list: null,
            roster: null,
            last_sync_at: null,
            clock: '2026-01-05T08:00:00Z',
            floor: null,
          },
        },
      ],
    });
    expect(g.outbox.depth).toBe(1);
    expect(g.status().outbox.lastError?.code).toBe('ERR_GATE_OUTBOX_IO');
    await g.close();
  });

  it("records the reader's zone and the policy rule that denied", async () => {
    const policyDenied: Decision = {
      ...denied,
      reason: 'POLICY_DENIED',
      rule: 'r'.repeat(70),
      cardId: '2024010001',
      school: '10001',
    };
    const { verifier } = stubVerifier(policyDenied);
    const g = await createGateClient(options(verifier));
    const r = await g.scan('CC1:ABC', { id: 'lab-door', zone: 'lab-204' }, { kind: 'access' });
    expect(r.decision).toBe(policyDenied);
    // a zone over 64 characters is left out: the platform uses the device's own
    await g.recordDecision(policyDenied, { kind: 'access', zone: 'z'.repeat(65) });
    const sent = captureBatch({ accepted: 2, duplicates: 0, acked_seqs: [1, 2], max_seq: 2 });
    await g.flush();
    expect(sent()?.events[0]).toMatchObject({
      card_id: '2024010001',
      reason: 'POLICY_DENIED',
      rule: 'r'.repeat(64),
      zone: 'lab-204',
    });
    expect(sent()?.events[1]).not.toHaveProperty('zone');
    await g.close();
  });

  it('flush on a 200 that is empty, null or HTML rejects with a typed ERR_ code and acknowledges nothing', async () => {
    const { verifier } = stubVerifier(denied);
    const g = await createGateClient(options(verifier));
    await g.recordDecision(denied, { kind: 'access' });
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: batchPath, method: 'POST' }).reply(200, '', { headers: JSON_H });
    pool.intercept({ path: batchPath, method: 'POST' }).reply(200, 'null', { headers: JSON_H });
    pool.intercept({ path: batchPath, method: 'POST' }).reply(200, '<html></html>', {
      headers: { 'content-type': 'text/html' },
    });
    for (let i = 0; i < 3; i++) {
      const e = await g.flush().catch((x: unknown) => x);
      expect(e).toMatchObject({ code: expect.stringMatching(/^ERR_/), status: 200 });
      expect(g.status().outbox.lastError?.code).toBe('ERR_RESPONSE_INVALID');
    }
    expect(g.outbox.depth).toBe(1);
    await g.close();
  });

  it('a 413 halves the batch until it fits; every event is acknowledged once', async () => {
    const { verifier } = stubVerifier(denied);
    const g = await createGateClient(options(verifier, { batchSize: 5 }));
    for (let i = 0; i < 5; i++) await g.recordDecision(denied, { kind: 'access' });
    const sizes: number[] = [];
    const stored = new Map<number, number>();
    agent
      .get(ORIGIN)
      .intercept({ path: batchPath, method: 'POST' })
      .reply<object>((o) => {
        const events = (JSON.parse(bodyText(o.body)) as { events: { seq: number }[] }).events;
        sizes.push(events.length);
        if (events.length > 2)
          return {
            statusCode: 413,
            data: { code: 'ERR_BODY_TOO_LARGE' },
            responseOptions: { headers: JSON_H },
          };
        for (const e of events) stored.set(e.seq, (stored.get(e.seq) ?? 0) + 1);
        return { statusCode: 200, data: ackAll(bodyText(o.body)), responseOptions: { headers: JSON_H } };
      })
      .times(5);
    expect(await g.flush()).toEqual({
      batches: 3,
      accepted: 5,
      duplicates: 0,
      quarantined: [],
      remaining: 0,
    });
    expect(sizes).toEqual([5, 3, 2, 2, 1]);
    expect([...stored.values()]).toEqual([1, 1, 1, 1, 1]);
    expect(g.outbox.ackedSeq).toBe(5);
    await g.close();
  });

  it('a malformed event (400 alone) is quarantined and no longer blocks the others', async () => {
    const { verifier } = stubVerifier(denied);
    const g = await createGateClient(options(verifier, { batchSize: 8 }));
    for (let i = 1; i <= 8; i++)
      await g.recordDecision(denied, { kind: 'library_borrow', itemId: i === 5 ? 'poison' : `book-${i}` });
    const stored = new Map<number, number>();
    const problem = {
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      code: 'ERR_VALIDATION',
      detail: 'body/events/0/item_id: unknown book',
      retryable: false,
      request_id: 'req-1',
    };
    agent
      .get(ORIGIN)
      .intercept({ path: batchPath, method: 'POST' })
      .reply<object>((o) => {
        const events = (JSON.parse(bodyText(o.body)) as { events: { seq: number; item_id: string }[] })
          .events;
        if (events.some((e) => e.item_id === 'poison'))
          return {
            statusCode: 400,
            data: problem,
            responseOptions: { headers: { 'content-type': 'application/problem+json' } },
          };
        for (const e of events) stored.set(e.seq, (stored.get(e.seq) ?? 0) + 1);
        return { statusCode: 200, data: ackAll(bodyText(o.body)), responseOptions: { headers: JSON_H } };
      })
      .persist();
    const r = await g.flush();
    expect(r).toMatchObject({ accepted: 7, duplicates: 0, remaining: 0 });
    expect(r.quarantined.map((q) => [q.event.seq, q.event.item_id, q.reason.code, q.reason.status])).toEqual([
      [5, 'poison', 'ERR_VALIDATION', 400],
    ]);
    expect([...stored.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 6, 7, 8]);
    expect([...stored.values()].every((n) => n === 1)).toBe(true);
    expect(g.outbox.ackedSeq).toBe(8);
    await g.close();

    // the quarantine is on disk, for an operator to export
    const again = await createGateClient(options(stubVerifier(denied).verifier));
    expect(again.outbox.quarantined().map((q) => q.event.seq)).toEqual([5]);
    await again.close();
  });

  it('a 400 without the platform problem body (a proxy page) is not a reason to quarantine', async () => {
    const { verifier } = stubVerifier(denied);
    const g = await createGateClient(options(verifier));
    await g.recordDecision(denied, { kind: 'access' });
    agent
      .get(ORIGIN)
      .intercept({ path: batchPath, method: 'POST' })
      .reply(400, '<html>blocked</html>', {
        headers: { 'content-type': 'text/html' },
      });
    await expect(g.flush()).rejects.toMatchObject({ status: 400 });
    expect(g.outbox.depth).toBe(1);
    expect(g.outbox.quarantined()).toEqual([]);
    await g.close();
  });

  it('an acknowledgement of seqs that were not in the batch does not move the cursor over them', async () => {
    const { verifier } = stubVerifier(denied);
    const g = await createGateClient(options(verifier, { batchSize: 2 }));
    for (let i = 0; i < 3; i++) await g.recordDecision(denied, { kind: 'access' });
    const sent: number[][] = [];
    agent
      .get(ORIGIN)
      .intercept({ path: batchPath, method: 'POST' })
      .reply(
        200,
        (o) => {
          sent.push((JSON.parse(bodyText(o.body)) as { events: { seq: number }[] }).events.map((e) => e.seq));
          // a faulty platform acknowledges every seq it has heard of, event 3 included
          return { accepted: 2, duplicates: 0, acked_seqs: [1, 2, 3], max_seq: 3 };
        },
        { headers: JSON_H },
      )
      .times(2);
    await g.flush();
    expect(sent).toEqual([[1, 2], [3]]); // event 3 was uploaded, not dropped unsent
    expect(g.outbox.ackedSeq).toBe(3);
    await g.close();
  });

  it('cuts batches at maxBatchBytes as well as batchSize', async () => {
    const { verifier } = stubVerifier(denied);
    const g = await createGateClient(options(verifier, { batchSize: 1000, maxBatchBytes: 1024 }));
    for (let i = 0; i < 12; i++) await g.recordDecision(denied, { kind: 'access' });
    const bodies: string[] = [];
    agent
      .get(ORIGIN)
      .intercept({ path: batchPath, method: 'POST' })
      .reply(
        200,
        (o) => {
          bodies.push(bodyText(o.body));
          return ackAll(bodyText(o.body));
        },
        { headers: JSON_H },
      )
      .persist();
    expect(await g.flush()).toMatchObject({ accepted: 12, remaining: 0 });
    expect(bodies.length).toBeGreaterThan(1);
    for (const b of bodies) expect(Buffer.byteLength(b)).toBeLessThanOrEqual(1024);
    await g.close();
  });

  it('rejects an event that does not fit the contract', async () => {
    const { verifier } = stubVerifier(denied);
    const g = await createGateClient(options(verifier));
    await expect(g.recordDecision(denied, { kind: 'access', itemId: 'x'.repeat(65) })).rejects.toMatchObject({
      code: 'ERR_GATE_EVENT_INVALID',
    });
    expect(g.outbox.depth).toBe(0);
    await g.close();
  });

  it('scan checks its options before the verifier sees the code: a bad option does not use the code up', async () => {
    const { verifier } = stubVerifier(denied);
    let verified = 0;
    const counting: Verifier = {
      ...verifier,
      async verify(input, context) {
        verified++;
        return verifier.verify(input, context);
      },
    };
    const g = await createGateClient(options(counting));
    for (const bad of [
      { itemId: 'x'.repeat(65) },
      { occurredAtMs: Number.NaN },
      { direction: 'up' as 'in' },
    ]) {
      await expect(
        g.scan('CC1:ABC', { id: 'desk-1' }, { kind: 'library_borrow', ...bad }),
      ).rejects.toMatchObject({
        code: 'ERR_GATE_EVENT_INVALID',
      });
    }
    expect(verified).toBe(0);
    expect(g.outbox.depth).toBe(0);
    await g.scan('CC1:ABC', { id: 'desk-1' }, { kind: 'library_borrow', itemId: 'x'.repeat(64) });
    expect([verified, g.outbox.depth]).toEqual([1, 1]);
    await g.close();
  });
});

describe('the data directory', () => {
  it('holds one gate client at a time: a second is refused ERR_GATE_DATA_DIR_LOCKED until the first closes', async () => {
    const { verifier } = stubVerifier(denied);
    const first = await createGateClient(options(verifier));
    await expect(createGateClient(options(verifier))).rejects.toMatchObject({
      code: 'ERR_GATE_DATA_DIR_LOCKED',
    });
    await first.close();
    const second = await createGateClient(options(verifier));
    await second.close();
  });
});

describe('abort signals', () => {
  it("a caller's signal ends its wait even when it joins a flush already running", async () => {
    const { verifier } = stubVerifier(denied);
    const g = await createGateClient(options(verifier));
    await g.recordDecision(denied, { kind: 'access' });
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/events/batches', method: 'POST' })
      .reply(
        200,
        (o) => {
          const events = (JSON.parse(bodyText(o.body)) as { events: { seq: number }[] }).events;
          return {
            accepted: events.length,
            duplicates: 0,
            acked_seqs: events.map((e) => e.seq),
            max_seq: null,
          };
        },
        { headers: JSON_H },
      )
      .delay(400);
    const background = g.flush(); // e.g. the background loop, without a signal
    const started = Date.now();
    await expect(g.flush({ signal: AbortSignal.timeout(50) })).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    expect(Date.now() - started).toBeLessThan(300);
    expect(await background).toMatchObject({ accepted: 1, remaining: 0 }); // the shared work goes on
    await g.close();
  });

  it("the first caller's abort does not fail a flush another caller joined; it goes on to the end", async () => {
    const { verifier } = stubVerifier(denied);
    const g = await createGateClient(options(verifier));
    await g.recordDecision(denied, { kind: 'access' });
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/events/batches', method: 'POST' })
      .reply(200, { accepted: 1, duplicates: 0, acked_seqs: [1], max_seq: null }, { headers: JSON_H })
      .delay(300);
    const operator = new AbortController();
    const first = g.flush({ signal: operator.signal }); // an operator's "upload now"
    const background = g.flush(); // the background loop joins it
    setTimeout(() => operator.abort(new Error('operator cancelled')), 30);
    await expect(first).rejects.toThrow('operator cancelled');
    expect(await background).toMatchObject({ accepted: 1, remaining: 0 });
    await g.close();
  });

  it("the first caller's abort does not fail a sync another caller joined", async () => {
    const { verifier } = stubVerifier();
    const g = await createGateClient(options(verifier));
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/schools/sch-1/trust-list', method: 'GET' })
      .reply(200, Buffer.from([3, 0xaa]), { headers: { ...CBOR, etag: '"tl-3"' } })
      .delay(300);
    material('status-list', 7, '"sl-7"');
    material('roster', 2, '"ro-2"');
    const operator = new AbortController();
    const first = g.syncNow({ signal: operator.signal });
    const background = g.syncNow();
    setTimeout(() => operator.abort(new Error('operator cancelled')), 30);
    await expect(first).rejects.toThrow('operator cancelled');
    const report = await background;
    expect(report.ok).toBe(true);
    expect(report.trustList.outcome).toBe('updated');
    await g.close();
  });

  it("a caller's signal ends its wait even when it joins a sync already running", async () => {
    const { verifier } = stubVerifier();
    const g = await createGateClient(options(verifier));
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/schools/sch-1/trust-list', method: 'GET' })
      .reply(200, Buffer.from([3, 0xaa]), { headers: { ...CBOR, etag: '"tl-3"' } })
      .delay(400);
    material('status-list', 7, '"sl-7"');
    material('roster', 2, '"ro-2"');
    const background = g.syncNow();
    const started = Date.now();
    await expect(g.syncNow({ signal: AbortSignal.timeout(50) })).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    expect(Date.now() - started).toBeLessThan(300);
    expect((await background).ok).toBe(true);
    await g.close();
  });
});

describe('limits', () => {
  it('refuses trust material over the format limit without reading it all', async () => {
    const { verifier } = stubVerifier();
    const g = await createGateClient(options(verifier));
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/schools/sch-1/trust-list', method: 'GET' })
      .reply(200, Buffer.alloc(262_145, 3), { headers: CBOR });
    material('status-list', 7, '"sl-7"');
    material('roster', 2, '"ro-2"');
    const r = await g.syncNow();
    expect(r.trustList).toMatchObject({ outcome: 'failed', error: { code: 'ERR_RESPONSE_TOO_LARGE' } });
    expect(r.statusList.outcome).toBe('updated');
    await g.close();
  });

  it('refuses "." and ".." as device or school id: they are dot segments in the URL', async () => {
    const { verifier } = stubVerifier();
    for (const id of ['.', '..']) {
      await expect(createGateClient(options(verifier, { deviceId: id }))).rejects.toBeInstanceOf(TypeError);
      await expect(createGateClient(options(verifier, { schoolId: id }))).rejects.toBeInstanceOf(TypeError);
    }
  });
});

describe('online identity fallback', () => {
  it('keeps the offline denial when the platform does not answer in time', async () => {
    const { verifier } = stubVerifier(denied);
    const g = await createGateClient(options(verifier, { onlineTimeoutMs: 50 }));
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/identity/resolve', method: 'POST' })
      .reply(200, {}, { headers: JSON_H })
      .delay(500);
    const r = await g.scan('CC1:ABC', { id: 'gate-1' }, { kind: 'access' });
    expect(r.source).toBe('offline');
    expect(r.decision).toBe(denied);
    expect(r.onlineError).toBeDefined();
    expect(r.seq).toBe(1);
    await g.close();
  });

  it('does not ask the platform for reasons it cannot overturn', async () => {
    const { verifier } = stubVerifier({ ...denied, reason: 'REPLAYED' });
    const g = await createGateClient(options(verifier));
    const r = await g.scan('CC1:ABC', { id: 'gate-1', onlineFallback: true }, { kind: 'access' });
    expect(r.source).toBe('offline');
    expect(r.offline).toBeUndefined();
    await g.close();
  });
});

describe('material of another school, and answers that answer nothing', () => {
  it("another school's status list or roster is refused, and this school's stored copies stay", async () => {
    const { verifier } = stubVerifier(undefined, () => 'sch-other');
    const g = await createGateClient(options(verifier));
    material('trust-list', 3, '"tl-3"');
    material('status-list', 7, '"sl-7"');
    material('roster', 2, '"ro-2"');
    const r = await g.syncNow();
    expect({ ok: r.ok, sl: r.statusList.outcome, ro: r.roster.outcome }).toEqual({
      ok: false,
      sl: 'rejected',
      ro: 'rejected',
    });
    expect(String(r.statusList.error)).toMatch(/school sch-other, not of this gate's school sch-1/);
    expect(existsSync(join(data.dir, 'material', 'status-list.json'))).toBe(false);
    expect(existsSync(join(data.dir, 'material', 'roster.json'))).toBe(false);
    await g.close();
  });

  it('a 304 to a request sent without If-None-Match is a failed sync, not a loop', async () => {
    const { verifier } = stubVerifier();
    const g = await createGateClient(
      options(verifier, { transport: { sleep: async () => {}, maxRetries: 0 } }),
    );
    material('trust-list', 3, '"tl-3"');
    material('status-list', 7, '"sl-7"');
    material('roster', 2, '"ro-2"');
    expect((await g.syncNow()).ok).toBe(true);
    // the held status list is dropped by the verifier; every answer is a 304, asked or not
    verifier.loadStatusList = () =>
      ({ ok: false, material: 'statusList', reason: 'ROLLBACK', detail: 'x' }) as LoadResult;
    let calls = 0;
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/schools/sch-1/status-list', method: 'GET' })
      .reply(() => {
        calls++;
        return { statusCode: 304, data: '', responseOptions: { headers: { etag: '"sl-7"' } } };
      })
      .persist();
    notModified('trust-list', '"tl-3"');
    notModified('roster', '"ro-2"');
    const r = await g.syncNow();
    expect(r.statusList.outcome).toBe('failed');
    expect(calls).toBe(2);
    await g.close();
  });
});

describe('close', () => {
  it('lets the data-dir lock go even when closing the outbox fails', async () => {
    const g = await createGateClient(options(stubVerifier(denied).verifier));
    (g.outbox as { close: () => Promise<void> }).close = async () => {
      throw Object.assign(new Error('EIO: i/o error, close'), { code: 'EIO' });
    };
    await expect(g.close()).rejects.toThrow('EIO');
    const h = await createGateClient(options(stubVerifier(denied).verifier));
    await h.close();
  });

  it('waits for a scan in flight, whose code the verifier used, and records its decision', async () => {
    const base = stubVerifier(denied).verifier;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow: Verifier = {
      ...base,
      async verify(i, c) {
        await gate;
        return base.verify(i, c);
      },
    };
    const g = await createGateClient(options(slow, { onlineFallbackReasons: [] }));
    const scanned = g.scan('CC1:ABC', { id: 'gate-1' }, { kind: 'access' });
    await new Promise((resolve) => setTimeout(resolve, 10));
    const closing = g.close();
    await expect(g.scan('CC1:DEF', { id: 'gate-1' }, { kind: 'access' })).rejects.toMatchObject({
      code: 'ERR_GATE_CLOSED',
    });
    release();
    await closing;
    expect(await scanned).toMatchObject({ source: 'offline', seq: 1 });
    const h = await createGateClient(options(stubVerifier(denied).verifier));
    expect(h.outbox.depth).toBe(1);
    await h.close();
  });

  it("saveState() after close() is refused: the directory may be another client's already", async () => {
    const g = await createGateClient(options(stubVerifier(denied).verifier));
    await g.close();
    // the next client of the directory (a restarted app) holds it and saves its own state
    const next = stubVerifier(denied).verifier;
    next.snapshot = () => new Uint8Array([9, 9, 9]);
    const h = await createGateClient(options(next));
    await h.saveState();
    // a timer of the old app still calls saveState: it must not put its older snapshot back
    await expect(g.saveState()).rejects.toMatchObject({ code: 'ERR_GATE_CLOSED' });
    expect([...readFileSync(join(data.dir, 'verifier-state.bin'))]).toEqual([9, 9, 9]);
    await h.close();
  });

  it('the same data dir through a symlink is the same lock', async () => {
    const link = join(data.dir, '..', `${basename(data.dir)}-link`);
    symlinkSync(data.dir, link);
    try {
      const first = await createGateClient(options(stubVerifier(denied).verifier));
      await expect(
        createGateClient(options(stubVerifier(denied).verifier, { dataDir: link })),
      ).rejects.toMatchObject({
        code: 'ERR_GATE_DATA_DIR_LOCKED',
      });
      await first.close();
    } finally {
      rmSync(link, { force: true });
    }
  });
});

describe('onlineFallbackReasons', () => {
  it('refuses a denial the platform cannot judge (it never saw the scan), before taking the data dir', async () => {
    for (const reason of ['REPLAYED', 'BAD_SIGNATURE', 'CLOCK_BEFORE_FLOOR'] as const) {
      await expect(
        createGateClient(
          options(stubVerifier(denied).verifier, { onlineFallbackReasons: ['UNKNOWN_CARD', reason] }),
        ),
      ).rejects.toThrow(RangeError);
    }
    const g = await createGateClient(options(stubVerifier(denied).verifier)); // the lock was never taken
    await g.close();
  });
});
