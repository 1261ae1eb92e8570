/**
 * Seeded fault injection, scoped to a device (or any principal) and/or a route.
 *
 * @module
 */
import type { FaultRule } from '@campus-card/core/api';

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
   * without, rule `i` goes on with the stream rule `i` had, also after {@link FaultInjector.clear}.
   */
  set(rules: readonly FaultRule[], seed?: number): void;
  /** Removes every rule (each position's stream is kept for a later `set` without a seed). */
  clear(): void;
  /** The current rules. */
  rules(): readonly FaultRule[];
  /** Returns the first matching rule of that kind that fires (consuming one of its `count`). */
  fire(kind: FaultRule['kind'], site: FaultSite): FaultRule | undefined;
  /**
   * What {@link FaultInjector.fire} would return, for a fault decided before it is known whether
   * the call counts (a `clock_skew` decided before the signature that names the device is checked:
   * a forged request must not use the device's rule up). The decision is reserved at once (the
   * rule's `count`, the draws of the streams), so decisions made while it is open (concurrent
   * requests) see it: `commit()` keeps it, as `fire` would have, and `release()` gives it back.
   * Every decision must end in one of the two. `undefined` when no rule of that kind matches the
   * site.
   */
  decide(kind: FaultRule['kind'], site: FaultSite): FaultDecision | undefined;
}

/** A fault decision of {@link FaultInjector.decide}, reserved until committed or released. */
export interface FaultDecision {
  /** The rule that fires, if any. */
  readonly rule: FaultRule | undefined;
  /** Keeps the decision (once; a decision committed or released already is left as it is). */
  commit(): void;
  /**
   * Gives the decision back (once; nothing after `commit()`): the rule's `count` is restored,
   * and each stream it drew on goes back to where it was, unless a later decision drew on it
   * since (concurrent calls), in which case that draw stays used. Rules replaced since take
   * nothing back.
   */
  release(): void;
}

/** One step of mulberry32 (lib/rng.ts) from `state`: the value in [0, 1) and the next state. */
function draw(state: number): { value: number; next: number } {
  const next = (state + 0x6d2b79f5) >>> 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return { value: ((t ^ (t >>> 14)) >>> 0) / 4294967296, next };
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
  // the state of each position's mulberry32 stream (seeded by ruleSeed): kept when the rules are
  // replaced without a seed or cleared, so a later set() without a seed goes on where it stopped
  let streams: number[] = [];
  let rules: { rule: FaultRule; left: number; index: number }[] = [];
  const streamOf = (index: number): number => streams[index] ?? ruleSeed(currentSeed, index);
  function decide(kind: FaultRule['kind'], site: FaultSite): FaultDecision | undefined {
    if (rules.length === 0) return undefined;
    const current = rules;
    const currentStreams = streams;
    let matched = false;
    let fired: (typeof rules)[number] | undefined;
    const drawn: { index: number; from: number; next: number }[] = [];
    for (const r of current) {
      if (r.rule.kind !== kind || r.left <= 0 || !matches(r.rule, site)) continue;
      matched = true;
      const probability = r.rule.probability ?? 1;
      if (probability >= 1) {
        fired = r;
        break;
      }
      if (probability <= 0) continue;
      const from = streamOf(r.index);
      const d = draw(from);
      streams[r.index] = d.next;
      drawn.push({ index: r.index, from, next: d.next });
      if (d.value < probability) {
        fired = r;
        break;
      }
    }
    if (!matched) return undefined;
    // reserved now: a decision made before this one ends sees the count and the draws it took
    if (fired !== undefined) fired.left -= 1;
    let open = true;
    return {
      rule: fired?.rule,
      commit() {
        open = false;
      },
      release() {
        if (!open) return;
        open = false;
        if (fired !== undefined && rules === current) fired.left += 1;
        if (streams !== currentStreams) return;
        for (const x of drawn.reverse()) if (streams[x.index] === x.next) streams[x.index] = x.from;
      },
    };
  }
  return {
    set(next, newSeed) {
      // without a new seed, rule i goes on with the stream position i had (a fresh one if none)
      if (newSeed !== undefined) {
        currentSeed = newSeed;
        streams = [];
      }
      rules = next.map((rule, index) => ({ rule, left: rule.count ?? Number.POSITIVE_INFINITY, index }));
    },
    clear() {
      rules = [];
    },
    rules: () => rules.map((r) => r.rule),
    fire(kind, site) {
      const d = decide(kind, site);
      d?.commit();
      return d?.rule;
    },
    decide,
  };
}
