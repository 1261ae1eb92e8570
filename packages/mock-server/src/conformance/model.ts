/**
 * The conformance suite's model, after the OpenID Foundation conformance suite: a **test plan**
 * (verifier, gate, POS, webhook receiver) is made of **modules**; each module runs **conditions**;
 * each condition checks one requirement and cites the spec section it comes from.
 *
 * @module
 */

/**
 * The result of one condition.
 *
 * - `PASSED`: the product does what the spec requires.
 * - `FAILED`: it does not (a conformance failure; the run exits non-zero unless the failure is listed
 *   in the expected-failures file).
 * - `WARNING`: the security outcome is right but something the spec recommends is not (e.g. a denial
 *   with another reason code than the one expected).
 * - `SKIPPED`: not applicable to this product (e.g. an optional capability it does not declare).
 */
export type ConditionStatus = 'PASSED' | 'FAILED' | 'WARNING' | 'SKIPPED';

/** What a condition checks, as shown in reports. */
export interface ConditionMeta {
  /** Stable id, unique within its module, kebab-case (`second-scan-replayed`). */
  readonly id: string;
  /** One line saying what is required. */
  readonly title: string;
  /** Spec sections it checks, e.g. `['token-format §7.3']` or `['issue 7 §2']`. */
  readonly spec: readonly string[];
}

/** The verdict a condition function returns. */
export interface Verdict {
  readonly status: ConditionStatus;
  /** Why (required for FAILED, WARNING and SKIPPED). */
  readonly message?: string;
}

/** A documented, known deviation that turns a FAILED condition into an expected failure. */
export interface ExpectedFailure {
  readonly plan: string;
  readonly module: string;
  readonly condition: string;
  /** Why the deviation is known and accepted (shown in the report). */
  readonly reason: string;
}

/** One condition's outcome in a report. */
export interface ConditionResult extends ConditionMeta {
  readonly status: ConditionStatus;
  readonly message?: string;
  /** Set when the condition FAILED and the expected-failures file lists it. */
  readonly expectedFailure?: { readonly reason: string };
  /** Milliseconds. */
  readonly durationMs: number;
}

/** One module's outcome. */
export interface ModuleResult {
  readonly id: string;
  readonly title: string;
  /** The worst status of its conditions (expected failures count as PASSED here). */
  readonly status: ConditionStatus;
  readonly conditions: readonly ConditionResult[];
  readonly durationMs: number;
}

/** Number of conditions of each status; `expectedFailures` are FAILED ones the file lists. */
export interface Counts {
  PASSED: number;
  FAILED: number;
  WARNING: number;
  SKIPPED: number;
  expectedFailures: number;
}

/** One plan's outcome. */
export interface PlanResult {
  readonly plan: string;
  readonly title: string;
  /** How the product was reached (a command, a URL, or `builtin`). */
  readonly target: string;
  readonly status: ConditionStatus;
  readonly counts: Counts;
  readonly modules: readonly ModuleResult[];
  /** RFC 3339. */
  readonly startedAt: string;
  readonly durationMs: number;
  /** Harness or device details reported by the product (name, version, capabilities). */
  readonly product?: Readonly<Record<string, unknown>>;
}

/**
 * A run's status: the worst of its plans', or `ERROR` when the suite could not run (see
 * {@link Report.error}): no verdict on the product.
 */
export type ReportStatus = ConditionStatus | 'ERROR';

/** Why the suite could not run (the harness or device did not start, the mock platform failed…). */
export interface RunError {
  /** The plan that was to run. */
  readonly plan: string;
  /** How the product was to be reached (a command, a URL, or `builtin`). */
  readonly target: string;
  /** What went wrong, as the suite saw it (the harness's last stderr lines included). */
  readonly message: string;
}

/** A whole run: one or more plans. */
export interface Report {
  readonly suite: 'campus-card-conformance';
  readonly version: string;
  /**
   * The worst status of the plans; `ERROR` (with {@link Report.error}, no plan, zero counts) when
   * the suite could not run. `ERROR` is new in suite version 0.2.0: a run that could not run used
   * to write no report.
   */
  readonly status: ReportStatus;
  readonly counts: Counts;
  readonly plans: readonly PlanResult[];
  /** Entries of the expected-failures file that matched no FAILED condition (stale entries). */
  readonly unusedExpectedFailures: readonly ExpectedFailure[];
  /** Set (and `status` is `ERROR`) when the suite could not run: why. */
  readonly error?: RunError;
}

/** A progress event, for a terminal display. */
export type ProgressEvent =
  | { readonly type: 'plan-start'; readonly plan: string; readonly modules: number }
  | { readonly type: 'module-start'; readonly plan: string; readonly module: string; readonly index: number }
  | {
      readonly type: 'condition';
      readonly plan: string;
      readonly module: string;
      readonly result: ConditionResult;
    }
  | { readonly type: 'module-end'; readonly plan: string; readonly result: ModuleResult }
  | { readonly type: 'plan-end'; readonly result: PlanResult };

const RANK: Readonly<Record<ConditionStatus, number>> = { SKIPPED: 0, PASSED: 1, WARNING: 2, FAILED: 3 };

/** The worse of two statuses (FAILED > WARNING > PASSED > SKIPPED). */
export function worse(a: ConditionStatus, b: ConditionStatus): ConditionStatus {
  return RANK[a] >= RANK[b] ? a : b;
}

/** The status a result counts as for its module and plan: an expected failure counts as PASSED. */
export function effectiveStatus(r: ConditionResult): ConditionStatus {
  return r.status === 'FAILED' && r.expectedFailure !== undefined ? 'PASSED' : r.status;
}

/** Empty {@link Counts}. */
export function emptyCounts(): Counts {
  return { PASSED: 0, FAILED: 0, WARNING: 0, SKIPPED: 0, expectedFailures: 0 };
}

/** Adds `b` into `a`. */
export function addCounts(a: Counts, b: Counts): Counts {
  a.PASSED += b.PASSED;
  a.FAILED += b.FAILED;
  a.WARNING += b.WARNING;
  a.SKIPPED += b.SKIPPED;
  a.expectedFailures += b.expectedFailures;
  return a;
}

/** Verdict helpers. */
export const passed = (message?: string): Verdict =>
  message === undefined ? { status: 'PASSED' } : { status: 'PASSED', message };
/** A FAILED verdict. */
export const failed = (message: string): Verdict => ({ status: 'FAILED', message });
/** A WARNING verdict. */
export const warning = (message: string): Verdict => ({ status: 'WARNING', message });
/** A SKIPPED verdict. */
export const skipped = (message: string): Verdict => ({ status: 'SKIPPED', message });
