import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluatePolicy, type PolicyResult } from '../../src/policy/evaluate-policy.js';
import { createPassbackState } from '../../src/policy/passback-state.js';
import type { PolicySubject, ReaderPolicy } from '../../src/policy/policy.js';
import { validatePolicy } from '../../src/policy/validate-policy.js';

const NOW = 1_767_225_600; // 2026-01-01T00:00:00Z, a Thursday
/** Unix seconds of local time in UTC+8: `day` 0 = Thu 2026-01-01, 4 = Mon 2026-01-05. */
function local(day: number, hhmm: string): number {
  return NOW - 8 * 3600 + day * 86_400 + Number(hhmm.slice(0, 2)) * 3600 + Number(hhmm.slice(3)) * 60;
}
const MON = 4;
const TUE = 5;

function subject(over: Partial<PolicySubject> = {}): PolicySubject {
  return { school: 'sch-1', role: 'student', cardId: 'card-1', groups: [], ...over };
}

function denial(r: PolicyResult): { rule: string; kind: string } | 'ok' {
  return r.ok ? 'ok' : { rule: r.rule, kind: r.kind };
}

describe('library anti-passback', () => {
  const policy = validatePolicy({
    id: 'library-gate',
    rules: [
      { kind: 'schools', id: 'campus', allow: ['sch-1'] },
      { kind: 'antiPassback', id: 'library-apb', zone: 'library', minReentrySeconds: 300 },
    ],
  });

  it('enter, enter again denied, exit, early re-entry denied, later re-entry allowed', () => {
    const passback = createPassbackState();
    const s = subject();
    const enter = (now: number) => evaluatePolicy(policy, s, { now, direction: 'in', passback });
    const exit = (now: number) => evaluatePolicy(policy, s, { now, direction: 'out', passback });

    const first = enter(NOW);
    expect(first.ok).toBe(true);
    if (first.ok) first.commit();
    const again = enter(NOW + 10);
    expect(again).toMatchObject({ ok: false, rule: 'library-apb', kind: 'antiPassback' });
    const out = exit(NOW + 60);
    expect(out.ok).toBe(true);
    if (out.ok) out.commit();
    expect(denial(enter(NOW + 60 + 299))).toEqual({ rule: 'library-apb', kind: 'antiPassback' });
    const later = enter(NOW + 60 + 300);
    expect(later.ok).toBe(true);
    expect(passback.get('library', 'sch-1', 'card-1')).toEqual({
      inside: false,
      lastEntry: NOW,
      lastExit: NOW + 60,
    });
  });

  it('does nothing without commit (a replayed code never moves the card inside)', () => {
    const passback = createPassbackState();
    const r = evaluatePolicy(policy, subject(), { now: NOW, direction: 'in', passback });
    expect(r.ok).toBe(true);
    expect(passback.size).toBe(0);
    expect(evaluatePolicy(policy, subject(), { now: NOW, direction: 'in', passback }).ok).toBe(true);
  });

  it('allows leaving without having entered, unless strictExit', () => {
    const passback = createPassbackState();
    expect(evaluatePolicy(policy, subject(), { now: NOW, direction: 'out', passback }).ok).toBe(true);
    const strict = validatePolicy({
      id: 'p',
      rules: [{ kind: 'antiPassback', id: 'apb', zone: 'library', minReentrySeconds: 0, strictExit: true }],
    });
    expect(denial(evaluatePolicy(strict, subject(), { now: NOW, direction: 'out', passback }))).toEqual({
      rule: 'apb',
      kind: 'antiPassback',
    });
  });

  it('keeps zones and cards apart, and needs direction and state', () => {
    const passback = createPassbackState();
    const r = evaluatePolicy(policy, subject(), { now: NOW, direction: 'in', passback });
    if (r.ok) r.commit();
    expect(
      evaluatePolicy(policy, subject({ cardId: 'card-2' }), { now: NOW, direction: 'in', passback }).ok,
    ).toBe(true);
    expect(() => evaluatePolicy(policy, subject(), { now: NOW, passback })).toThrow(TypeError);
    expect(() => evaluatePolicy(policy, subject(), { now: NOW, direction: 'in' })).toThrow(TypeError);
  });

  it('keeps schools apart: the same card id in another school is another card', () => {
    const both = validatePolicy({
      id: 'library-gate',
      rules: [{ kind: 'antiPassback', id: 'library-apb', zone: 'library', minReentrySeconds: 300 }],
    });
    const passback = createPassbackState();
    const ctx = { now: NOW, direction: 'in' as const, passback };
    const a = evaluatePolicy(both, subject({ school: 'sch-1' }), ctx);
    expect(a.ok).toBe(true);
    if (a.ok) a.commit();
    const b = evaluatePolicy(both, subject({ school: 'sch-2' }), ctx);
    expect(denial(b)).toBe('ok');
    if (b.ok) b.commit();
    expect(passback.get('library', 'sch-1', 'card-1')?.inside).toBe(true);
    expect(passback.get('library', 'sch-2', 'card-1')?.inside).toBe(true);
    // and each is inside on its own
    expect(denial(evaluatePolicy(both, subject({ school: 'sch-2' }), ctx))).toEqual({
      rule: 'library-apb',
      kind: 'antiPassback',
    });
  });
});

describe('dorm building B3', () => {
  const policy = validatePolicy({
    id: 'dorm-b3-door',
    rules: [
      { kind: 'roles', id: 'students-only', allow: ['student'] },
      { kind: 'groups', id: 'b3-residents', anyOf: ['dorm:B3'] },
    ],
  });
  const ctx = { now: NOW };

  it('admits a B3 resident, denies a B4 resident and a teacher', () => {
    expect(evaluatePolicy(policy, subject({ groups: ['class:7-2', 'dorm:B3', 'room:B3-204'] }), ctx).ok).toBe(
      true,
    );
    expect(denial(evaluatePolicy(policy, subject({ groups: ['dorm:B4'] }), ctx))).toEqual({
      rule: 'b3-residents',
      kind: 'groups',
    });
    expect(denial(evaluatePolicy(policy, subject({ role: 'teacher', groups: ['dorm:B3'] }), ctx))).toEqual({
      rule: 'students-only',
      kind: 'roles',
    });
  });

  it('prefix patterns match room groups; exact patterns do not', () => {
    const rooms = validatePolicy({
      id: 'p',
      rules: [{ kind: 'groups', id: 'b3-rooms', anyOf: ['room:B3-'], prefix: true }],
    });
    expect(evaluatePolicy(rooms, subject({ groups: ['room:B3-204'] }), ctx).ok).toBe(true);
    expect(evaluatePolicy(rooms, subject({ groups: ['room:B30-1'] }), ctx).ok).toBe(false);
    const exact = validatePolicy({ id: 'p', rules: [{ kind: 'groups', id: 'g', anyOf: ['room:B3-'] }] });
    expect(evaluatePolicy(exact, subject({ groups: ['room:B3-204'] }), ctx).ok).toBe(false);
  });
});

describe('teacher canteen', () => {
  it("denies a student by the 'roles' rule", () => {
    const policy = validatePolicy({
      id: 'teacher-canteen-pos',
      rules: [
        { kind: 'roles', id: 'teachers', allow: ['teacher'] },
        { kind: 'scene', id: 'payment-codes', require: [2] },
      ],
    });
    expect(evaluatePolicy(policy, subject({ role: 'teacher', scene: 2 }), { now: NOW }).ok).toBe(true);
    expect(evaluatePolicy(policy, subject({ role: 'student', scene: 2 }), { now: NOW })).toMatchObject({
      ok: false,
      rule: 'teachers',
      kind: 'roles',
    });
    expect(denial(evaluatePolicy(policy, subject({ role: 'teacher', scene: 1 }), { now: NOW }))).toEqual({
      rule: 'payment-codes',
      kind: 'scene',
    });
    // a physical card carries no scene, and passes
    expect(evaluatePolicy(policy, subject({ role: 'teacher', mode: 'physical' }), { now: NOW }).ok).toBe(
      true,
    );
    // a QR code without a scene (shown for no stated purpose) does not pay here
    for (const mode of ['full', 'compact', undefined] as const) {
      expect(evaluatePolicy(policy, subject({ role: 'teacher', mode }), { now: NOW })).toMatchObject({
        ok: false,
        rule: 'payment-codes',
        kind: 'scene',
        detail: 'the code carries no scene; one of 2 is required',
      });
    }
    // …unless the rule allows codes without one
    const lenient = validatePolicy({
      id: 'old-apps-pos',
      rules: [{ kind: 'scene', id: 'payment-codes', require: [2], allowMissing: true }],
    });
    expect(evaluatePolicy(lenient, subject({ mode: 'full' }), { now: NOW }).ok).toBe(true);
    expect(evaluatePolicy(lenient, subject({ mode: 'full', scene: 1 }), { now: NOW }).ok).toBe(false);
  });
});

describe('lab authorisation', () => {
  it('needs the lab group and campus membership', () => {
    const policy = validatePolicy({
      id: 'chem-lab-1',
      rules: [
        { kind: 'schools', id: 'campus', allow: ['sch-1'] },
        { kind: 'groups', id: 'lab-auth', allOf: ['lab:chem-1'] },
      ],
    });
    expect(evaluatePolicy(policy, subject({ groups: ['lab:chem-1'] }), { now: NOW }).ok).toBe(true);
    expect(denial(evaluatePolicy(policy, subject({ groups: ['lab:bio-1'] }), { now: NOW }))).toEqual({
      rule: 'lab-auth',
      kind: 'groups',
    });
    expect(
      denial(evaluatePolicy(policy, subject({ school: 'other', groups: ['lab:chem-1'] }), { now: NOW })),
    ).toEqual({
      rule: 'campus',
      kind: 'schools',
    });
  });
});

describe('class check-in during the lesson window', () => {
  const policy = validatePolicy({
    id: 'class-7-2-roll-call',
    rules: [
      { kind: 'groups', id: 'class', anyOf: ['class:7-2'] },
      {
        kind: 'timeWindows',
        id: 'lesson',
        utcOffsetMinutes: 480,
        windows: [
          { days: [1], start: '08:00', end: '08:45' },
          { days: [1], start: '23:30', end: '00:30' }, // Monday night study, crossing midnight
        ],
      },
    ],
  });
  const s = subject({ groups: ['class:7-2'] });
  const at = (now: number) => denial(evaluatePolicy(policy, s, { now }));
  const lesson = { rule: 'lesson', kind: 'timeWindows' };

  it('admits only inside the window, end exclusive', () => {
    expect(at(local(MON, '07:59'))).toEqual(lesson);
    expect(at(local(MON, '08:00'))).toBe('ok');
    expect(at(local(MON, '08:44') + 59)).toBe('ok');
    expect(at(local(MON, '08:45'))).toEqual(lesson);
  });

  it('denies the same time on a different weekday', () => {
    expect(at(local(TUE, '08:10'))).toEqual(lesson);
    expect(at(local(MON - 7, '08:10'))).toBe('ok'); // the Monday before
  });

  it('handles a window crossing midnight', () => {
    expect(at(local(MON, '23:29'))).toEqual(lesson);
    expect(at(local(MON, '23:30'))).toBe('ok');
    expect(at(local(TUE, '00:10'))).toBe('ok');
    expect(at(local(TUE, '00:30'))).toEqual(lesson);
    expect(at(local(MON, '00:10'))).toEqual(lesson); // Sunday was not listed
    expect(at(local(TUE, '23:45'))).toEqual(lesson);
  });

  it('supports an end of 24:00 and negative offsets', () => {
    const p = validatePolicy({
      id: 'p',
      rules: [
        {
          kind: 'timeWindows',
          id: 'w',
          utcOffsetMinutes: -300,
          windows: [{ days: [3], start: '20:00', end: '24:00' }],
        },
      ],
    });
    // Wed 2025-12-31 23:59 in UTC-5 is Thu 04:59 UTC
    expect(evaluatePolicy(p, s, { now: NOW + 4 * 3600 + 59 * 60 }).ok).toBe(true);
    expect(evaluatePolicy(p, s, { now: NOW + 5 * 3600 }).ok).toBe(false);
  });
});

describe('property: evaluation without commit changes nothing', () => {
  it('a later evaluation gets the same outcome whatever was evaluated (uncommitted) in between', () => {
    const policy: ReaderPolicy = validatePolicy({
      id: 'p',
      rules: [
        { kind: 'roles', id: 'r', allow: ['student', 'teacher'] },
        { kind: 'antiPassback', id: 'apb', zone: 'z', minReentrySeconds: 30 },
        { kind: 'antiPassback', id: 'apb2', zone: 'y', minReentrySeconds: 0, strictExit: true },
      ],
    });
    const scan = fc.record({
      card: fc.constantFrom('a', 'b', 'c'),
      role: fc.constantFrom('teacher' as const, 'student' as const, 'parent' as const),
      direction: fc.constantFrom('in' as const, 'out' as const),
      dt: fc.integer({ min: 0, max: 40 }),
      commit: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(scan, { maxLength: 40 }),
        fc.array(scan, { maxLength: 10 }),
        scan,
        (history, noise, probe) => {
          const passback = createPassbackState({ maxEntries: 4 });
          let now = NOW;
          for (const h of history) {
            now += h.dt;
            const r = evaluatePolicy(policy, subject({ cardId: h.card, role: h.role }), {
              now,
              direction: h.direction,
              passback,
            });
            if (r.ok && h.commit) r.commit();
          }
          const before = JSON.stringify(passback.snapshot());
          const run = () =>
            evaluatePolicy(policy, subject({ cardId: probe.card, role: probe.role }), {
              now: now + probe.dt,
              direction: probe.direction,
              passback,
            });
          const expected = denial(run());
          for (const n of noise) {
            evaluatePolicy(policy, subject({ cardId: n.card, role: n.role }), {
              now: now + n.dt,
              direction: n.direction,
              passback,
            });
          }
          expect(denial(run())).toEqual(expected);
          expect(JSON.stringify(passback.snapshot())).toBe(before);
        },
      ),
      { seed: 1234, numRuns: 300 },
    );
  });
});
