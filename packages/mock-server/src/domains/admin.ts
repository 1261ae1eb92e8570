/**
 * Meta and admin handlers: health, the virtual clock, faults, the recording, issuer key rotation.
 *
 * @module
 */
import type { Handlers } from '../context.js';
import { CLOCK_RANGE_TEXT, inClockRange, iso, parseIso } from '../lib/clock.js';
import { ApiError } from '../lib/problem.js';
import { rotateIssuerKey } from './cards.js';

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
