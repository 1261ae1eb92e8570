import type { FileHandle } from 'node:fs/promises';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFileOutbox } from '../src/index.js';

// Write faults of the journal's file handle (a full disk, an I/O error), injected into the
// handles that `open` returns to the outbox.
type Fault = 'short-then-enospc' | 'short' | 'eio-on-sync' | 'enospc-on-writeFile' | undefined;
const fault: { next: Fault } = { next: undefined };

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const open = async (...args: Parameters<typeof real.open>): Promise<FileHandle> => {
    const h = await real.open(...args);
    return new Proxy(h, {
      get(target, prop) {
        if (prop === 'write')
          return async (data: string | Uint8Array, ...rest: unknown[]) => {
            const f = fault.next;
            if (f === 'short-then-enospc' || f === 'short') {
              const buf = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
              const half = buf.subarray(0, Math.floor(buf.length / 2));
              await target.write(half);
              if (f === 'short') {
                fault.next = undefined;
                return { bytesWritten: half.length, buffer: data };
              }
              fault.next = undefined;
              throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
            }
            return (target.write as (...a: unknown[]) => unknown)(data, ...rest);
          };
        if (prop === 'writeFile')
          return async (data: string | Uint8Array) => {
            // (the compaction's copy of the journal, not the lock file)
            if (fault.next === 'enospc-on-writeFile' && String(args[0]).includes('.compact-')) {
              fault.next = undefined;
              await target.write(String(data).slice(0, 10));
              throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
            }
            return target.writeFile(data);
          };
        if (prop === 'sync')
          return async () => {
            if (fault.next === 'eio-on-sync') {
              fault.next = undefined;
              throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
            }
            return target.sync();
          };
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  };
  return { ...real, default: { ...real, open }, open };
});

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pos-outbox-faults-'));
  file = join(dir, 'outbox.jsonl');
  fault.next = undefined;
});
afterEach(async () => {
  fault.next = undefined;
  await rm(dir, { recursive: true, force: true });
});

const sale = (n: number) => ({
  kind: 'payment' as const,
  outTradeNo: `T${n}`,
  amountFen: 100 * n,
  qrText: 'CC1:ABC',
  capturedAt: 1_000 + n,
});

describe('createFileOutbox under write faults', () => {
  it('a write that fails half-way (disk full) leaves no torn line before the next entries', async () => {
    let t = 10;
    const o = await createFileOutbox(file, { now: () => t++ });
    await o.append(sale(1));
    fault.next = 'short-then-enospc';
    await expect(o.append(sale(2))).rejects.toMatchObject({ code: 'ENOSPC' });
    await o.append(sale(3));
    await o.append(sale(4));
    await o.close();
    const again = await createFileOutbox(file, { now: () => t++ });
    expect((await again.pending()).map((e) => e.outTradeNo)).toEqual(['T1', 'T3', 'T4']);
    await again.close();
  });

  it('a short write is completed, not taken for a whole line', async () => {
    let t = 10;
    const o = await createFileOutbox(file, { now: () => t++ });
    fault.next = 'short';
    await o.append(sale(1));
    await o.append(sale(2));
    await o.close();
    const again = await createFileOutbox(file, { now: () => t++ });
    expect((await again.pending()).map((e) => e.outTradeNo)).toEqual(['T1', 'T2']);
    await again.close();
  });

  it('an append whose fsync failed does not come back after a restart', async () => {
    let t = 10;
    const o = await createFileOutbox(file, { now: () => t++ });
    await o.append(sale(1));
    fault.next = 'eio-on-sync';
    // the caller is told the sale was not stored: it must not be uploaded (and charged) later
    await expect(o.append(sale(2))).rejects.toMatchObject({ code: 'EIO' });
    await o.close();
    expect(await readFile(file, 'utf8')).not.toContain('"T2"');
    const again = await createFileOutbox(file, { now: () => t++ });
    expect((await again.pending()).map((e) => e.outTradeNo)).toEqual(['T1']);
    await again.close();
  });

  it('a compaction that fails on a full disk does not keep the outbox from opening', async () => {
    let t = 10;
    const o = await createFileOutbox(file, { now: () => t++ });
    const seqs: number[] = [];
    for (let i = 1; i <= 6; i++) seqs.push((await o.append(sale(i))).seq);
    await o.ack(seqs.slice(0, 5));
    await o.close();
    // the disk is full: compacting (a second copy of the journal) fails, the journal is still good
    fault.next = 'enospc-on-writeFile';
    const again = await createFileOutbox(file, { now: () => t++, compactAfterLines: 2 });
    expect((await again.pending()).map((e) => e.outTradeNo)).toEqual(['T6']);
    expect(await readdir(dir)).toEqual(['outbox.jsonl', 'outbox.jsonl.lock']); // no half-written copy left
    await again.append(sale(7));
    await again.close();
    const last = await createFileOutbox(file, { now: () => t++, compactAfterLines: 2 });
    expect((await last.pending()).map((e) => e.outTradeNo)).toEqual(['T6', 'T7']);
    await last.close();
    expect((await readFile(file, 'utf8')).trim().split('\n')).toHaveLength(3); // compacted this time
  });
});
