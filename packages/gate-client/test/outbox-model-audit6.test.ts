import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type EventOutbox,
  openEventOutbox,
  type QuarantineReason,
  type UnnumberedEvent,
} from '../src/index.js';
import { tempDir } from './helpers.js';

let data: ReturnType<typeof tempDir>;
beforeEach(() => {
  data = tempDir();
});
afterEach(() => data.cleanup());

const ev = (id: number): UnnumberedEvent => ({
  kind: 'access',
  occurred_at: '2026-01-05T08:00:00Z',
  decision: 'allowed',
  card_id: `c-${id}`,
});
const reason: QuarantineReason = { code: 'ERR_VALIDATION', status: 422, message: 'bad', at: 1 };

type Op =
  | { t: 'append'; n: number }
  | { t: 'ack'; k: number; extra: boolean }
  | { t: 'quarantine'; i: number }
  | { t: 'release'; pick: number[] | undefined }
  | { t: 'appendAndRelease' }
  | { t: 'reopen' }
  | { t: 'crashAfterRelease' }
  | { t: 'tornQuarantine' }
  | { t: 'tornJournal' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant('append' as const), n: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ t: fc.constant('ack' as const), k: fc.integer({ min: 0, max: 4 }), extra: fc.boolean() }),
  fc.record({ t: fc.constant('quarantine' as const), i: fc.integer({ min: 0, max: 5 }) }),
  fc.record({
    t: fc.constant('release' as const),
    pick: fc.option(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }), { nil: undefined }),
  }),
  fc.record({ t: fc.constant('appendAndRelease' as const) }),
  fc.record({ t: fc.constant('reopen' as const) }),
  fc.record({ t: fc.constant('crashAfterRelease' as const) }),
  fc.record({ t: fc.constant('tornQuarantine' as const) }),
  fc.record({ t: fc.constant('tornJournal' as const) }),
);

interface M {
  pending: { seq: number; id: number }[];
  quarantined: { seq: number; id: number }[];
  lastSeq: number;
  acked: number;
  nextId: number;
  /** ids acknowledged so far: an id is never acknowledged twice */
  uploaded: Set<number>;
}

const idOf = (cardId: string | undefined) => Number((cardId ?? '').slice(2));

/** The non-empty lines of `quarantine.jsonl` (none when there is no file). */
function quarantineLines(dir: string): string[] {
  return existsSync(join(dir, 'quarantine.jsonl'))
    ? readFileSync(join(dir, 'quarantine.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
    : [];
}

function check(o: EventOutbox, m: M, dir: string): void {
  // the quarantine file is compacted: fewer dead lines (released, torn) than compactAfter (3)
  expect(quarantineLines(dir).length - m.quarantined.length).toBeLessThan(3);
  expect(o.pending().map((e) => [e.seq, idOf((e as { card_id?: string }).card_id)])).toEqual(
    m.pending.map((p) => [p.seq, p.id]),
  );
  expect(o.quarantined().map((q) => [q.event.seq, idOf((q.event as { card_id?: string }).card_id)])).toEqual(
    m.quarantined.map((p) => [p.seq, p.id]),
  );
  expect(o.lastSeq).toBe(m.lastSeq);
  expect(o.ackedSeq).toBe(m.acked);
}

describe('EventOutbox against a reference model (append, ack, quarantine, release, reopen, crashes)', () => {
  it('keeps the same pending queue, quarantine, cursor and seqs', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
        const dir = join(data.dir, `r${run++}`);
        const open = () => openEventOutbox({ dir, firstSeq: 1, compactAfter: 3 });
        let o = await open();
        const m: M = { pending: [], quarantined: [], lastSeq: 0, acked: 0, nextId: 1, uploaded: new Set() };
        let lastReleased: number[] = [];
        try {
          for (const op of ops) {
            const releasedBefore = lastReleased;
            lastReleased = [];
            switch (op.t) {
              case 'append':
                for (let i = 0; i < op.n; i++) {
                  const id = m.nextId++;
                  const e = await o.append(ev(id));
                  m.pending.push({ seq: ++m.lastSeq, id });
                  expect(e.seq).toBe(m.lastSeq);
                }
                break;
              case 'ack': {
                const seqs = m.pending.slice(0, op.k).map((p) => p.seq);
                if (op.extra) seqs.push(m.lastSeq + 5); // never assigned: ignored
                const got = await o.ack(seqs);
                const n = Math.min(op.k, m.pending.length);
                for (const p of m.pending.slice(0, n)) {
                  expect(m.uploaded.has(p.id)).toBe(false);
                  m.uploaded.add(p.id);
                  m.acked = p.seq;
                }
                m.pending.splice(0, n);
                expect(got).toBe(m.acked);
                break;
              }
              case 'quarantine': {
                const p = m.pending[op.i];
                const seq = p?.seq ?? m.lastSeq + 7;
                expect(await o.quarantine(seq, reason)).toBe(p !== undefined);
                if (p !== undefined) {
                  m.pending.splice(op.i, 1);
                  m.quarantined.push(p);
                }
                break;
              }
              case 'release': {
                const chosen =
                  op.pick === undefined
                    ? [...m.quarantined]
                    : m.quarantined.filter((_, i) => op.pick?.includes(i));
                const out = await o.release(op.pick === undefined ? undefined : chosen.map((q) => q.seq));
                const expected = chosen.map((q) => ({ seq: ++m.lastSeq, id: q.id }));
                expect(out.map((e) => [e.seq, idOf((e as { card_id?: string }).card_id)])).toEqual(
                  expected.map((p) => [p.seq, p.id]),
                );
                m.quarantined = m.quarantined.filter((q) => !chosen.includes(q));
                m.pending.push(...expected);
                lastReleased = expected.map((p) => p.seq);
                break;
              }
              case 'appendAndRelease': {
                const id = m.nextId++;
                const chosen = [...m.quarantined];
                const [a, r] = await Promise.all([o.append(ev(id)), o.release()]);
                expect(a.seq).toBe(++m.lastSeq);
                m.pending.push({ seq: a.seq, id });
                const expected = chosen.map((q) => ({ seq: ++m.lastSeq, id: q.id }));
                expect(r.map((e) => e.seq)).toEqual(expected.map((p) => p.seq));
                m.quarantined = [];
                m.pending.push(...expected);
                break;
              }
              case 'reopen':
                await o.close();
                o = await open();
                break;
              case 'crashAfterRelease': {
                // a power cut after the release lines were fsync'd, before the journal append: a
                // state the files were in only if no compaction of the quarantine (which follows
                // the journal append) has dropped the release lines since
                await o.close();
                const releaseLines = quarantineLines(dir).filter((l) => {
                  try {
                    return releasedBefore.includes((JSON.parse(l) as { seq?: number }).seq as number);
                  } catch {
                    return false; // a torn line
                  }
                });
                if (releasedBefore.length > 0 && releaseLines.length === releasedBefore.length) {
                  const path = join(dir, 'events.jsonl');
                  const lines = readFileSync(path, 'utf8')
                    .split('\n')
                    .filter((l) => l !== '');
                  const kept = lines.filter((l) => !releasedBefore.includes(JSON.parse(l).seq));
                  expect(lines.length - kept.length).toBe(releasedBefore.length);
                  writeFileSync(path, kept.map((l) => `${l}\n`).join(''));
                }
                o = await open();
                break;
              }
              case 'tornQuarantine':
                await o.close();
                appendFileSync(join(dir, 'quarantine.jsonl'), '{"event":{"seq":');
                o = await open();
                break;
              case 'tornJournal':
                await o.close();
                appendFileSync(join(dir, 'events.jsonl'), `{"seq":${m.lastSeq + 1},"kind":"acc`);
                o = await open();
                break;
            }
            check(o, m, dir);
          }
          await o.close();
          o = await open();
          check(o, m, dir);
        } finally {
          await o.close();
        }
      }),
      { numRuns: 150, seed: 424242 },
    );
  }, 120_000);
});
