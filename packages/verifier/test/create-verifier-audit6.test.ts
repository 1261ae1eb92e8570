/**
 * Audit 6: every public method that takes a clock refuses the same readings (negative, NaN,
 * milliseconds) in the way it documents; `checkPolicy` refuses a malformed subject with a clear
 * `TypeError`; `replayJournal` throws the documented `RangeError` for a window too small.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, encodeJournalRecord, evaluatePolicy, type PolicySubject } from '../src/index.js';
import { nodeBackend } from '../src/node.js';
import { type Campus, makeCampus, T0 } from './helpers/fixtures.js';

let campus: Campus;
beforeAll(async () => {
  campus = await makeCampus();
});

const gate = { id: 'gate-1' };

async function loaded(journal?: Uint8Array[], replayCapacity?: number) {
  const v = createVerifier({
    rootKeys: [campus.root.publicKey],
    backend: nodeBackend,
    ...(replayCapacity === undefined ? {} : { replayCapacity }),
    ...(journal === undefined
      ? {}
      : { onReplayRecord: (d: Uint8Array, e: number) => void journal.push(encodeJournalRecord(d, e)) }),
  });
  expect(v.loadTrustList(await campus.trustList(1, T0 - 3600), { now: T0 }).ok).toBe(true);
  expect(v.loadStatusList(await campus.statusList(1, T0 - 600), { now: T0 }).ok).toBe(true);
  return v;
}

const subject: PolicySubject = {
  school: '10001',
  cardId: '2024010001',
  role: 'student',
  groups: ['dorm:B3'],
  mode: 'full',
  scene: undefined,
};

describe('a clock reading that is not unix seconds', () => {
  // -1: a clock before 1970 (a bug: no device reads it); NaN; milliseconds; -1e12: negative milliseconds
  for (const bad of [-1, -0.5, -T0, Number.NaN, T0 * 1000, -T0 * 1000]) {
    it(`${bad} is refused alike by every method, naming the problem, and changes nothing`, async () => {
      const journal: Uint8Array[] = [];
      const v = await loaded(journal);
      const code = await campus.code('2024010001', T0);
      const problem = /options\.now|context\.now|\bnow\b/;

      const used = await v.recordUse(code, { now: bad });
      expect(used).toMatchObject({
        ok: false,
        reason: 'INTERNAL_ERROR',
        detail: expect.stringMatching(problem),
      });
      expect(used.ok === false && used.detail).toMatch(/unix seconds/);
      const d = await v.verify(code, { now: bad, reader: gate });
      expect(d).toMatchObject({
        accepted: false,
        reason: 'INTERNAL_ERROR',
        detail: expect.stringMatching(/unix seconds/),
      });
      const load = v.loadStatusList(await campus.statusList(2, T0 - 60), { now: bad });
      expect(load).toMatchObject({
        ok: false,
        reason: 'INTERNAL_ERROR',
        detail: expect.stringMatching(/unix seconds/),
      });

      expect(() => v.status(bad)).toThrow(TypeError);
      expect(() => v.snapshot({ now: bad })).toThrow(TypeError);
      const snap = v.snapshot({ now: T0 });
      expect(() => v.restore(snap, { now: bad })).toThrow(TypeError);
      expect(() => v.replayJournal(new Uint8Array(0), { now: bad })).toThrow(TypeError);
      expect(() => v.markReplayWindowLost({ now: bad })).toThrow(TypeError);
      expect(() => v.checkPolicy(subject, { now: bad, reader: gate })).toThrow(TypeError);

      // nothing moved: no journal record, and the code is still admitted once with the right clock
      expect(journal).toHaveLength(0);
      expect(v.status(T0).lastSyncAt).toBe(T0);
      expect((await v.verify(code, { now: T0, reader: gate })).accepted).toBe(true);
      expect(journal).toHaveLength(1);
    });
  }

  it('0 (a clock reset to 1970) and a fractional reading are still clock readings', async () => {
    const v = await loaded();
    expect(v.status(0).clockBeforeFloor).toBe(true);
    expect(await v.verify(await campus.code('2024010001', T0), { now: 0, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'CLOCK_BEFORE_FLOOR',
    });
    expect(v.status(T0 + 0.5).clock).toBe(T0 + 0.5);
    expect(await v.recordUse(await campus.code('2024010002', T0), { now: T0 + 0.5 })).toEqual({ ok: true });
  });
});

/** `name: message` of what `f` throws. */
function thrown(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
  return 'nothing thrown';
}

describe('checkPolicy with a malformed subject', () => {
  const reader = {
    id: 'dorm-b3',
    direction: 'in' as const,
    policy: {
      id: 'dorm',
      rules: [
        { kind: 'groups' as const, id: 'b3', anyOf: ['dorm:B3'] },
        { kind: 'antiPassback' as const, id: 'apb', zone: 'dorm', minReentrySeconds: 0 },
      ],
    },
  };
  const bad: [string, unknown][] = [
    ['no subject', undefined],
    ['null', null],
    ['no groups', { ...subject, groups: undefined }],
    ['groups a string', { ...subject, groups: 'dorm:B3' }],
    ['a group not a string', { ...subject, groups: ['dorm:B3', 7] }],
    ['no school', { ...subject, school: undefined }],
    ['an empty card id', { ...subject, cardId: '' }],
    ['a card id not a string', { ...subject, cardId: 2024010001 }],
    ['an unknown role', { ...subject, role: 'admin' }],
    ['a scene not an integer', { ...subject, scene: '2' }],
    ['an unknown mode', { ...subject, mode: 'nfc' }],
  ];
  for (const [name, s] of bad) {
    it(`${name}: a TypeError naming the field, and no passage recorded`, async () => {
      const v = await loaded();
      expect(thrown(() => v.checkPolicy(s as PolicySubject, { now: T0, reader }))).toMatch(
        /^TypeError: checkPolicy: "subject/,
      );
      // the standalone evaluator refuses it the same way, before any rule
      const roles = { id: 'p', rules: [{ kind: 'roles' as const, id: 'r', allow: ['student' as const] }] };
      expect(thrown(() => evaluatePolicy(roles, s as never, { now: T0 }))).toMatch(/^TypeError: "subject/);
      const ok = v.checkPolicy(subject, { now: T0, reader });
      expect(ok.ok).toBe(true);
    });
  }

  it('a well-formed subject without mode or scene is still checked as a code without a scene', async () => {
    const v = await loaded();
    const { mode: _m, scene: _s, ...bare } = subject;
    expect(v.checkPolicy(bare as PolicySubject, { now: T0, reader }).ok).toBe(true);
  });
});

describe('replayJournal into a window too small', () => {
  it('throws the RangeError its TSDoc names', async () => {
    const journal: Uint8Array[] = [];
    const v = await loaded(journal);
    for (const id of ['2024010001', '2024010002']) {
      expect((await v.verify(await campus.code(id, T0), { now: T0, reader: gate })).accepted).toBe(true);
    }
    const small = await loaded(undefined, 1);
    const bytes = Uint8Array.from(journal.flatMap((r) => [...r]));
    expect(() => small.replayJournal(bytes, { now: T0 + 1 })).toThrow(RangeError);
  });
});
