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
/** A route's path template split at `/` (`['', 'v1', 'payments', '{out_trade_no}']`). */
const segmentsOf = (defs: readonly RouteDef[]): string[][] => defs.map((r) => r.path.split('/'));
/** The path templates a request fault may act on (every route but the admin ones). */
const FAULT_PATHS = segmentsOf((routes as readonly RouteDef[]).filter((r) => r.auth !== 'admin'));
/** The path templates of the admin routes: a prefix that reaches only these is refused as such. */
const ADMIN_PATHS = segmentsOf((routes as readonly RouteDef[]).filter((r) => r.auth === 'admin'));
/** The signed routes: the only ones a `clock_skew` fault, which acts on signature checks, can reach. */
const SIGNED_ROUTES = (routes as readonly RouteDef[]).filter((r) => Array.isArray(r.auth));
const SIGNED_OPERATION_IDS = new Set(SIGNED_ROUTES.map((r) => r.operationId));
const SIGNED_PATHS = segmentsOf(SIGNED_ROUTES);

/**
 * Whether a request to a route of `templates` can lie under the path prefix `prefix`, as the
 * injector matches it (`underPath` in lib/faults.ts, on segment boundaries): every segment of the
 * prefix is the template's (a `{param}` segment takes any non-empty one), and the template has as
 * many segments (a prefix with a query string names a whole path), more (a prefix ending in `/`
 * covers what lies below it), or at least as many (otherwise). A prefix no route lies under, such
 * as `/payments` for `/v1/payments`, would make a rule that never fires, and a retry test that
 * passes without its fault.
 */
function prefixReaches(prefix: string, templates: readonly string[][]): boolean {
  const query = prefix.indexOf('?');
  const path = query === -1 ? prefix : prefix.slice(0, query);
  const below = query === -1 && path.endsWith('/');
  const segments = (below ? path.slice(0, -1) : path).split('/');
  return templates.some((t) => {
    const fits =
      query !== -1
        ? t.length === segments.length
        : below
          ? t.length > segments.length
          : t.length >= segments.length;
    return fits && segments.every((s, i) => s === t[i] || (s !== '' && t[i]?.startsWith('{') === true));
  });
}

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
 * another kind, a `route` that names no operation of the contract or is a path prefix no route lies
 * under, an admin route, an unsigned route for `clock_skew`, or pushes for a request fault (and the
 * reverse). Each is a `{ path, message }` of `ERR_VALIDATION`.
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
    } else if (!route.startsWith('/')) {
      if (!FAULT_OPERATION_IDS.has(route)) {
        errors.push({
          path,
          message: `${JSON.stringify(route)} is no operationId of the contract (admin routes are never faulted), nor a path prefix starting with /`,
        });
      } else if (rule.kind === 'clock_skew' && !SIGNED_OPERATION_IDS.has(route)) {
        errors.push({
          path,
          message: `clock_skew acts on signature checks, and ${route} is not signed`,
        });
      }
    } else if (!prefixReaches(route, FAULT_PATHS)) {
      errors.push({
        path,
        message: prefixReaches(route, ADMIN_PATHS)
          ? `${JSON.stringify(route)} covers admin routes only, and admin routes are never faulted`
          : `${JSON.stringify(route)} is a path prefix no route of the contract lies under (on segment boundaries: /v1/payments/P1 covers /v1/payments/P1/reverse)`,
      });
    } else if (rule.kind === 'clock_skew' && !prefixReaches(route, SIGNED_PATHS)) {
      errors.push({
        path,
        message: `clock_skew acts on signature checks, and no signed route lies under ${JSON.stringify(route)}`,
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
