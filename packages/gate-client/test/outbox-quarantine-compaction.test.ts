/**
 * `quarantine.jsonl` is compacted: the lines of released events (their original line and their
 * release line) are dropped by an atomic rewrite, after each release past `compactAfter` dead lines
 * and at open, right after the journal itself is rewritten. A power cut at any step of it neither
 * loses a quarantined event, nor resurrects a released one, nor queues one twice.
 */
import { appendFileSync, cpSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type EventOutbox,
  openEventOutbox,
  type QuarantineReason,
  type UnnumberedEvent,
} from '../src/index.js';
import { tempDir } from './helpers.js';

/** Called around every atomic replace of the outbox (`before <file>`, `after <file>`). */
const hook = vi.hoisted(() => ({ onReplace: undefined as ((label: string) => void) | undefined }));
vi.mock('../src/lib/fs-atomic.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/lib/fs-atomic.js')>();
  return {
    ...real,
    writeFileAtomic: async (path: string, data: Uint8Array | string) => {
      hook.onReplace?.(`before ${basename(path)}`);
      await real.writeFileAtomic(path, data);
      hook.onReplace?.(`after ${basename(path)}`);
    },
  };
});

let data: ReturnType<typeof tempDir>;
beforeEach(() => {
  data = tempDir();
  hook.onReplace = undefined;
});
afterEach(() => data.cleanup());

const ev = (i: number): UnnumberedEvent => ({
  kind: 'access',
  occurred_at: '2026-01-05T08:00:00Z',
  decision: 'allowed',
  card_id: `c-${i}`,
});
const reason: QuarantineReason = { code: 'ERR_OCCURRED_AT', status: 422, message: 'in the future', at: 1 };

const card = (e: { card_id?: string }) => e.card_id;
/** The lines of a file of the outbox, parsed. */
const lines = (dir: string, file: string): Record<string, unknown>[] =>
  readFileSync(join(dir, file), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** What a reopened outbox must show: pending and listed events (seq, card), the seqs and cursor. */
function stateOf(o: EventOutbox) {
  return {
    pending: o.pending().map((e) => [e.seq, card(e)]),
    quarantined: o.quarantined().map((q) => [q.event.seq, card(q.event)]),
    lastSeq: o.lastSeq,
    ackedSeq: o.ackedSeq,
  };
}

describe('quarantine.jsonl compaction', () => {
  it('a release past compactAfter dead lines rewrites the file with the listed events only, in order', async () => {
    const o = await openEventOutbox({ dir: data.dir, firstSeq: 1, compactAfter: 4 });
    for (let i = 1; i <= 6; i++) await o.append(ev(i));
    for (const seq of [5, 2, 4, 3]) await o.quarantine(seq, reason);
    expect(await o.release([2])).toHaveLength(1); // two dead lines: under the threshold
    expect(lines(data.dir, 'quarantine.jsonl')).toHaveLength(5);
    expect((await o.release([3])).map((e) => [e.seq, card(e)])).toEqual([[8, 'c-3']]);
    // four dead lines: the journal, then the quarantine, rewritten
    expect(lines(data.dir, 'quarantine.jsonl').map((q) => (q.event as { seq: number }).seq)).toEqual([5, 4]);
    expect(lines(data.dir, 'events.jsonl').map((e) => e.seq)).toEqual([1, 6, 7, 8]);
    const expected = {
      pending: [
        [1, 'c-1'],
        [6, 'c-6'],
        [7, 'c-2'],
        [8, 'c-3'],
      ],
      quarantined: [
        [5, 'c-5'],
        [4, 'c-4'],
      ],
      lastSeq: 8,
      ackedSeq: 0,
    };
    expect(stateOf(o)).toEqual(expected);
    // appends and quarantines after the rewrite go to the new files
    expect((await o.append(ev(9))).seq).toBe(9);
    await o.quarantine(7, reason);
    await o.close();
    const b = await openEventOutbox({ dir: data.dir, firstSeq: 1, compactAfter: 4 });
    expect(stateOf(b)).toEqual({
      ...expected,
      pending: [
        [1, 'c-1'],
        [6, 'c-6'],
        [8, 'c-3'],
        [9, 'c-9'],
      ],
      quarantined: [...expected.quarantined, [7, 'c-2']],
      lastSeq: 9,
    });
    expect(b.quarantined()[0]?.reason).toEqual(reason);
    await b.close();
  });

  it('is compacted at open when the file holds compactAfter dead lines or more (torn and unreadable ones too)', async () => {
    const a = await openEventOutbox({ dir: data.dir, firstSeq: 1, compactAfter: 1000 });
    for (let i = 1; i <= 4; i++) await a.append(ev(i));
    for (const seq of [1, 2, 3]) await a.quarantine(seq, reason);
    await a.release([1, 2]);
    await a.close();
    expect(lines(data.dir, 'quarantine.jsonl')).toHaveLength(5);
    // four dead lines, and an unreadable line and a torn one: six, the threshold
    appendFileSync(join(data.dir, 'quarantine.jsonl'), 'not json\n{"event":{"seq":');
    const b = await openEventOutbox({ dir: data.dir, firstSeq: 1, compactAfter: 6 });
    expect(lines(data.dir, 'quarantine.jsonl').map((q) => (q.event as { seq: number }).seq)).toEqual([3]);
    expect(lines(data.dir, 'events.jsonl').map((e) => e.seq)).toEqual([4, 5, 6]);
    const state = stateOf(b);
    expect(state).toEqual({
      pending: [
        [4, 'c-4'],
        [5, 'c-1'],
        [6, 'c-2'],
      ],
      quarantined: [[3, 'c-3']],
      lastSeq: 6,
      ackedSeq: 0,
    });
    await b.close();
    const c = await openEventOutbox({ dir: data.dir, firstSeq: 1, compactAfter: 6 });
    expect(stateOf(c)).toEqual(state);
    await c.close();
  });

  it('stays bounded through release and quarantine cycles (a gate whose clock runs fast, released again and again)', async () => {
    const o = await openEventOutbox({ dir: data.dir, firstSeq: 1, compactAfter: 10 });
    await o.append(ev(1));
    await o.append(ev(2));
    await o.quarantine(2, reason); // stays listed throughout
    for (let round = 0; round < 40; round++) {
      const seq = o.pending()[0]?.seq as number;
      expect(await o.quarantine(seq, reason)).toBe(true);
      const [again] = await o.release([seq]);
      expect(card(again as UnnumberedEvent)).toBe('c-1');
      expect(lines(data.dir, 'quarantine.jsonl').length).toBeLessThanOrEqual(2 + 10);
    }
    expect(o.lastSeq).toBe(42);
    await o.close();
    const b = await openEventOutbox({ dir: data.dir, firstSeq: 1, compactAfter: 10 });
    expect(stateOf(b)).toEqual({
      pending: [[42, 'c-1']],
      quarantined: [[2, 'c-2']],
      lastSeq: 42,
      ackedSeq: 0,
    });
    await b.close();
  });

  it('a rewrite that fails (a full disk) leaves the file in use as it was; never the quarantine without the journal', async () => {
    const o = await openEventOutbox({ dir: data.dir, firstSeq: 1, compactAfter: 2 });
    for (let i = 1; i <= 5; i++) await o.append(ev(i));
    for (const seq of [1, 2, 3]) await o.quarantine(seq, reason);
    const full = (file: string) => (label: string) => {
      if (label === `before ${file}`)
        throw Object.assign(new Error('ENOSPC: no space left'), { code: 'ENOSPC' });
    };
    // the journal cannot be rewritten: the quarantine is not either (the journal still holds seq 3,
    // set aside since its last rewrite)
    hook.onReplace = full('events.jsonl');
    expect((await o.release([1])).map((e) => e.seq)).toEqual([6]);
    expect(lines(data.dir, 'events.jsonl').map((e) => e.seq)).toEqual([3, 4, 5, 6]);
    expect(lines(data.dir, 'quarantine.jsonl')).toHaveLength(4);
    // the quarantine cannot be rewritten: the journal is, and both stay in use
    hook.onReplace = full('quarantine.jsonl');
    expect((await o.release([2])).map((e) => e.seq)).toEqual([7]);
    expect(lines(data.dir, 'events.jsonl').map((e) => e.seq)).toEqual([4, 5, 6, 7]);
    expect(lines(data.dir, 'quarantine.jsonl')).toHaveLength(5);
    hook.onReplace = undefined;
    const expected = {
      pending: [
        [4, 'c-4'],
        [5, 'c-5'],
        [6, 'c-1'],
        [7, 'c-2'],
      ],
      quarantined: [[3, 'c-3']],
      lastSeq: 7,
      ackedSeq: 0,
    };
    expect(stateOf(o)).toEqual(expected);
    await o.close();
    const b = await openEventOutbox({ dir: data.dir, firstSeq: 1, compactAfter: 2 });
    expect(stateOf(b)).toEqual(expected);
    // the space is back: the open compacted both
    expect(lines(data.dir, 'quarantine.jsonl').map((q) => (q.event as { seq: number }).seq)).toEqual([3]);
    await b.close();
  });

  it('a power cut at any step of a compaction leaves the state before or after the operation, never a mix', async () => {
    const dir = join(data.dir, 'outbox');
    const open = (at: string) => openEventOutbox({ dir: at, firstSeq: 1, compactAfter: 2 });
    const o = await open(dir);
    /** The operations; each snapshot of the files must open as the state before or after its own. */
    const ops: (() => Promise<unknown>)[] = [
      async () => {
        for (let i = 1; i <= 8; i++) await o.append(ev(i));
      },
      () => o.quarantine(2, reason),
      () => o.quarantine(3, reason),
      () => o.quarantine(5, reason),
      () => o.release([3]), // 2 dead lines: journal and quarantine rewritten
      () => o.quarantine(9, reason), // the released event, set aside again under its new seq
      () => o.release([2, 9]),
      () => o.ack([1, 4]),
      () => o.quarantine(6, reason),
      () => o.release(),
      () => o.ack([7, 8, 10, 11, 12]),
    ];
    const states = [stateOf(o)];
    const snapshots: { op: number; label: string; at: string }[] = [];
    let op = 0;
    hook.onReplace = (label) => {
      const at = join(data.dir, `cut-${snapshots.length}`);
      // every write before this instant was fsync'd: what the files hold is what a power cut keeps
      cpSync(dir, at, { recursive: true });
      snapshots.push({ op, label, at });
    };
    for (const [i, run] of ops.entries()) {
      op = i + 1;
      await run();
      states.push(stateOf(o));
    }
    hook.onReplace = undefined;
    await o.close();
    const labels = new Set(snapshots.map((s) => s.label));
    expect(labels).toEqual(
      new Set([
        'before events.jsonl',
        'after events.jsonl',
        'before quarantine.jsonl',
        'after quarantine.jsonl',
      ])
        .add('before cursor.json')
        .add('after cursor.json'),
    );
    for (const s of snapshots) {
      const first = await open(s.at);
      const got = stateOf(first);
      await first.close();
      expect([states[s.op - 1], states[s.op]], `${s.label} in operation ${s.op}`).toContainEqual(got);
      // the recovery is stable: a second open (after whatever the first one wrote) reads the same
      const second = await open(s.at);
      expect(stateOf(second), `${s.label} in operation ${s.op}, opened again`).toEqual(got);
      await second.close();
    }
    // the last state: nothing set aside is left, the quarantine file is empty
    expect(states.at(-1)?.quarantined).toEqual([]);
    const last = await open(dir);
    expect(stateOf(last)).toEqual(states.at(-1));
    await last.close();
  });
});
