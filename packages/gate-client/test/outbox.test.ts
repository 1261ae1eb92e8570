import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEventOutbox, type UnnumberedEvent } from '../src/index.js';
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

describe('openEventOutbox', () => {
  it('numbers events from firstSeq, keeps them across a reopen and moves the cursor over the acked prefix', async () => {
    const a = await openEventOutbox({ dir: data.dir, firstSeq: 10 });
    const seqs = await Promise.all([1, 2, 3].map(async (i) => (await a.append(ev(i))).seq));
    expect(seqs).toEqual([10, 11, 12]);
    expect(await a.ack([10, 12])).toBe(10); // 11 missing: the cursor stops before it
    await a.close();

    const b = await openEventOutbox({ dir: data.dir, firstSeq: 999 }); // firstSeq only for a new outbox
    expect(b.ackedSeq).toBe(10);
    expect(b.pending().map((e) => e.seq)).toEqual([11, 12]);
    expect((await b.append(ev(4))).seq).toBe(13);
    expect(await b.ack([11, 12, 13])).toBe(13);
    expect(b.depth).toBe(0);
    await b.close();
  });

  it('numbers from firstSeq when a power cut tore the very first append (nothing stored whole)', async () => {
    writeFileSync(join(data.dir, 'events.jsonl'), '{"seq":5000,"kind":"acc');
    const o = await openEventOutbox({ dir: data.dir, firstSeq: 5000 });
    expect(o.recovered.torn).toBe(true);
    expect(o.lastSeq).toBe(4999);
    expect((await o.append(ev(1))).seq).toBe(5000);
    await o.close();
    const again = await openEventOutbox({ dir: data.dir, firstSeq: 1 });
    expect(again.pending().map((e) => e.seq)).toEqual([5000]);
    await again.close();
  });

  it('defaults firstSeq to epoch ms, so a wiped device does not reuse seqs', async () => {
    const before = Date.now();
    const o = await openEventOutbox({ dir: data.dir });
    const { seq } = await o.append(ev(1));
    expect(seq).toBeGreaterThanOrEqual(before);
    await o.close();
  });

  it('ignores a torn last line and truncates it before the next append', async () => {
    const a = await openEventOutbox({ dir: data.dir, firstSeq: 1 });
    await a.append(ev(1));
    await a.append(ev(2));
    await a.close();
    const file = join(data.dir, 'events.jsonl');
    appendFileSync(file, '{"seq":3,"kind":"acc'); // power cut mid-append

    const b = await openEventOutbox({ dir: data.dir });
    expect(b.recovered).toEqual({ torn: true, corrupt: 0 });
    expect(b.pending().map((e) => e.seq)).toEqual([1, 2]);
    expect((await b.append(ev(3))).seq).toBe(3);
    await b.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([1, 2, 3]);
  });

  it('skips a corrupt line in the middle and counts it', async () => {
    const file = join(data.dir, 'events.jsonl');
    writeFileSync(
      file,
      `${JSON.stringify({ seq: 1, ...ev(1) })}\nnot json\n${JSON.stringify({ seq: 3, ...ev(3) })}\n`,
    );
    const o = await openEventOutbox({ dir: data.dir });
    expect(o.recovered).toEqual({ torn: false, corrupt: 1 });
    expect(o.pending().map((e) => e.seq)).toEqual([1, 3]);
    expect((await o.append(ev(4))).seq).toBe(4);
    await o.close();
  });

  it('a line that is JSON but not an event (null, a number) is a corrupt line, not a crash', async () => {
    const file = join(data.dir, 'events.jsonl');
    writeFileSync(file, `null\n5\n"x"\n[]\n${JSON.stringify({ seq: 2, ...ev(2) })}\n`);
    const o = await openEventOutbox({ dir: data.dir });
    expect(o.recovered).toEqual({ torn: false, corrupt: 4 });
    expect(o.pending().map((e) => e.seq)).toEqual([2]);
    await o.close();
  });

  it('an unreadable cursor is ERR_GATE_OUTBOX_IO naming the file, not a SyntaxError or TypeError', async () => {
    for (const text of ['', '{"acked_', 'null', '[]', '{"acked_seq":1.5}']) {
      writeFileSync(join(data.dir, 'cursor.json'), text);
      await expect(openEventOutbox({ dir: data.dir })).rejects.toMatchObject({
        name: 'GateClientError',
        code: 'ERR_GATE_OUTBOX_IO',
        message: expect.stringContaining('cursor.json'),
      });
    }
  });

  it('compacts acknowledged events away and keeps the seq counter', async () => {
    const a = await openEventOutbox({ dir: data.dir, firstSeq: 1, compactAfter: 3 });
    for (let i = 1; i <= 5; i++) await a.append(ev(i));
    await a.ack([1, 2, 3]);
    await a.close();
    const lines = readFileSync(join(data.dir, 'events.jsonl'), 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    const b = await openEventOutbox({ dir: data.dir });
    await b.ack([4, 5]);
    expect(b.depth).toBe(0);
    await b.close();
    const c = await openEventOutbox({ dir: data.dir, compactAfter: 1 });
    expect(c.lastSeq).toBe(5);
    expect((await c.append(ev(6))).seq).toBe(6);
    await c.close();
  });

  it('a quarantined event leaves pending for good, and its seq is never reused after compaction', async () => {
    const reason = { code: 'ERR_VALIDATION', status: 400, message: 'bad', at: 1 };
    const a = await openEventOutbox({ dir: data.dir, firstSeq: 1, compactAfter: 1 });
    for (let i = 1; i <= 3; i++) await a.append(ev(i));
    expect(await a.quarantine(3, reason)).toBe(true);
    expect(await a.quarantine(3, reason)).toBe(false); // no longer pending
    expect(a.pending().map((e) => e.seq)).toEqual([1, 2]);
    await a.ack([1, 2]); // compaction: the journal keeps no event, the quarantine keeps seq 3
    await a.close();
    expect(readFileSync(join(data.dir, 'events.jsonl'), 'utf8')).toBe('');

    const b = await openEventOutbox({ dir: data.dir });
    expect(b.quarantined()).toEqual([{ event: { seq: 3, ...ev(3) }, reason }]);
    expect(b.depth).toBe(0);
    expect((await b.append(ev(4))).seq).toBe(4);
    await b.close();
  });

  it('shares one fsync among concurrent appends and keeps order', async () => {
    const o = await openEventOutbox({ dir: data.dir, firstSeq: 1 });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => o.append(ev(i))));
    expect(results.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(o.pending().map((e) => e.card_id)).toEqual(Array.from({ length: 50 }, (_, i) => `c-${i}`));
    await o.close();
    await expect(o.append(ev(1))).rejects.toMatchObject({ code: 'ERR_GATE_CLOSED' });
  });
});
