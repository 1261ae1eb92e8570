/**
 * Seeded fault injection, scoped to a device (or any principal) and/or a route.
 *
 * @module
 */
import type { FaultRule } from '@campus-card/core/api';
import { createRng, type Rng } from './rng.js';

/** Where a fault may fire. */
export interface FaultSite {
  /** The calling principal (device, merchant, operator), or a push's subscription owner. */
  readonly principalId?: string | undefined;
  /** A push's subscription id: a rule's `device_id` matches it as well as the owner. */
  readonly subscriptionId?: string | undefined;
  /** The operation id of the route. */
  readonly operationId?: string | undefined;
  /** The request path. */
  readonly path?: string | undefined;
}

/** The fault injector. */
export interface FaultInjector {
  /**
   * Replaces the rules. With a seed, every rule starts its stream afresh from (seed, its index);
   * without, rule `i` goes on with the stream rule `i` had.
   */
  set(rules: readonly FaultRule[], seed?: number): void;
  /** Removes every rule. */
  clear(): void;
  /** The current rules. */
  rules(): readonly FaultRule[];
  /** Returns the first matching rule of that kind that fires (consuming one of its `count`). */
  fire(kind: FaultRule['kind'], site: FaultSite): FaultRule | undefined;
}

/**
 * Whether request target `path` lies under the path prefix `prefix`, on segment boundaries:
 * `/v1/payments/P1` covers `/v1/payments/P1`, `/v1/payments/P1/reverse` and `/v1/payments/P1?x`,
 * not `/v1/payments/P10`. A prefix ending in `/` covers what lies below it.
 */
function underPath(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  if (path.length === prefix.length || prefix.endsWith('/')) return true;
  const next = path[prefix.length];
  return next === '/' || next === '?';
}

function matches(rule: FaultRule, site: FaultSite): boolean {
  if (
    rule.device_id !== undefined &&
    rule.device_id !== site.principalId &&
    rule.device_id !== site.subscriptionId
  ) {
    return false;
  }
  if (rule.route !== undefined) {
    const r = rule.route;
    const byOp = site.operationId === r;
    const byPath = site.path !== undefined && r.startsWith('/') && underPath(site.path, r);
    if (!byOp && !byPath) return false;
  }
  return true;
}

/**
 * The seed of rule `index`'s random stream: `seed` for the first rule, then steps of the golden
 * ratio (0x9E3779B9). Each step puts a stream at least 800 000 draws away from every other rule's
 * within the first 1 024 rules (mulberry32 advances its state by a constant per draw).
 */
export function ruleSeed(seed: number, index: number): number {
  return (seed + Math.imul(index, 0x9e3779b9)) >>> 0;
}

/**
 * Creates a fault injector seeded with `seed`.
 *
 * Each rule draws from a stream of its own, seeded from (seed, rule index) by {@link ruleSeed},
 * and only when it matches the site and its `probability` is below 1 (a certain or impossible rule
 * draws nothing). So a rule's outcomes depend only on the calls in its own scope: traffic of
 * another device, or a rule of another kind, never shifts them.
 */
export function createFaultInjector(seed = 1): FaultInjector {
  let currentSeed = seed;
  let rules: { rule: FaultRule; left: number; rng: Rng }[] = [];
  return {
    set(next, newSeed) {
      // without a new seed, rule i goes on with the stream it had (a fresh one if it is new)
      const kept = newSeed === undefined ? rules : [];
      if (newSeed !== undefined) currentSeed = newSeed;
      rules = next.map((rule, i) => ({
        rule,
        left: rule.count ?? Number.POSITIVE_INFINITY,
        rng: kept[i]?.rng ?? createRng(ruleSeed(currentSeed, i)),
      }));
    },
    clear() {
      rules = [];
    },
    rules: () => rules.map((r) => r.rule),
    fire(kind, site) {
      if (rules.length === 0) return undefined;
      for (const r of rules) {
        if (r.rule.kind !== kind || r.left <= 0 || !matches(r.rule, site)) continue;
        const probability = r.rule.probability ?? 1;
        if (probability >= 1 || (probability > 0 && r.rng() < probability)) {
          r.left -= 1;
          return r.rule;
        }
      }
      return undefined;
    },
  };
}
