import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileOutbox, createMemoryOutbox, type OutboxStore } from '../src/index.js';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pos-outbox-'));
  file = join(dir, 'sub', 'outbox.jsonl');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sale = (n: number) => ({
  kind: 'payment' as const,
  outTradeNo: `T${n}`,
  amountFen: 100 * n,
  qrText: 'CC1:ABC',
  capturedAt: 1_000 + n,
});

describe.each([
  ['memory', async (now: () => number) => createMemoryOutbox({ now })],
  ['file', async (now: () => number) => createFileOutbox(file, { now })],
] as const)('%s outbox', (_name, make) => {
  it('assigns strictly increasing seqs (≥ the clock in ms), lists pending in order, forgets acked', async () => {
    let t = 5_000;
    const o: OutboxStore = await make(() => t);
    const a = await o.append(sale(1));
    const b = await o.append(sale(2));
    t = 4_000; // clock went back: seqs still increase
    const c = await o.append({ kind: 'reversal', outTradeNo: 'T9', capturedAt: 1 });
    expect([a.seq, b.seq, c.seq]).toEqual([5_000, 5_001, 5_002]);
    await o.ack([b.seq, 12345]);
    expect((await o.pending()).map((e) => e.outTradeNo)).toEqual(['T1', 'T9']);
    await o.close();
    await expect(o.pending()).rejects.toMatchObject({ code: 'ERR_POS_OUTBOX_CLOSED' });
  });

  it('quarantines sales out of pending (not reversals), lists them with the reason, drops them on ack', async () => {
    const o: OutboxStore = await make(() => 5_000);
    const a = await o.append(sale(1));
    const b = await o.append(sale(2));
    const r = await o.append({ kind: 'reversal', outTradeNo: 'T9', capturedAt: 1 });
    const reason = { code: 'ERR_VALIDATION', status: 400, message: 'body/items/0/qr_text: bad', at: 7 };
    await o.quarantine([b.seq, r.seq, 999], reason);
    expect((await o.pending()).map((e) => e.seq)).toEqual([a.seq, r.seq]);
    expect(await o.quarantined()).toEqual([{ entry: b, reason }]);
    await o.ack([b.seq]);
    expect(await o.quarantined()).toEqual([]);
    await o.close();
  });
});

describe('createFileOutbox', () => {
  it('survives a restart: pending entries and the last seq come back', async () => {
    const o = await createFileOutbox(file, { now: () => 10 });
    const a = await o.append(sale(1));
    await o.append(sale(2));
    await o.ack([a.seq]);
    await o.close();
    const again = await createFileOutbox(file, { now: () => 10 });
    expect((await again.pending()).map((e) => e.outTradeNo)).toEqual(['T2']);
    expect((await again.append(sale(3))).seq).toBe(12);
    await again.close();
  });

  it('ignores and cuts off a torn last line (power cut mid-write), then appends cleanly', async () => {
    const o = await createFileOutbox(file, { now: () => 10 });
    await o.append(sale(1));
    await o.close();
    await appendFile(file, '{"op":"add","entry":{"kind":"payment","seq":11,"outT');
    const again = await createFileOutbox(file, { now: () => 10 });
    expect((await again.pending()).map((e) => e.seq)).toEqual([10]);
    await again.append(sale(2));
    await again.close();
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines.map((l) => JSON.parse(l).entry.seq)).toEqual([10, 11]);
  });

  it('a complete line without its newline is torn too (its append never returned)', async () => {
    const f = join(dir, 'plain.jsonl');
    await writeFile(f, `${JSON.stringify({ op: 'add', entry: { ...sale(1), seq: 7 } })}`);
    const o = await createFileOutbox(f);
    expect(await o.pending()).toEqual([]);
    await o.close();
  });

  it('ignores an unreadable last line (zeros after a crash) but refuses a corrupt middle line', async () => {
    const o = await createFileOutbox(file, { now: () => 10 });
    await o.append(sale(1));
    await o.close();
    await appendFile(file, '\0\0\0\0\n');
    const again = await createFileOutbox(file);
    expect(await again.pending()).toHaveLength(1);
    await again.close();
    await appendFile(file, 'garbage\n{"op":"ack","seqs":[10]}\n');
    await expect(createFileOutbox(file)).rejects.toMatchObject({ code: 'ERR_POS_OUTBOX_CORRUPT' });
  });

  it('compacts acknowledged history on open and keeps the seq counter', async () => {
    const o = await createFileOutbox(file, { now: () => 100, compactAfterLines: 5 });
    const seqs: number[] = [];
    for (let i = 0; i < 10; i++) seqs.push((await o.append(sale(i))).seq);
    await o.ack(seqs.slice(0, 9));
    await o.close();
    const again = await createFileOutbox(file, { now: () => 100, compactAfterLines: 5 });
    expect((await readFile(file, 'utf8')).trim().split('\n')).toHaveLength(2);
    expect((await again.pending()).map((e) => e.seq)).toEqual([109]);
    expect((await again.append(sale(11))).seq).toBe(110);
    await again.close();
  });

  it('keeps quarantined sales across a restart and a compaction, until acknowledged', async () => {
    const reason = { code: 'ERR_VALIDATION', status: 422, message: 'bad', at: 1 };
    const o = await createFileOutbox(file, { now: () => 100, compactAfterLines: 3 });
    const seqs: number[] = [];
    for (let i = 0; i < 8; i++) seqs.push((await o.append(sale(i))).seq);
    await o.quarantine([seqs[7] as number], reason);
    await o.ack(seqs.slice(0, 6));
    await o.close();
    for (let round = 0; round < 2; round++) {
      const again = await createFileOutbox(file, { now: () => 100, compactAfterLines: 3 });
      expect((await again.pending()).map((e) => e.seq)).toEqual([seqs[6]]);
      expect(await again.quarantined()).toEqual([{ entry: { ...sale(7), seq: seqs[7] }, reason }]);
      await again.close();
    }
    expect((await readFile(file, 'utf8')).trim().split('\n')).toHaveLength(4); // seq, add, add + quarantine
    const last = await createFileOutbox(file);
    await last.ack([seqs[7] as number]);
    await last.close();
    const empty = await createFileOutbox(file);
    expect(await empty.quarantined()).toEqual([]);
    await empty.close();
  });

  it('serialises concurrent appends into whole lines', async () => {
    const o = await createFileOutbox(file, { now: () => 1 });
    await Promise.all(Array.from({ length: 50 }, (_, i) => o.append(sale(i))));
    await o.close();
    const again = await createFileOutbox(file);
    const seqs = (await again.pending()).map((e) => e.seq);
    expect(seqs).toHaveLength(50);
    expect(new Set(seqs).size).toBe(50);
    await again.close();
  });
});

describe('createFileOutbox: one journal, one opener', () => {
  it('refuses a second opener of the same journal while the first holds it (two processes would lose sales)', async () => {
    const a = await createFileOutbox(file, { now: () => 100, compactAfterLines: 2 });
    const seqs: number[] = [];
    for (let i = 0; i < 6; i++) seqs.push((await a.append(sale(i))).seq);
    await a.ack(seqs);
    // a second process (a restarted POS app while the old one still runs) opens the same journal:
    // it would compact it (rename over it), and the first one's next sales go to the old, unlinked file
    await expect(createFileOutbox(file, { now: () => 100, compactAfterLines: 2 })).rejects.toMatchObject({
      code: 'ERR_POS_OUTBOX_LOCKED',
    });
    const kept = await a.append(sale(7));
    await a.close();
    const again = await createFileOutbox(file, { now: () => 100 });
    expect((await again.pending()).map((e) => e.seq)).toEqual([kept.seq]);
    await again.close();
  });

  it('takes over the lock a crashed process left behind, and lets it go on close', async () => {
    await mkdir(join(dir, 'sub'), { recursive: true });
    // a holder that no longer runs (a crash, a power cut), then an empty one (torn while written)
    for (const text of [JSON.stringify({ pid: 2 ** 22 + 12345, boot: null, start: null }), '']) {
      await writeFile(`${file}.lock`, text);
      const o = await createFileOutbox(file, { now: () => 100 });
      await o.append(sale(1));
      await o.close();
      await expect(readFile(`${file}.lock`)).rejects.toMatchObject({ code: 'ENOENT' });
    }
  });

  it('refuses a journal whose lock names another running process', async () => {
    await mkdir(join(dir, 'sub'), { recursive: true });
    await writeFile(
      `${file}.lock`,
      JSON.stringify({ pid: process.ppid, boot: null, start: null, token: 'x' }),
    );
    await expect(createFileOutbox(file)).rejects.toMatchObject({ code: 'ERR_POS_OUTBOX_LOCKED' });
    expect(JSON.parse(await readFile(`${file}.lock`, 'utf8'))).toMatchObject({ pid: process.ppid }); // left alone
  });

  it('lets the lock go when the journal cannot be opened (corrupt)', async () => {
    await mkdir(join(dir, 'sub'), { recursive: true });
    await writeFile(file, 'garbage\n{"op":"ack","seqs":[10]}\n');
    await expect(createFileOutbox(file)).rejects.toMatchObject({ code: 'ERR_POS_OUTBOX_CORRUPT' });
    await expect(readFile(`${file}.lock`)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
