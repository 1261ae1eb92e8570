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
  /** Replaces the rules (and reseeds when a seed is given). */
  set(rules: readonly FaultRule[], seed?: number): void;
  /** Removes every rule. */
  clear(): void;
  /** The current rules. */
  rules(): readonly FaultRule[];
  /** Returns the first matching rule of that kind that fires (consuming one of its `count`). */
  fire(kind: FaultRule['kind'], site: FaultSite): FaultRule | undefined;
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
    const byPath = site.path !== undefined && r.startsWith('/') && site.path.startsWith(r);
    if (!byOp && !byPath) return false;
  }
  return true;
}

/** Creates a fault injector seeded with `seed`. */
export function createFaultInjector(seed = 1): FaultInjector {
  let rng: Rng = createRng(seed);
  let rules: { rule: FaultRule; left: number }[] = [];
  return {
    set(next, newSeed) {
      if (newSeed !== undefined) rng = createRng(newSeed);
      rules = next.map((rule) => ({ rule, left: rule.count ?? Number.POSITIVE_INFINITY }));
    },
    clear() {
      rules = [];
    },
    rules: () => rules.map((r) => r.rule),
    fire(kind, site) {
      if (rules.length === 0) return undefined;
      for (const r of rules) {
        if (r.rule.kind !== kind || r.left <= 0 || !matches(r.rule, site)) continue;
        if (rng() < (r.rule.probability ?? 1)) {
          r.left -= 1;
          return r.rule;
        }
      }
      return undefined;
    },
  };
}
