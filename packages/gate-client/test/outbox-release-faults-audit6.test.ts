/** A release whose writes fail part-way: the outbox stops, and the next open queues each event once. */
import { open } from 'node:fs/promises';
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

type Write = (...a: unknown[]) => Promise<{ bytesWritten: number }>;

/** Makes writes whose text matches `when` fail (after writing `keep` bytes of them); returns the undo. */
async function failWrites(when: (text: string) => boolean, keep = 0): Promise<() => void> {
  const probe = await open(join(data.dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { write: Write };
  await probe.close();
  const realWrite = proto.write;
  let kept = false;
  proto.write = async function (this: unknown, d: unknown, ...rest: unknown[]) {
    if (d instanceof Uint8Array && when(Buffer.from(d).toString('utf8'))) {
      const [off, len, pos] = rest as [number, number, number | null];
      if (!kept && keep > 0) {
        kept = true;
        return realWrite.call(this, d, off, Math.min(len, keep), pos);
      }
      throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
    }
    return realWrite.call(this, d, ...rest);
  };
  return () => {
    proto.write = realWrite;
  };
}

async function setup() {
  const o = await openEventOutbox({ dir: data.dir, firstSeq: 1 });
  for (let i = 1; i <= 4; i++) await o.append(ev(i));
  await o.quarantine(2, reason);
  await o.quarantine(3, reason);
  return o;
}

describe('EventOutbox.release on a failing disk', () => {
  it('a failed journal append after the release line: the outbox stops, the next open queues the event once', async () => {
    const o = await setup();
    const undo = await failWrites((t) => !t.includes('released') && t.includes('"c-3"'));
    try {
      await expect(o.release([3])).rejects.toMatchObject({ code: 'ERR_GATE_OUTBOX_IO' });
    } finally {
      undo();
    }
    // unusable: nothing is appended behind the release that only the next open can finish
    await expect(o.append(ev(5))).rejects.toMatchObject({ code: 'ERR_GATE_OUTBOX_IO' });
    await expect(o.release([2])).rejects.toMatchObject({ code: 'ERR_GATE_OUTBOX_IO' });
    expect(o.pending().map((e) => e.seq)).toEqual([1, 4]);
    expect(await o.ack([1, 4])).toBe(4);
    await o.close();
    for (let round = 0; round < 2; round++) {
      const b = await openEventOutbox({ dir: data.dir, firstSeq: 1 });
      expect(b.pending().map((e) => [e.seq, e.card_id])).toEqual([[5, 'c-3']]);
      expect(b.quarantined().map((q) => q.event.seq)).toEqual([2]);
      expect(b.lastSeq).toBe(5);
      await b.close();
    }
  });

  it('a release line cut short: the open finishes the lines written whole, each once, and lists the rest', async () => {
    const o = await setup();
    // the two release lines are one write: keep the first whole line and a few bytes of the second
    const first = `${JSON.stringify({ released: 2, seq: 5 })}\n`;
    const undo = await failWrites((t) => t.includes('released'), first.length + 5);
    try {
      await expect(o.release()).rejects.toMatchObject({ code: 'ERR_GATE_OUTBOX_IO' });
    } finally {
      undo();
    }
    await expect(o.append(ev(9))).rejects.toMatchObject({ code: 'ERR_GATE_OUTBOX_IO' });
    await o.close();
    const b = await openEventOutbox({ dir: data.dir, firstSeq: 1 });
    expect(b.pending().map((e) => [e.seq, e.card_id])).toEqual([
      [1, 'c-1'],
      [4, 'c-4'],
      [5, 'c-2'],
    ]);
    expect(b.quarantined().map((q) => q.event.seq)).toEqual([3]);
    // the torn line is closed off: the next release line is whole
    const [r] = await b.release();
    expect(r?.seq).toBe(b.lastSeq);
    expect(r?.card_id).toBe('c-3');
    await b.close();
    const c = await openEventOutbox({ dir: data.dir, firstSeq: 1 });
    expect(c.pending().map((e) => e.card_id)).toEqual(['c-1', 'c-4', 'c-2', 'c-3']);
    expect(c.quarantined()).toEqual([]);
    await c.close();
  });
});

describe('EventOutbox.quarantine on a failing disk', () => {
  it('a failed quarantine write stops the outbox; the next open lists the event set aside or pending, never both', async () => {
    const a = await openEventOutbox({ dir: data.dir, firstSeq: 1 });
    for (let i = 1; i <= 3; i++) await a.append(ev(i));
    // the whole line but its newline reaches the file, then the write fails
    const line = JSON.stringify({ event: { seq: 2, ...ev(2) }, reason });
    const undo = await failWrites((t) => t.includes('"reason"'), line.length);
    try {
      await expect(a.quarantine(2, reason)).rejects.toMatchObject({ code: 'ERR_GATE_OUTBOX_IO' });
    } finally {
      undo();
    }
    // stopped: nothing more is written that a reopen would contradict
    await expect(a.quarantine(3, reason)).rejects.toMatchObject({ code: 'ERR_GATE_OUTBOX_IO' });
    await expect(a.append(ev(4))).rejects.toMatchObject({ code: 'ERR_GATE_OUTBOX_IO' });
    await a.close();
    const b = await openEventOutbox({ dir: data.dir, firstSeq: 1 });
    const listed = b.quarantined().map((q) => q.event.seq);
    const pending = b.pending().map((e) => e.seq);
    expect(pending.filter((s) => listed.includes(s))).toEqual([]);
    expect([...listed, ...pending].sort()).toEqual([1, 2, 3]);
    await b.close();
  });

  it('an ack after close is refused (a compaction then would reopen the journal for good)', async () => {
    const a = await openEventOutbox({ dir: data.dir, firstSeq: 1, compactAfter: 1 });
    await a.append(ev(1));
    await a.close();
    await expect(a.ack([1])).rejects.toMatchObject({ code: 'ERR_GATE_CLOSED' });
  });
});
