/**
 * Meta and admin handlers: health, the virtual clock, faults, the recording, issuer key rotation.
 *
 * @module
 */
import { type FaultRule, type RouteDef, routes } from '@campus-card/core/api';
import type { Handlers } from '../context.js';
import { CLOCK_RANGE_TEXT, inClockRange, iso, parseIso } from '../lib/clock.js';
import { ApiError } from '../lib/problem.js';
import { rotateIssuerKey } from './cards.js';

/** The operation ids a fault's `route` may name: the contract's, but the admin routes' (never faulted). */
const FAULT_OPERATION_IDS = new Set(
  (routes as readonly RouteDef[]).filter((r) => r.auth !== 'admin').map((r) => r.operationId),
);
/** The kinds that act on pushes (scoped by the route `push`); the others act on requests. */
const PUSH_KINDS: ReadonlySet<FaultRule['kind']> = new Set(['duplicate_push', 'reorder_push']);
/** Each kind's own parameter: given to a rule of another kind, it would be silently ignored. */
const PARAMETER_KIND = {
  delay_ms: 'delay',
  status: 'error_5xx',
  retry_after_s: 'rate_limit',
  skew_s: 'clock_skew',
} as const satisfies Partial<Record<keyof FaultRule, FaultRule['kind']>>;

/**
 * What the schema cannot see in fault rules that would never do what they say: a parameter of
 * another kind, a `route` that names no operation of the contract, an admin route, or pushes for a
 * request fault (and the reverse). Each is a `{ path, message }` of `ERR_VALIDATION`.
 */
function faultRuleErrors(rules: readonly FaultRule[]): { path: string; message: string }[] {
  const errors: { path: string; message: string }[] = [];
  rules.forEach((rule, i) => {
    for (const [param, kind] of Object.entries(PARAMETER_KIND)) {
      if (rule[param as keyof typeof PARAMETER_KIND] !== undefined && rule.kind !== kind) {
        errors.push({
          path: `body/rules/${i}/${param}`,
          message: `${param} is a parameter of the ${kind} kind, not of ${rule.kind}`,
        });
      }
    }
    const route = rule.route;
    if (route === undefined) return;
    const path = `body/rules/${i}/route`;
    if (PUSH_KINDS.has(rule.kind)) {
      if (route !== 'push')
        errors.push({ path, message: `a ${rule.kind} fault acts on pushes: its route is push` });
    } else if (route === 'push') {
      errors.push({ path, message: `push is the route of pushes; a ${rule.kind} fault acts on requests` });
    } else if (!route.startsWith('/') && !FAULT_OPERATION_IDS.has(route)) {
      errors.push({
        path,
        message: `${JSON.stringify(route)} is no operationId of the contract (admin routes are never faulted), nor a path prefix starting with /`,
      });
    }
  });
  return errors;
}

/** Admin handlers. */
export const adminHandlers: Handlers = {
  health: (ctx) => ({ status: 200, body: { status: 'ok', time: iso(ctx.state.clock.now()) } }),
  getClock: (ctx) => ({
    status: 200,
    body: { now: iso(ctx.state.clock.now()), offset_ms: ctx.state.clock.offsetMs() },
  }),
  setClock: (ctx) => {
    const { clock } = ctx.state;
    const { set, advance_s } = ctx.body;
    // the time the clock would show, checked before it moves: a refused move leaves it as it was
    const from = set === undefined ? clock.now() : parseIso(set, 'body/set');
    const target = advance_s === undefined ? from : from + Math.round(advance_s * 1000);
    if (!inClockRange(target)) {
      const path = advance_s === undefined ? 'body/set' : 'body/advance_s';
      const message = `would move the clock outside ${CLOCK_RANGE_TEXT}`;
      throw new ApiError(400, 'ERR_VALIDATION', `${path}: ${message}`, { errors: [{ path, message }] });
    }
    if (set !== undefined) clock.set(target);
    else if (advance_s !== undefined) clock.advance(advance_s);
    return { status: 200, body: { now: iso(clock.now()), offset_ms: clock.offsetMs() } };
  },
  setFaults: (ctx) => {
    // refused whole, the rules in place are kept
    const errors = faultRuleErrors(ctx.body.rules);
    const first = errors[0];
    if (first !== undefined) {
      throw new ApiError(400, 'ERR_VALIDATION', `${first.path}: ${first.message}`, { errors });
    }
    ctx.state.faults.set(ctx.body.rules, ctx.body.seed);
    return { status: 200, body: { ok: true } };
  },
  clearFaults: (ctx) => {
    ctx.state.faults.clear();
    return { status: 200, body: { ok: true } };
  },
  rotateIssuer: async (ctx) => {
    const r = await rotateIssuerKey(ctx.state, ctx.body.school_id);
    return {
      status: 200,
      body: {
        school_id: r.schoolId,
        trust_list_version: r.trustListVersion,
        issuer_kid: r.issuerKid,
        retired_kid: r.retiredKid,
        reissued: r.reissued,
      },
    };
  },
  getRecording: (ctx) => ({
    status: 200,
    body: ctx.state.recorder.toJsonLines(),
    headers: { 'content-type': 'application/x-ndjson' },
  }),
};
