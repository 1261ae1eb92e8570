import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEventOutbox, type QuarantineReason, type UnnumberedEvent } from '../src/index.js';
import { tempDir } from './helpers.js';

let data: ReturnType<typeof tempDir>;
beforeEach(() => {
  data = tempDir();
});
afterEach(() => data.cleanup());

const ev = (i: number): UnnumberedEvent => ({
  kind: 'access',
  occurred_at: '2026-01-05T08:00:00Z',
  decision: 'allowed',
  card_id: `c-${i}`,
});
const reason: QuarantineReason = { code: 'ERR_CONFLICT', status: 409, message: 'seq taken', at: 1 };

/** An outbox in `data.dir` holding events 1..n, with `quarantined` set aside. */
async function withQuarantine(n: number, quarantined: number[]) {
  const o = await openEventOutbox({ dir: data.dir, firstSeq: 1 });
  for (let i = 1; i <= n; i++) await o.append(ev(i));
  for (const seq of quarantined) expect(await o.quarantine(seq, reason)).toBe(true);
  return o;
}

describe('EventOutbox.release', () => {
  it('queues a quarantined event again under a new seq, durably, and lists it no more', async () => {
    const a = await withQuarantine(4, [2, 3]);
    const out = await a.release([3, 99]); // 99 was never set aside: ignored
    expect(out).toEqual([{ ...ev(3), seq: 5 }]);
    expect(a.pending().map((e) => e.seq)).toEqual([1, 4, 5]);
    expect(a.quarantined().map((q) => q.event.seq)).toEqual([2]);
    expect((await a.append(ev(6))).seq).toBe(6);
    await a.close();

    const b = await openEventOutbox({ dir: data.dir, firstSeq: 1 });
    expect(b.pending()).toEqual([
      { ...ev(1), seq: 1 },
      { ...ev(4), seq: 4 },
      { ...ev(3), seq: 5 },
      { ...ev(6), seq: 6 },
    ]);
    expect(b.quarantined().map((q) => q.event.seq)).toEqual([2]);
    // released once: a second release of the same seq queues nothing
    expect(await b.release([3])).toEqual([]);
    expect(await b.ack([1, 4, 5, 6])).toBe(6);
    await b.close();

    const c = await openEventOutbox({ dir: data.dir, firstSeq: 1 });
    expect(c.depth).toBe(0);
    expect(c.lastSeq).toBe(6);
    expect(c.quarantined().map((q) => q.event.seq)).toEqual([2]);
    await c.close();
  });

  it('releases every quarantined event by default, each once even when called twice at once', async () => {
    const o = await withQuarantine(3, [1, 2, 3]);
    const [first, second] = await Promise.all([o.release(), o.release()]);
    expect(first.map((e) => [e.seq, e.card_id])).toEqual([
      [4, 'c-1'],
      [5, 'c-2'],
      [6, 'c-3'],
    ]);
    expect(second).toEqual([]);
    expect(o.pending().map((e) => e.seq)).toEqual([4, 5, 6]);
    expect(o.quarantined()).toEqual([]);
    await o.close();
  });

  it('keeps seq order with appends made while a release is under way', async () => {
    const o = await withQuarantine(2, [1]);
    const [released, appended] = await Promise.all([o.release(), o.append(ev(7))]);
    expect(released.map((e) => e.seq)).toEqual([3]);
    expect(appended.seq).toBe(4);
    expect(o.pending().map((e) => e.seq)).toEqual([2, 3, 4]);
    await o.close();
  });

  it('a released event set aside again is listed under its new seq, across a reopen', async () => {
    const a = await withQuarantine(2, [1]);
    const [again] = await a.release();
    expect(await a.quarantine(again?.seq as number, reason)).toBe(true);
    expect(a.quarantined().map((q) => [q.event.seq, q.event.card_id])).toEqual([[3, 'c-1']]);
    await a.close();
    const b = await openEventOutbox({ dir: data.dir, firstSeq: 1 });
    expect(b.quarantined().map((q) => [q.event.seq, q.event.card_id])).toEqual([[3, 'c-1']]);
    expect(b.pending().map((e) => e.seq)).toEqual([2]);
    expect(b.lastSeq).toBe(3);
    await b.close();
  });

  it('a power cut between the release line and the journal puts the event back at the next open, once', async () => {
    const a = await withQuarantine(2, [1]);
    await a.close();
    // what a release leaves when the power goes before its journal append
    appendFileSync(join(data.dir, 'quarantine.jsonl'), `${JSON.stringify({ released: 1, seq: 3 })}\n`);
    const b = await openEventOutbox({ dir: data.dir, firstSeq: 1 });
    expect(b.pending()).toEqual([
      { ...ev(2), seq: 2 },
      { ...ev(1), seq: 3 },
    ]);
    expect(b.quarantined()).toEqual([]);
    expect((await b.append(ev(9))).seq).toBe(4);
    await b.close();
    // the open wrote it to the journal: a second open finds it there and does not add it twice
    const lines = readFileSync(join(data.dir, 'events.jsonl'), 'utf8').trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([1, 2, 3, 4]);
    const c = await openEventOutbox({ dir: data.dir, firstSeq: 1 });
    expect(c.pending().map((e) => e.seq)).toEqual([2, 3, 4]);
    await c.close();
  });

  it('ignores release lines that name no quarantined event or a seq already set aside', async () => {
    const a = await withQuarantine(2, [1, 2]);
    await a.close();
    appendFileSync(
      join(data.dir, 'quarantine.jsonl'),
      `${JSON.stringify({ released: 7, seq: 8 })}\n${JSON.stringify({ released: 1, seq: 2 })}\n{"released":`,
    );
    const b = await openEventOutbox({ dir: data.dir, firstSeq: 1 });
    expect(b.pending()).toEqual([]);
    expect(b.quarantined().map((q) => q.event.seq)).toEqual([1, 2]);
    // the torn line is closed off before the next write
    const [r] = await b.release([2]);
    expect(r?.seq).toBe(3);
    await b.close();
    const c = await openEventOutbox({ dir: data.dir, firstSeq: 1 });
    expect(c.quarantined().map((q) => q.event.seq)).toEqual([1]);
    expect(c.pending().map((e) => [e.seq, e.card_id])).toEqual([[3, 'c-2']]);
    await c.close();
  });

  it('refuses once closed', async () => {
    const o = await withQuarantine(1, [1]);
    await o.close();
    await expect(o.release()).rejects.toMatchObject({ code: 'ERR_GATE_CLOSED' });
  });
});
