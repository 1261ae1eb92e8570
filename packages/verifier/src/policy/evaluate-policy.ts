/**
 * Evaluates a reader policy for one scan: offline, deterministic, without side effects until `commit()`.
 *
 * @module
 */
import { ROLES } from '@campus-card/core';
import type { PassbackState } from './passback-state.js';
import type {
  Direction,
  PolicyRule,
  PolicyRuleKind,
  PolicySubject,
  ReaderPolicy,
  TimeWindow,
} from './policy.js';

/** The scan's context. */
export interface PolicyContext {
  /** Scan time, unix seconds (the only clock a policy sees). */
  now: number;
  /** The reader's direction; required by `antiPassback` rules. */
  direction?: Direction;
  /** Anti-passback state shared by the readers of a zone; required by `antiPassback` rules. */
  passback?: PassbackState;
}

/** A pass: call `commit()` once the scan is accepted (after the replay check), to update passback state. */
export interface PolicyAllow {
  ok: true;
  /** Records the passage in the passback state (if the policy has `antiPassback` rules). Idempotent. */
  commit(): void;
}

/** A denial, naming the first rule that failed. */
export interface PolicyDeny {
  ok: false;
  /** The failed rule's `id`. */
  rule: string;
  /** The failed rule's kind. */
  kind: PolicyRuleKind;
  /** A human-readable reason, e.g. `already inside zone "library"`. */
  detail: string;
}

/** The result of {@link evaluatePolicy}. */
export type PolicyResult = PolicyAllow | PolicyDeny;

const DAY_SECONDS = 86_400;

function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

/** Whether local weekday `day` (0 = Sunday) and minute of day `minute` fall in `w`. */
function inWindow(w: TimeWindow, day: number, minute: number): boolean {
  const start = minutesOf(w.start);
  const end = minutesOf(w.end);
  if (start < end) return w.days.includes(day) && minute >= start && minute < end;
  // crosses midnight: from `start` on a listed day to `end` on the next day
  return (w.days.includes(day) && minute >= start) || (w.days.includes((day + 6) % 7) && minute < end);
}

function groupMatches(groups: readonly string[], pattern: string, prefix: boolean): boolean {
  return prefix ? groups.some((g) => g.startsWith(pattern)) : groups.includes(pattern);
}

type Pending = { zone: string; direction: Direction };

const MODES: readonly unknown[] = ['full', 'compact', 'physical'];

/**
 * What is wrong with `subject` as a {@link PolicySubject}, or `undefined` when it is one: `school`
 * and `cardId` non-empty strings, `role` one of core's `ROLES`, `groups` an array of strings, `scene`
 * absent or a non-negative integer, `mode` absent or `'full'`, `'compact'` or `'physical'`. (Internal:
 * `evaluatePolicy` and the verifier's `checkPolicy` refuse such a subject with a `TypeError`. A
 * `groups` string would be matched by `includes` as a substring.)
 */
export function subjectProblem(subject: unknown): string | undefined {
  if (typeof subject !== 'object' || subject === null) return '"subject" must be an object';
  const s = subject as Record<string, unknown>;
  for (const field of ['school', 'cardId'] as const) {
    const v = s[field];
    if (typeof v !== 'string' || v === '') return `"subject.${field}" must be a non-empty string`;
  }
  if (!(ROLES as readonly unknown[]).includes(s.role)) {
    return `"subject.role" must be one of ${ROLES.join(', ')}, got ${typeof s.role === 'string' ? JSON.stringify(s.role) : typeof s.role}`;
  }
  const groups = s.groups;
  if (!Array.isArray(groups) || !groups.every((g) => typeof g === 'string')) {
    return '"subject.groups" must be an array of strings';
  }
  const scene = s.scene;
  if (scene !== undefined && !(Number.isSafeInteger(scene) && (scene as number) >= 0)) {
    return '"subject.scene" must be a non-negative integer, or absent';
  }
  if (s.mode !== undefined && !MODES.includes(s.mode)) {
    return `"subject.mode" must be 'full', 'compact' or 'physical', or absent`;
  }
  return undefined;
}

/** Checks one rule; returns a denial detail, or `undefined` when it passes (pushing passback updates). */
function check(
  rule: PolicyRule,
  subject: PolicySubject,
  ctx: PolicyContext,
  pending: Pending[],
): string | undefined {
  switch (rule.kind) {
    case 'roles':
      return rule.allow.includes(subject.role) ? undefined : `role "${subject.role}" is not allowed`;
    case 'schools':
      return rule.allow.includes(subject.school) ? undefined : `school "${subject.school}" is not allowed`;
    case 'groups': {
      const prefix = rule.prefix === true;
      if (rule.anyOf !== undefined && rule.anyOf.length > 0) {
        if (!rule.anyOf.some((p) => groupMatches(subject.groups, p, prefix))) {
          return `none of the groups ${rule.anyOf.join(', ')}`;
        }
      }
      for (const p of rule.allOf ?? []) {
        if (!groupMatches(subject.groups, p, prefix)) return `not in group ${p}`;
      }
      return undefined;
    }
    case 'timeWindows': {
      const local = ctx.now + rule.utcOffsetMinutes * 60;
      const dayNumber = Math.floor(local / DAY_SECONDS);
      const weekday = (((dayNumber + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
      const minute = Math.floor((local - dayNumber * DAY_SECONDS) / 60);
      return rule.windows.some((w) => inWindow(w, weekday, minute))
        ? undefined
        : 'outside the allowed time windows';
    }
    case 'antiPassback': {
      const { direction, passback } = ctx;
      if (direction !== 'in' && direction !== 'out') {
        throw new TypeError(`rule "${rule.id}": anti-passback needs ctx.direction 'in' or 'out'`);
      }
      if (passback === undefined) throw new TypeError(`rule "${rule.id}": anti-passback needs ctx.passback`);
      // card ids are unique only within a school: the state is per (zone, school, card)
      const entry = passback.get(rule.zone, subject.school, subject.cardId);
      if (direction === 'in') {
        if (entry?.inside) return `already inside zone "${rule.zone}"`;
        if (entry?.lastExit !== undefined && ctx.now < entry.lastExit + rule.minReentrySeconds) {
          return `re-entry into zone "${rule.zone}" before ${rule.minReentrySeconds} s after leaving`;
        }
        if (entry === undefined && passback.isFull) return 'anti-passback state is full';
      } else if (rule.strictExit === true && !entry?.inside) {
        return `not inside zone "${rule.zone}"`;
      }
      pending.push({ zone: rule.zone, direction });
      return undefined;
    }
    case 'scene':
      if (subject.scene === undefined) {
        return subject.mode === 'physical' || rule.allowMissing === true
          ? undefined
          : `the code carries no scene; one of ${rule.require.join(', ')} is required`;
      }
      return rule.require.includes(subject.scene)
        ? undefined
        : `scene ${subject.scene} is not one of ${rule.require.join(', ')}`;
  }
}

/**
 * Evaluates `policy` for `subject` at `ctx.now`. Rules are checked in order; the first failure is
 * returned as a denial naming the rule. Evaluation **changes nothing**: on a pass, call `commit()` only
 * once the scan is finally accepted (the verifier calls it after the replay check), which records
 * anti-passback entries and exits.
 *
 * Pass a policy obtained from `validatePolicy` (evaluation trusts its shape).
 *
 * @throws `TypeError` when an `antiPassback` rule meets a context without `direction` or `passback`,
 *   `ctx.now` is not a finite number, or `subject` is not a {@link PolicySubject} (`school` and
 *   `cardId` non-empty strings, `role` a known role, `groups` an array of strings, `scene` absent or
 *   a non-negative integer, `mode` absent or a known mode), before any rule is checked.
 *
 * @example
 * ```ts
 * const result = evaluatePolicy(policy, subject, { now, direction: 'in', passback });
 * if (!result.ok) return deny(`${result.rule}: ${result.detail}`);
 * // … replay check passes …
 * result.commit();
 * ```
 */
export function evaluatePolicy(
  policy: ReaderPolicy,
  subject: PolicySubject,
  ctx: PolicyContext,
): PolicyResult {
  if (typeof ctx !== 'object' || ctx === null || typeof ctx.now !== 'number' || !Number.isFinite(ctx.now)) {
    throw new TypeError('"ctx.now" must be a finite number of unix seconds');
  }
  const problem = subjectProblem(subject);
  if (problem !== undefined) throw new TypeError(problem);
  const pending: Pending[] = [];
  for (const rule of policy.rules) {
    const detail = check(rule, subject, ctx, pending);
    if (detail !== undefined) return { ok: false, rule: rule.id, kind: rule.kind, detail };
  }
  const { passback, now } = ctx;
  const { school, cardId } = subject;
  let committed = false;
  return {
    ok: true,
    commit() {
      if (committed) return;
      committed = true;
      for (const p of pending) passback?.record(p.zone, school, cardId, p.direction, now);
    },
  };
}
