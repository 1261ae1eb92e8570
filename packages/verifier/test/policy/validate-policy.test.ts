import { describe, expect, it } from 'vitest';
import { PolicyInvalidError } from '../../src/errors.js';
import { validatePolicy } from '../../src/policy/validate-policy.js';

const FULL = {
  id: 'everything',
  rules: [
    { kind: 'roles', id: 'r', allow: ['teacher', 'student'] },
    { kind: 'schools', id: 's', allow: ['sch-1'] },
    { kind: 'groups', id: 'g', anyOf: ['dorm:B3'], allOf: ['class:7-2'], prefix: false },
    {
      kind: 'timeWindows',
      id: 't',
      utcOffsetMinutes: 480,
      windows: [{ days: [1, 2, 3, 4, 5], start: '22:00', end: '06:00' }],
    },
    { kind: 'antiPassback', id: 'a', zone: 'library', minReentrySeconds: 300, strictExit: true },
    { kind: 'scene', id: 'sc', require: [1, 4] },
  ],
};

function pathOf(value: unknown): string {
  try {
    validatePolicy(value);
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyInvalidError);
    expect((e as PolicyInvalidError).code).toBe('ERR_POLICY_INVALID');
    return (e as PolicyInvalidError).path;
  }
  throw new Error('expected validatePolicy to throw');
}

function withRule(rule: unknown): unknown {
  return { id: 'p', rules: [{ kind: 'roles', id: 'ok', allow: ['teacher'] }, rule] };
}

describe('validatePolicy', () => {
  it('round-trips through JSON unchanged and shares nothing with its input', () => {
    const policy = validatePolicy(JSON.parse(JSON.stringify(FULL)));
    expect(policy).toEqual(FULL);
    expect(validatePolicy(JSON.parse(JSON.stringify(policy)))).toEqual(policy);
    const input = JSON.parse(JSON.stringify(FULL));
    const copy = validatePolicy(input);
    input.rules[0].allow.push('parent');
    expect(copy.rules[0]).toEqual(FULL.rules[0]);
  });

  it('rejects bad inputs, naming the path', () => {
    expect(pathOf(null)).toBe('');
    expect(pathOf([])).toBe('');
    expect(pathOf({ rules: [] })).toBe('id');
    expect(pathOf({ id: 'p', rules: {} })).toBe('rules');
    expect(pathOf({ id: 'p', rules: [], extra: 1 })).toBe('extra');
    expect(pathOf(withRule({ kind: 'nope', id: 'x' }))).toBe('rules[1].kind');
    expect(pathOf(withRule({ kind: 'roles', allow: ['teacher'] }))).toBe('rules[1].id');
    expect(pathOf(withRule({ kind: 'roles', id: 'x', allow: ['teacher', 'janitor'] }))).toBe(
      'rules[1].allow[1]',
    );
    expect(pathOf(withRule({ kind: 'roles', id: 'x', allow: [] }))).toBe('rules[1].allow');
    expect(pathOf(withRule({ kind: 'roles', id: 'x', alow: ['teacher'] }))).toBe('rules[1].alow');
    expect(pathOf(withRule({ kind: 'roles', id: 'ok', allow: ['teacher'] }))).toBe('rules[1].id');
    expect(pathOf(withRule({ kind: 'schools', id: 'x', allow: [''] }))).toBe('rules[1].allow[0]');
    expect(pathOf(withRule({ kind: 'groups', id: 'x' }))).toBe('rules[1]');
    expect(pathOf(withRule({ kind: 'groups', id: 'x', anyOf: ['a'], prefix: 'yes' }))).toBe(
      'rules[1].prefix',
    );
    const tw = (over: object) =>
      withRule({
        kind: 'timeWindows',
        id: 'x',
        utcOffsetMinutes: 0,
        windows: [{ days: [1], start: '08:00', end: '09:00', ...over }],
      });
    expect(pathOf(tw({ start: '8:00' }))).toBe('rules[1].windows[0].start');
    expect(pathOf(tw({ start: '24:00' }))).toBe('rules[1].windows[0].start');
    expect(pathOf(tw({ end: '24:01' }))).toBe('rules[1].windows[0].end');
    expect(pathOf(tw({ end: '08:00' }))).toBe('rules[1].windows[0].end');
    expect(pathOf(tw({ days: [7] }))).toBe('rules[1].windows[0].days[0]');
    expect(pathOf(tw({ days: [] }))).toBe('rules[1].windows[0].days');
    expect(pathOf(withRule({ kind: 'timeWindows', id: 'x', utcOffsetMinutes: 30.5, windows: [] }))).toBe(
      'rules[1].utcOffsetMinutes',
    );
    expect(pathOf(withRule({ kind: 'antiPassback', id: 'x', zone: 'z', minReentrySeconds: -1 }))).toBe(
      'rules[1].minReentrySeconds',
    );
    expect(pathOf(withRule({ kind: 'antiPassback', id: 'x', minReentrySeconds: 1 }))).toBe('rules[1].zone');
    expect(pathOf(withRule({ kind: 'scene', id: 'x', require: [1.5] }))).toBe('rules[1].require[0]');
    expect(pathOf(withRule({ kind: 'scene', id: 'x', require: [2], allowMissing: 'yes' }))).toBe(
      'rules[1].allowMissing',
    );
    expect(pathOf(withRule({ kind: 'scene', id: 'x', require: [2], allowMising: true }))).toBe(
      'rules[1].allowMising',
    );
  });

  it('rejects a sparse array (a hole evaluation would read as undefined and crash on)', () => {
    // biome-ignore lint/suspicious/noSparseArray: the hole is the test
    expect(pathOf({ id: 'p', rules: [, { kind: 'roles', id: 'r', allow: ['teacher'] }] })).toBe('rules[0]');
    // biome-ignore lint/suspicious/noSparseArray: the hole is the test
    expect(pathOf(withRule({ kind: 'roles', id: 'x', allow: ['teacher', , 'student'] }))).toBe(
      'rules[1].allow[1]',
    );
  });

  it('names the path in the message', () => {
    expect(() => validatePolicy(withRule({ kind: 'scene', id: 'x', require: [-1] }))).toThrow(
      /rules\[1\]\.require\[0\]/,
    );
  });
});
