/**
 * The expected-failures file: known deviations a vendor documents, as the OpenID conformance
 * suite allows. A listed FAILED condition is reported as an expected failure and does not fail the run.
 *
 * File format (JSON): an array of `{ "plan", "module", "condition", "reason" }`, or an object
 * `{ "expectedFailures": [...] }`.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import type { ExpectedFailure } from './model.js';

/** The plans an entry may name (the verifier plan and the device plans). */
export const PLAN_NAMES: readonly string[] = ['verifier', 'gate', 'pos', 'webhook'];

/**
 * Validates parsed JSON as a list of expected failures.
 *
 * @throws `TypeError` naming the first bad entry.
 */
export function parseExpectedFailures(value: unknown): ExpectedFailure[] {
  const list =
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as { expectedFailures?: unknown }).expectedFailures
      : value;
  if (!Array.isArray(list)) throw new TypeError('expected failures: an array (or { expectedFailures: [] })');
  return list.map((entry: unknown, i) => {
    const e = entry as Record<string, unknown> | null;
    for (const field of ['plan', 'module', 'condition', 'reason'] as const) {
      if (typeof e?.[field] !== 'string' || (e[field] as string).length === 0) {
        throw new TypeError(`expected failures: entry ${i} needs a non-empty string "${field}"`);
      }
    }
    const ok = e as Record<'plan' | 'module' | 'condition' | 'reason', string>;
    // a misspelt plan would match nothing, and the run would fail on the deviation it documents
    if (!PLAN_NAMES.includes(ok.plan)) {
      throw new TypeError(
        `expected failures: entry ${i} names plan "${ok.plan}"; the plans are ${PLAN_NAMES.join(', ')}`,
      );
    }
    return { plan: ok.plan, module: ok.module, condition: ok.condition, reason: ok.reason };
  });
}

/** Reads and validates an expected-failures file. */
export async function loadExpectedFailures(path: string): Promise<ExpectedFailure[]> {
  return parseExpectedFailures(JSON.parse(await readFile(path, 'utf8')) as unknown);
}
