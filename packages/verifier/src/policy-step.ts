/**
 * Step 6 of spec §5.3: the reader's policies. Adapter between the verifier and `./policy/`.
 *
 * @module
 */
import type { Role } from '@campus-card/core';
import type { PresentationMode } from './decision.js';

/** What a policy sees of an admitted-so-far card. */
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
  /** The reader's id (logged; also keys anti-passback state per reader when zones are not used). */
  readonly id: string;
  /** The reader's policy (plain JSON data), if any. No policy admits every valid card. */
  readonly policy?: unknown;
  /** Direction of passage, for anti-passback. */
  readonly direction?: 'in' | 'out';
  /** The zone the reader guards, for anti-passback. */
  readonly zone?: string;
}

/** The outcome of the policy step. */
export type PolicyStepOutcome =
  | { readonly ok: true; commit(): void }
  | { readonly ok: false; readonly rule: string; readonly kind: string; readonly detail: string };

const ADMIT: PolicyStepOutcome = { ok: true, commit() {} };

/** Evaluates the reader's policy for `subject` at `now`. */
export type PolicyEvaluator = (
  subject: PolicySubject,
  reader: ReaderContext,
  now: number,
) => PolicyStepOutcome;

/** The evaluator used when no policy module is wired: admits everyone when `reader.policy` is absent. */
export const noPolicy: PolicyEvaluator = (_subject, reader) =>
  reader.policy === undefined
    ? ADMIT
    : { ok: false, rule: 'policy', kind: 'unsupported', detail: 'policies are not supported by this build' };
