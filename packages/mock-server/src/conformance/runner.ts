/**
 * Runs test plans: modules in order, conditions in order, each timed, with expected failures
 * applied and progress reported.
 *
 * @module
 */
import {
  addCounts,
  type ConditionMeta,
  type ConditionResult,
  type ConditionStatus,
  type Counts,
  type ExpectedFailure,
  effectiveStatus,
  emptyCounts,
  type ModuleResult,
  type PlanResult,
  type ProgressEvent,
  type Report,
  type Verdict,
  worse,
} from './model.js';

/** The suite's version, written into reports (0.2.0: a run that could not run reports `ERROR`). */
export const SUITE_VERSION = '0.2.0';

/**
 * The exit codes of `campus-card-conformance`, so that a CI pipeline tells a product that failed
 * from a suite that could not judge it:
 *
 * - `passed` 0: no condition FAILED (warnings, skips and expected failures allowed);
 * - `failed` 1: a condition FAILED: the product's fault;
 * - `usage` 2: the command line is wrong (an unknown option, plan or module, a bad `--timeout`,
 *   an unreadable `--expected-failures` or `--vectors`, an `--out` folder that takes no file),
 *   found before anything starts;
 * - `notRun` 3: the suite could not run, or not finish: the harness or device did not start or
 *   could not be reached before the first condition, the mock platform did not start, the
 *   suite's own vectors were not found, the reports could not be written, or the suite failed.
 *   With `--out`, the reports say why (status `ERROR`) when they can be written.
 *
 * A run stopped by SIGINT, SIGTERM or SIGHUP exits 130, 143 or 129 (128 + the signal's number).
 */
export const EXIT_CODES = { passed: 0, failed: 1, usage: 2, notRun: 3 } as const;

/** What a module sees while it runs. */
export interface ModuleContext {
  /**
   * Runs one condition. A thrown error is a FAILED verdict with the error's message. Returns the
   * verdict so that later conditions can depend on it.
   */
  check(meta: ConditionMeta, fn: () => Verdict | Promise<Verdict>): Promise<Verdict>;
  /** Records a condition as SKIPPED without running it. */
  skip(meta: ConditionMeta, reason: string): void;
}

/** A module: a scenario with its conditions. `T` is what it drives (a harness, a device). */
export interface ModuleDef<T> {
  readonly id: string;
  readonly title: string;
  /**
   * The conditions the module checks, in order, when it knows them up front. A declared condition
   * the run did not record (the module stopped early: a device that crashed at its first command)
   * is reported FAILED, `not checked: …`, so that a report lists every condition of the module
   * whatever happened, under its stable id, and a CI dashboard sees it fail rather than vanish.
   */
  readonly conditions?: readonly ConditionMeta[];
  run(ctx: ModuleContext, target: T): Promise<void>;
}

/** A test plan. */
export interface PlanDef<T> {
  readonly id: string;
  readonly title: string;
  readonly modules: readonly ModuleDef<T>[];
}

/** Options of {@link runPlan}. */
export interface RunPlanOptions {
  /** Shown in the report: the command, URL or `builtin`. */
  readonly targetLabel: string;
  readonly expectedFailures?: readonly ExpectedFailure[];
  readonly onProgress?: (event: ProgressEvent) => void;
  /** Details the product reported about itself. */
  readonly product?: Readonly<Record<string, unknown>>;
  /**
   * Run only the modules whose id is listed (in the plan's order). Every id must name a module of
   * the plan, else {@link runPlan} throws an {@link UnknownModuleError} and runs nothing.
   */
  readonly modules?: readonly string[];
}

/**
 * A module selection that names no module of the plan (a typo such as `replya`), or selects none:
 * a usage error. Running the rest would report a plan that checked nothing as passed.
 */
export class UnknownModuleError extends Error {
  /** The plan's id. */
  readonly plan: string;
  /** The selected ids the plan does not have. */
  readonly unknown: readonly string[];
  /** The plan's module ids, in order. */
  readonly valid: readonly string[];

  constructor(plan: string, unknown: readonly string[], valid: readonly string[]) {
    super(
      `${
        unknown.length === 0
          ? `no module of plan ${plan} selected`
          : `unknown module${unknown.length === 1 ? '' : 's'} ${unknown.map((m) => `"${m}"`).join(', ')} for plan ${plan}`
      }; the plan's modules: ${valid.join(', ')}`,
    );
    this.name = 'UnknownModuleError';
    this.plan = plan;
    this.unknown = unknown;
    this.valid = valid;
  }
}

/**
 * The modules of `plan` that `ids` selects, in the plan's order; every module when `ids` is
 * undefined.
 *
 * @throws {@link UnknownModuleError} when an id names no module of the plan, or `ids` is empty.
 */
export function selectModules<M extends { readonly id: string }>(
  plan: { readonly id: string; readonly modules: readonly M[] },
  ids: readonly string[] | undefined,
): readonly M[] {
  if (ids === undefined) return plan.modules;
  const valid = plan.modules.map((m) => m.id);
  const unknown = [...new Set(ids.filter((id) => !valid.includes(id)))];
  if (unknown.length > 0 || ids.length === 0) throw new UnknownModuleError(plan.id, unknown, valid);
  return plan.modules.filter((m) => ids.includes(m.id));
}

function countOf(results: readonly ConditionResult[]): Counts {
  const c = emptyCounts();
  for (const r of results) {
    if (r.status === 'FAILED' && r.expectedFailure !== undefined) c.expectedFailures += 1;
    else c[r.status] += 1;
  }
  return c;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs `plan` against `target`. Never throws for a product failure: that is a FAILED condition.
 *
 * @throws {@link UnknownModuleError} (before anything runs) when `options.modules` names a module
 * the plan does not have.
 */
export async function runPlan<T>(plan: PlanDef<T>, target: T, options: RunPlanOptions): Promise<PlanResult> {
  const selected = selectModules(plan, options.modules);
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const expected = options.expectedFailures ?? [];
  const emit = options.onProgress ?? (() => {});
  emit({ type: 'plan-start', plan: plan.id, modules: selected.length });
  const modules: ModuleResult[] = [];
  let index = 0;
  for (const mod of selected) {
    emit({ type: 'module-start', plan: plan.id, module: mod.id, index: index++ });
    const moduleStarted = Date.now();
    const results: ConditionResult[] = [];
    const push = (meta: ConditionMeta, verdict: Verdict, durationMs: number) => {
      const exp =
        verdict.status === 'FAILED'
          ? expected.find((e) => e.plan === plan.id && e.module === mod.id && e.condition === meta.id)
          : undefined;
      const result: ConditionResult = {
        id: meta.id,
        title: meta.title,
        spec: meta.spec,
        status: verdict.status,
        ...(verdict.message === undefined ? {} : { message: verdict.message }),
        ...(exp === undefined ? {} : { expectedFailure: { reason: exp.reason } }),
        durationMs,
      };
      results.push(result);
      emit({ type: 'condition', plan: plan.id, module: mod.id, result });
    };
    const ctx: ModuleContext = {
      async check(meta, fn) {
        const t0 = performance.now();
        let verdict: Verdict;
        try {
          verdict = await fn();
        } catch (error) {
          verdict = { status: 'FAILED', message: `error: ${message(error)}` };
        }
        push(meta, verdict, Math.round((performance.now() - t0) * 10) / 10);
        return verdict;
      },
      skip(meta, reason) {
        push(meta, { status: 'SKIPPED', message: reason }, 0);
      },
    };
    let aborted: string | undefined;
    try {
      await mod.run(ctx, target);
    } catch (error) {
      aborted = `module aborted: ${message(error)}`;
    }
    for (const meta of mod.conditions ?? []) {
      if (results.some((r) => r.id === meta.id)) continue;
      push(
        meta,
        {
          status: 'FAILED',
          message:
            aborted === undefined
              ? 'not checked: the module ended without checking it'
              : `not checked: the module stopped before it (${aborted})`,
        },
        0,
      );
    }
    if (aborted !== undefined) {
      push(
        { id: 'module-completed', title: 'The module ran to its end', spec: [] },
        { status: 'FAILED', message: aborted },
        0,
      );
    }
    let status: ConditionStatus = 'SKIPPED';
    for (const r of results) status = worse(status, effectiveStatus(r));
    const result: ModuleResult = {
      id: mod.id,
      title: mod.title,
      status,
      conditions: results,
      durationMs: Date.now() - moduleStarted,
    };
    modules.push(result);
    emit({ type: 'module-end', plan: plan.id, result });
  }
  const counts = emptyCounts();
  let status: ConditionStatus = 'SKIPPED';
  for (const m of modules) {
    addCounts(counts, countOf(m.conditions));
    status = worse(status, m.status);
  }
  const result: PlanResult = {
    plan: plan.id,
    title: plan.title,
    target: options.targetLabel,
    status,
    counts,
    modules,
    startedAt,
    durationMs: Date.now() - started,
    ...(options.product === undefined ? {} : { product: options.product }),
  };
  emit({ type: 'plan-end', result });
  return result;
}

/** Combines plan results into a {@link Report}, listing expected failures that matched nothing. */
export function buildReport(plans: readonly PlanResult[], expected: readonly ExpectedFailure[] = []): Report {
  const counts = emptyCounts();
  let status: ConditionStatus = 'SKIPPED';
  for (const p of plans) {
    addCounts(counts, p.counts);
    status = worse(status, p.status);
  }
  const used = (e: ExpectedFailure) =>
    plans.some(
      (p) =>
        p.plan === e.plan &&
        p.modules.some(
          (m) =>
            m.id === e.module &&
            m.conditions.some((c) => c.id === e.condition && c.expectedFailure !== undefined),
        ),
    );
  const ran = (e: ExpectedFailure) => plans.some((p) => p.plan === e.plan);
  return {
    suite: 'campus-card-conformance',
    version: SUITE_VERSION,
    status,
    counts,
    plans,
    unusedExpectedFailures: expected.filter((e) => ran(e) && !used(e)),
  };
}

/**
 * A report of a run the suite could not run: status `ERROR`, no plan, zero counts, and
 * {@link Report.error} saying why.
 */
export function buildNotRunReport(plan: string, target: string, message: string): Report {
  return {
    suite: 'campus-card-conformance',
    version: SUITE_VERSION,
    status: 'ERROR',
    counts: emptyCounts(),
    plans: [],
    unusedExpectedFailures: [],
    error: { plan, target, message },
  };
}

/**
 * The process exit code for a report (see {@link EXIT_CODES}): 3 when the suite could not run
 * (status `ERROR`), 1 when any condition FAILED (expected failures excepted), else 0.
 */
export function exitCodeOf(report: Report): number {
  if (report.status === 'ERROR') return EXIT_CODES.notRun;
  return report.counts.FAILED > 0 ? EXIT_CODES.failed : EXIT_CODES.passed;
}
