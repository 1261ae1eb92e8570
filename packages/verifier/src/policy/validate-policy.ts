/**
 * Loads a reader policy from untrusted JSON.
 *
 * @module
 */
import { PolicyInvalidError } from '../errors.js';
import type { PolicyRule, ReaderPolicy, Role, TimeWindow } from './policy.js';

const ROLES: readonly Role[] = ['teacher', 'student', 'parent'];
const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;

const KEYS: Record<PolicyRule['kind'], { required: string[]; optional: string[] }> = {
  roles: { required: ['allow'], optional: [] },
  schools: { required: ['allow'], optional: [] },
  groups: { required: [], optional: ['anyOf', 'allOf', 'prefix'] },
  timeWindows: { required: ['utcOffsetMinutes', 'windows'], optional: [] },
  antiPassback: { required: ['zone', 'minReentrySeconds'], optional: ['strictExit'] },
  scene: { required: ['require'], optional: ['allowMissing'] },
};

function fail(path: string, message: string): never {
  throw new PolicyInvalidError(path, message);
}

function objectAt(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, 'must be an object');
  return value as Record<string, unknown>;
}

function onlyKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) fail(path === '' ? key : `${path}.${key}`, 'unknown property');
  }
}

function nonEmptyString(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0) fail(path, 'must be a non-empty string');
  return value;
}

function arrayOf<T>(
  value: unknown,
  path: string,
  item: (v: unknown, p: string) => T,
  nonEmpty: boolean,
): T[] {
  if (!Array.isArray(value)) fail(path, 'must be an array');
  if (nonEmpty && value.length === 0) fail(path, 'must not be empty');
  // every index, holes of a sparse array too (map would skip them and keep the holes)
  return Array.from(value, (v: unknown, i) => item(v, `${path}[${i}]`));
}

function integerIn(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(path, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

function minutesOf(value: unknown, path: string, allow24: boolean): number {
  if (typeof value !== 'string' || !(HHMM.test(value) || (allow24 && value === '24:00'))) {
    fail(path, `must be "HH:MM" (00:00 to ${allow24 ? '24:00' : '23:59'})`);
  }
  return Number(value.slice(0, 2)) * 60 + Number(value.slice(3));
}

function windowAt(value: unknown, path: string): TimeWindow {
  const w = objectAt(value, path);
  onlyKeys(w, ['days', 'start', 'end'], path);
  const days = arrayOf(w.days, `${path}.days`, (v, p) => integerIn(v, p, 0, 6), true);
  const start = minutesOf(w.start, `${path}.start`, false);
  const end = minutesOf(w.end, `${path}.end`, true);
  if (start === end) fail(`${path}.end`, 'must differ from start');
  return { days, start: w.start as string, end: w.end as string };
}

function ruleAt(value: unknown, path: string): PolicyRule {
  const r = objectAt(value, path);
  const kind = r.kind;
  if (typeof kind !== 'string' || !Object.hasOwn(KEYS, kind)) {
    fail(`${path}.kind`, `must be one of ${Object.keys(KEYS).join(', ')}`);
  }
  const k = kind as PolicyRule['kind'];
  const spec = KEYS[k];
  onlyKeys(r, ['kind', 'id', ...spec.required, ...spec.optional], path);
  for (const key of spec.required) if (!(key in r)) fail(`${path}.${key}`, 'is required');
  const id = nonEmptyString(r.id, `${path}.id`);
  switch (k) {
    case 'roles':
      return {
        kind: k,
        id,
        allow: arrayOf(
          r.allow,
          `${path}.allow`,
          (v, p) => {
            if (!ROLES.includes(v as Role)) fail(p, `must be one of ${ROLES.join(', ')}`);
            return v as Role;
          },
          true,
        ),
      };
    case 'schools':
      return { kind: k, id, allow: arrayOf(r.allow, `${path}.allow`, nonEmptyString, true) };
    case 'groups': {
      const anyOf =
        r.anyOf === undefined ? undefined : arrayOf(r.anyOf, `${path}.anyOf`, nonEmptyString, false);
      const allOf =
        r.allOf === undefined ? undefined : arrayOf(r.allOf, `${path}.allOf`, nonEmptyString, false);
      if ((anyOf?.length ?? 0) === 0 && (allOf?.length ?? 0) === 0) {
        fail(path, 'a groups rule needs a non-empty "anyOf" or "allOf"');
      }
      if (r.prefix !== undefined && typeof r.prefix !== 'boolean')
        fail(`${path}.prefix`, 'must be a boolean');
      return {
        kind: k,
        id,
        ...(anyOf !== undefined && { anyOf }),
        ...(allOf !== undefined && { allOf }),
        ...(r.prefix !== undefined && { prefix: r.prefix as boolean }),
      };
    }
    case 'timeWindows':
      return {
        kind: k,
        id,
        utcOffsetMinutes: integerIn(r.utcOffsetMinutes, `${path}.utcOffsetMinutes`, -840, 840),
        windows: arrayOf(r.windows, `${path}.windows`, windowAt, true),
      };
    case 'antiPassback': {
      const min = r.minReentrySeconds;
      if (typeof min !== 'number' || !Number.isFinite(min) || min < 0) {
        fail(`${path}.minReentrySeconds`, 'must be a finite number ≥ 0');
      }
      if (r.strictExit !== undefined && typeof r.strictExit !== 'boolean') {
        fail(`${path}.strictExit`, 'must be a boolean');
      }
      return {
        kind: k,
        id,
        zone: nonEmptyString(r.zone, `${path}.zone`),
        minReentrySeconds: min,
        ...(r.strictExit !== undefined && { strictExit: r.strictExit as boolean }),
      };
    }
    case 'scene':
      if (r.allowMissing !== undefined && typeof r.allowMissing !== 'boolean') {
        fail(`${path}.allowMissing`, 'must be a boolean');
      }
      return {
        kind: k,
        id,
        require: arrayOf(
          r.require,
          `${path}.require`,
          (v, p) => integerIn(v, p, 0, Number.MAX_SAFE_INTEGER),
          true,
        ),
        ...(r.allowMissing !== undefined && { allowMissing: r.allowMissing as boolean }),
      };
  }
}

/**
 * Checks untrusted policy JSON (already parsed) and returns a fresh {@link ReaderPolicy}, sharing nothing
 * with the input. Unknown properties, unknown rule kinds, duplicate rule ids, empty lists, bad times
 * (`'HH:MM'`), days outside 0–6 and the like are rejected.
 *
 * @throws `PolicyInvalidError` (a `VerifierError`, code `ERR_POLICY_INVALID`) whose `path` names the bad
 *   value, e.g. `rules[2].windows[0].start`.
 *
 * @example
 * ```ts
 * const policy = validatePolicy(JSON.parse(await readFile('policy.json', 'utf8')));
 * ```
 */
export function validatePolicy(value: unknown): ReaderPolicy {
  const p = objectAt(value, '');
  onlyKeys(p, ['id', 'rules'], '');
  const id = nonEmptyString(p.id, 'id');
  const rules = arrayOf(p.rules, 'rules', ruleAt, false);
  const seen = new Set<string>();
  rules.forEach((rule, i) => {
    if (seen.has(rule.id)) fail(`rules[${i}].id`, `duplicate rule id "${rule.id}"`);
    seen.add(rule.id);
  });
  return { id, rules };
}
