/**
 * `verifier.checkPolicy`: the reader's policy applied to a card identified online (a gate's
 * fallback), with the verifier's own anti-passback state, so online and offline agree (C2, C4).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, type PolicySubject, type ReaderPolicy } from '../src/index.js';
import { nodeBackend } from '../src/node.js';
import { type Campus, makeCampus, T0 } from './helpers/fixtures.js';

let campus: Campus;
beforeAll(async () => {
  campus = await makeCampus();
});

async function loaded() {
  const v = createVerifier({ rootKeys: [campus.root.publicKey], backend: nodeBackend });
  expect(v.loadTrustList(await campus.trustList(1, T0 - 3600), { now: T0 }).ok).toBe(true);
  expect(v.loadStatusList(await campus.statusList(1, T0 - 600), { now: T0 }).ok).toBe(true);
  return v;
}

const subject = (cardId: string, extra: Partial<PolicySubject> = {}): PolicySubject => ({
  school: '10001',
  cardId,
  role: 'student',
  groups: [],
  mode: 'full',
  scene: undefined,
  ...extra,
});

describe('checkPolicy', () => {
  it('decides as verify does: the same rule admits or denies the same card', async () => {
    const v = await loaded();
    const policy: ReaderPolicy = {
      id: 'teachers-canteen',
      rules: [{ kind: 'roles', id: 'teachers-only', allow: ['teacher'] }],
    };
    const reader = { id: 'canteen-t', policy };
    const offline = await v.verify(await campus.code('2024010001', T0), { now: T0, reader });
    expect(offline).toMatchObject({ accepted: false, reason: 'POLICY_DENIED', rule: 'teachers-only' });
    expect(v.checkPolicy(subject('2024010001'), { now: T0, reader })).toMatchObject({
      ok: false,
      rule: 'teachers-only',
      kind: 'roles',
    });
    expect(v.checkPolicy(subject('T-1', { role: 'teacher' }), { now: T0, reader })).toMatchObject({
      ok: true,
    });
    // no policy admits
    expect(v.checkPolicy(subject('2024010001'), { now: T0, reader: { id: 'open' } })).toMatchObject({
      ok: true,
    });
  });

  it("shares the verifier's anti-passback state, and records a passage only on commit()", async () => {
    const v = await loaded();
    const policy: ReaderPolicy = {
      id: 'library',
      rules: [{ kind: 'antiPassback', id: 'library-apb', zone: 'library', minReentrySeconds: 0 }],
    };
    const entry = { id: 'lib-in', policy, direction: 'in' as const };
    const card = subject('2024010001');
    const first = v.checkPolicy(card, { now: T0, reader: entry });
    expect(first.ok).toBe(true);
    // not committed: the card is not inside yet
    expect(v.checkPolicy(card, { now: T0 + 1, reader: entry }).ok).toBe(true);
    if (first.ok) first.commit();
    // inside now: an offline scan at the entry is denied, and so is another online admission
    const offline = await v.verify(await campus.code('2024010001', T0 + 2), { now: T0 + 2, reader: entry });
    expect(offline).toMatchObject({ accepted: false, reason: 'POLICY_DENIED', rule: 'library-apb' });
    expect(v.checkPolicy(card, { now: T0 + 3, reader: entry })).toMatchObject({
      ok: false,
      rule: 'library-apb',
    });
    // and it survives a snapshot, as offline passages do
    const w = await loaded();
    w.restore(v.snapshot({ now: T0 + 4 }), { now: T0 + 4 });
    expect(w.checkPolicy(card, { now: T0 + 5, reader: entry }).ok).toBe(false);
  });

  it('throws for a missing clock or reader and for an invalid policy', async () => {
    const v = await loaded();
    const reader = { id: 'r', policy: { id: 'bad', rules: [{ kind: 'nope' }] } as unknown as ReaderPolicy };
    expect(() => v.checkPolicy(subject('1'), { now: T0, reader })).toThrow(/invalid reader policy/);
    expect(() => v.checkPolicy(subject('1'), { now: Number.NaN, reader: { id: 'r' } })).toThrow(TypeError);
    expect(() => v.checkPolicy(subject('1'), { now: T0 } as never)).toThrow(TypeError);
  });
});

describe('the policy object a reader passes', () => {
  it('is frozen once checked: what was checked is what applies, and an edit in place throws', async () => {
    const v = await loaded();
    const policy = {
      id: 'canteen',
      rules: [{ kind: 'roles', id: 'who', allow: ['student'] }],
    } as ReaderPolicy;
    const reader = { id: 'canteen-1', policy };
    expect((await v.verify(await campus.code('2024010001', T0), { now: T0, reader })).accepted).toBe(true);
    expect(Object.isFrozen(policy) && Object.isFrozen(policy.rules[0])).toBe(true);
    expect(() => {
      (policy.rules[0] as { allow: string[] }).allow = ['teacher'];
    }).toThrow(TypeError);
    expect(() => (policy.rules as unknown[]).push({ kind: 'bogus', id: 'x' })).toThrow(TypeError);
    // a new object is how a reader's policy changes
    const teachers = {
      id: 'canteen',
      rules: [{ kind: 'roles', id: 'who', allow: ['teacher'] }],
    } as ReaderPolicy;
    const d = await v.verify(await campus.code('2024010001', T0 + 1), {
      now: T0 + 1,
      reader: { ...reader, policy: teachers },
    });
    expect(d).toMatchObject({ accepted: false, reason: 'POLICY_DENIED', rule: 'who' });
  });

  it('an invalid policy is checked again at every scan, so one fixed in place applies; it is never frozen', async () => {
    const v = await loaded();
    const policy = { id: 'p', rules: [{ kind: 'bogus', id: 'x' }] } as unknown as ReaderPolicy;
    const reader = { id: 'r', policy };
    const d1 = await v.verify(await campus.code('2024010001', T0), { now: T0, reader });
    expect(d1).toMatchObject({ accepted: false, reason: 'INTERNAL_ERROR' });
    expect(Object.isFrozen(policy)).toBe(false);
    (policy.rules as unknown[])[0] = { kind: 'roles', id: 'who', allow: ['student'] };
    expect((await v.verify(await campus.code('2024010001', T0 + 1), { now: T0 + 1, reader })).accepted).toBe(
      true,
    );
  });

  it('a policy that is not an object (null from a JSON config, a string) is an invalid policy, named as such', async () => {
    const v = await loaded();
    for (const policy of [null, 'x', 7]) {
      const d = await v.verify(await campus.code('2024010001', T0), {
        now: T0,
        reader: { id: 'r', policy: policy as never },
      });
      expect(d).toMatchObject({ accepted: false, reason: 'INTERNAL_ERROR' });
      expect((d as { detail?: string }).detail).toMatch(/invalid reader policy/);
      expect(() =>
        v.checkPolicy(subject('1'), { now: T0, reader: { id: 'r', policy: policy as never } }),
      ).toThrow(/invalid reader policy/);
    }
  });
});
