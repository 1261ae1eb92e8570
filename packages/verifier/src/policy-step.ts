/**
 * Step 6 of spec §5.3: the reader's policy, evaluated with `./policy/` and the verifier's
 * anti-passback state.
 *
 * @module
 */
import type { Role } from '@campus-card/core';
import type { PresentationMode } from './decision.js';
import { evaluatePolicy } from './policy/evaluate-policy.js';
import type { PassbackState } from './policy/passback-state.js';
import type { Direction, ReaderPolicy } from './policy/policy.js';
import { validatePolicy } from './policy/validate-policy.js';

/** What a policy sees of a card whose signatures, time and status checked out. */
export interface PolicySubject {
  readonly school: string;
  readonly cardId: string;
  readonly role: Role;
  readonly groups: readonly string[];
  readonly mode: PresentationMode;
  readonly scene: number | undefined;
}

/** The reader a scan happens at. */
export interface ReaderContext {
  /** The reader's id (for logs and events). */
  readonly id: string;
  /**
   * The reader's policy: plain JSON data (`ReaderPolicy`), checked with `validatePolicy` the first
   * time this object is seen (an invalid policy denies every scan with `INTERNAL_ERROR`). No policy
   * admits every valid card. A valid policy is frozen, deeply, once checked: what was checked is what
   * applies, so change a reader's policy by passing a new object (an edit in place throws in strict
   * mode instead of being silently ignored).
   */
  readonly policy?: ReaderPolicy | undefined;
  /** Direction of passage, required by `antiPassback` rules. */
  readonly direction?: Direction | undefined;
  /** The zone the reader guards (informational; anti-passback rules name their zone). */
  readonly zone?: string | undefined;
}

/** The outcome of the policy step. */
export type PolicyStepOutcome =
  | { readonly ok: true; commit(): void }
  | { readonly ok: false; readonly rule: string; readonly kind: string; readonly detail: string };

/** Evaluates the reader's policy for `subject` at `now`. Throws for an invalid policy. */
export type PolicyEvaluator = (
  subject: PolicySubject,
  reader: ReaderContext,
  now: number,
) => PolicyStepOutcome;

const ADMIT: PolicyStepOutcome = { ok: true, commit() {} };

/**
 * Freezes `value` and everything it holds (plain JSON data). An object found already frozen is
 * walked into all the same: `Object.freeze({ id, rules })` freezes only the top, and its rules must
 * not stay editable behind the cached checked copy. `seen` guards against cycles.
 */
function deepFreeze(value: unknown, seen: Set<object> = new Set()): void {
  if (typeof value !== 'object' || value === null || seen.has(value)) return;
  seen.add(value);
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v, seen);
}

/**
 * The default evaluator: `validatePolicy` once per policy object (cached in a `WeakMap`, the object
 * then frozen so that the checked copy stays what it holds), then `evaluatePolicy` with the reader's
 * direction and the verifier's `passback` state. An invalid policy is checked again at every scan
 * (it may be fixed in place), and denies each one.
 */
export function createPolicyEvaluator(passback: PassbackState): PolicyEvaluator {
  const validated = new WeakMap<object, ReaderPolicy>();
  return (subject, reader, now) => {
    const raw: unknown = reader.policy;
    if (raw === undefined) return ADMIT;
    let policy = typeof raw === 'object' && raw !== null ? validated.get(raw) : undefined;
    if (policy === undefined) {
      try {
        policy = validatePolicy(raw);
      } catch (error) {
        throw new Error(`invalid reader policy: ${error instanceof Error ? error.message : String(error)}`);
      }
      deepFreeze(raw);
      validated.set(raw as object, policy);
    }
    return evaluatePolicy(
      policy,
      {
        school: subject.school,
        role: subject.role,
        cardId: subject.cardId,
        groups: subject.groups,
        scene: subject.scene,
        mode: subject.mode,
      },
      reader.direction === undefined ? { now, passback } : { now, direction: reader.direction, passback },
    );
  };
}
