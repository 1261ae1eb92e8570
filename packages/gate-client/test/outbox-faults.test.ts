/**
 * The outbox when the disk fails under it. Compaction writes a second copy of the pending events
 * before replacing the journal, so on a nearly full disk it is the first write to fail.
 */
import { readFileSync } from 'node:fs';
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
