/**
 * The default policy evaluator (src/policy-step.ts): a checked policy is frozen deeply, even when
 * the reader passed an object whose top level was already frozen, so an edit in place throws
 * (ES modules are strict) instead of being silently ignored behind the cached checked copy.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, type ReaderPolicy } from '../src/index.js';
import { nodeBackend } from '../src/node.js';
import { createPassbackState } from '../src/policy/passback-state.js';
import { createPolicyEvaluator, type PolicySubject } from '../src/policy-step.js';
import { type Campus, makeCampus, T0, trustMaterial } from './helpers/fixtures.js';

let campus: Campus;
beforeAll(async () => {
  campus = await makeCampus();
});

const student: PolicySubject = {
  school: '10001',
  cardId: '2024010001',
  role: 'student',
  groups: [],
  mode: 'full',
  scene: undefined,
};

describe('a policy whose top-level object is already frozen', () => {
  it('is frozen deeply once checked: an edit to its rules throws, and the rules checked still apply', async () => {
    const m = await trustMaterial(campus);
    const v = createVerifier({ rootKeys: [campus.root.publicKey], backend: nodeBackend });
    v.loadTrustList(m.tl, { now: T0 });
    v.loadStatusList(m.sl, { now: T0 });
    const rules = [{ kind: 'roles', id: 'who', allow: ['student'] }];
    const policy = Object.freeze({ id: 'canteen', rules }) as ReaderPolicy;
    const reader = { id: 'c', policy };
    expect((await v.verify(await campus.code('2024010001', T0), { now: T0, reader })).accepted).toBe(true);
    expect(Object.isFrozen(rules)).toBe(true);
    expect(Object.isFrozen(rules[0])).toBe(true);
    expect(Object.isFrozen(rules[0]?.allow)).toBe(true);
    expect(() => {
      (rules[0] as { allow: string[] }).allow = ['teacher'];
    }).toThrow(TypeError);
    expect(() => rules[0]?.allow.push('teacher')).toThrow(TypeError);
    expect(() => rules.push({ kind: 'roles', id: 'x', allow: [] })).toThrow(TypeError);
    expect((await v.verify(await campus.code('2024010001', T0 + 1), { now: T0 + 1, reader })).accepted).toBe(
      true,
    );
  });

  it('frozen levels are walked through to their unfrozen children; a shared child is frozen too', () => {
    const evaluate = createPolicyEvaluator(createPassbackState());
    const allow = ['student'];
    const rule = Object.freeze({ kind: 'roles', id: 'who', allow }); // frozen, its array not
    const rules = [rule];
    const policy = Object.freeze({ id: 'p', rules }) as unknown as ReaderPolicy;
    expect(evaluate(student, { id: 'r', policy }, T0).ok).toBe(true);
    expect(Object.isFrozen(rules) && Object.isFrozen(allow)).toBe(true);

    // a child shared by two rules is frozen (and walked) once
    const shared = ['student'];
    const twice = [
      { kind: 'roles', id: 'a', allow: shared },
      { kind: 'roles', id: 'b', allow: shared },
    ];
    const policy2 = Object.freeze({ id: 'q', rules: Object.freeze(twice) }) as unknown as ReaderPolicy;
    expect(evaluate(student, { id: 'r', policy: policy2 }, T0).ok).toBe(true);
    expect(Object.isFrozen(twice[0]) && Object.isFrozen(twice[1]) && Object.isFrozen(shared)).toBe(true);
  });
});
