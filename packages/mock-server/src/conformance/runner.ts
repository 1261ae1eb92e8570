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

/** The suite's version, written into reports. */
export const SUITE_VERSION = '0.1.0';

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
  /** Run only modules whose id is listed. */
  readonly modules?: readonly string[];
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

/** Runs `plan` against `target`. Never throws for a product failure: that is a FAILED condition. */
export async function runPlan<T>(plan: PlanDef<T>, target: T, options: RunPlanOptions): Promise<PlanResult> {
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const expected = options.expectedFailures ?? [];
  const emit = options.onProgress ?? (() => {});
  const selected =
    options.modules === undefined
      ? plan.modules
      : plan.modules.filter((m) => options.modules?.includes(m.id));
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
    try {
      await mod.run(ctx, target);
    } catch (error) {
      push(
        { id: 'module-completed', title: 'The module ran to its end', spec: [] },
        { status: 'FAILED', message: `module aborted: ${message(error)}` },
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

/** The process exit code for a report: 1 when any condition FAILED (expected failures excepted). */
export function exitCodeOf(report: Report): number {
  return report.counts.FAILED > 0 ? 1 : 0;
}
