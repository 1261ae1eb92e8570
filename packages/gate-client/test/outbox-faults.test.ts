/**
 * The outbox when the disk fails under it. Compaction writes a second copy of the pending events
 * before replacing the journal, so on a nearly full disk it is the first write to fail.
 */
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openEventOutbox, type UnnumberedEvent } from '../src/index.js';
import { tempDir } from './helpers.js';

const fault = vi.hoisted(() => ({ compaction: false }));
vi.mock('../src/lib/fs-atomic.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/lib/fs-atomic.js')>();
  return {
    ...real,
    writeFileAtomic: async (path: string, data: Uint8Array | string) => {
      if (fault.compaction && path.endsWith('events.jsonl')) {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
      return real.writeFileAtomic(path, data);
    },
  };
});

let data: ReturnType<typeof tempDir>;
beforeEach(() => {
  data = tempDir();
  fault.compaction = false;
});
afterEach(() => data.cleanup());

const ev = (i: number): UnnumberedEvent => ({
  kind: 'access',
  occurred_at: '2026-01-05T08:00:00Z',
  decision: 'allowed',
  card_id: `c-${i}`,
});

describe('outbox on a failing disk', () => {
  it('a compaction that fails keeps the journal and the outbox usable; the ack stands', async () => {
    const o = await openEventOutbox({ dir: data.dir, firstSeq: 1, compactAfter: 2 });
    for (let i = 1; i <= 3; i++) await o.append(ev(i));
    fault.compaction = true;
    expect(await o.ack([1, 2])).toBe(2); // the cursor is stored; compaction is only housekeeping
    expect((await o.append(ev(4))).seq).toBe(4);
    fault.compaction = false;
    await o.close();

    const again = await openEventOutbox({ dir: data.dir, compactAfter: 2 });
    expect(again.ackedSeq).toBe(2);
    expect(again.pending().map((e) => e.seq)).toEqual([3, 4]);
    await again.ack([3, 4]); // compaction works again once there is space
    await again.close();
    expect(readFileSync(join(data.dir, 'events.jsonl'), 'utf8')).toBe('');
  });
});

describe('outbox on a short write', () => {
  it('writes the rest of a line a write cut short: no append is taken for stored when it is not', async () => {
    const o = await openEventOutbox({ dir: data.dir, firstSeq: 1 });
    await o.append(ev(1));
    // FileHandle's prototype is shared by every handle: make the next write of event 2 short (as a
    // disk filling up part-way does), honestly reporting the bytes it wrote
    const probe = await open(join(data.dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as {
      write: (...a: unknown[]) => Promise<{ bytesWritten: number }>;
    };
    await probe.close();
    const realWrite = proto.write;
    let cut = 0;
    proto.write = async function (this: unknown, d: unknown, ...rest: unknown[]) {
      if (cut === 0 && d instanceof Uint8Array && Buffer.from(d).toString('utf8').includes('"c-2"')) {
        cut++;
        const [off, len, pos] = rest as [number, number, number | null];
        return realWrite.call(this, d, off, Math.min(len, 20), pos);
      }
      return realWrite.call(this, d, ...rest);
    };
    try {
      expect((await o.append(ev(2))).seq).toBe(2);
      expect((await o.append(ev(3))).seq).toBe(3);
    } finally {
      proto.write = realWrite;
    }
    expect(cut).toBe(1);
    await o.close();
    const reopened = await openEventOutbox({ dir: data.dir, firstSeq: 1 });
    expect(reopened.recovered).toEqual({ torn: false, corrupt: 0 });
    expect(reopened.pending().map((e) => [e.seq, e.card_id])).toEqual([
      [1, 'c-1'],
      [2, 'c-2'],
      [3, 'c-3'],
    ]);
    await reopened.close();
  });
});
