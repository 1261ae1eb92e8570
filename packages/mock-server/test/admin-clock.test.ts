/**
 * The virtual clock stays within 1970 … 9999 (no negative unix times; the contract's `Timestamp`):
 * `POST /admin/clock` refuses a move that would leave that range with a 400 problem, before the
 * clock moves, and so do `clock.advance()` / `clock.set()` (RangeError). Beyond it, every time the
 * platform answered broke the contract, and past `Date`'s range every request failed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../src/index.js';
import { CLOCK_MAX_MS, CLOCK_MIN_MS, createClock } from '../src/lib/clock.js';
import { demoPlatform, json, operator, signed } from './helpers.js';

const MAX = '9999-12-31T23:59:59.999Z';
const MIN = '1970-01-01T00:00:00Z';

let p: MockPlatform | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

const setClock = (pf: MockPlatform, body: object) =>
  pf.app.inject({ method: 'POST', url: '/admin/clock', payload: body });
/** The clock's time, as `GET /admin/clock` tells it (a frozen clock's offset_ms moves with real time). */
const getClock = async (pf: MockPlatform) => {
  const res = await pf.app.inject({ method: 'GET', url: '/admin/clock' });
  expect(res.statusCode, res.body).toBe(200);
  return { now: json<{ now: string }>(res).now, ms: pf.clock.now() };
};

/** The request answered 400 ERR_VALIDATION naming `path`. */
function expectRefused(
  res: { statusCode: number; body: string; headers: Record<string, unknown> },
  path: string,
) {
  expect(res.statusCode, res.body).toBe(400);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const problem = json<{ code: string; errors: { path: string; message: string }[] }>(res);
  expect(problem.code).toBe('ERR_VALIDATION');
  expect(problem.errors.map((e) => e.path)).toContain(path);
}

/** The platform still answers: health, the clock, and a signed request (its record formats the time). */
async function stillAnswers(pf: MockPlatform, now: string) {
  const health = await pf.app.inject({ method: 'GET', url: '/health' });
  expect(health.statusCode, health.body).toBe(200);
  expect(json(health)).toEqual({ status: 'ok', time: now });
  expect((await getClock(pf)).now).toBe(now);
  const wallet = await pf.app.inject(signed(pf, operator(pf), 'GET', '/v1/wallets/s-001'));
  expect(wallet.statusCode, wallet.body).toBe(200);
}

describe('POST /admin/clock: the range the contract can write', () => {
  it('set to the last instant, then advanced: 400 naming body/advance_s, the clock unchanged', async () => {
    p = await demoPlatform();
    const at = await setClock(p, { set: MAX });
    expect(at.statusCode, at.body).toBe(200);
    expect(json(at)).toMatchObject({ now: MAX });
    const before = await getClock(p);
    for (const advance_s of [10, 0.001, 1e9]) {
      expectRefused(await setClock(p, { advance_s }), 'body/advance_s');
      expect(await getClock(p)).toEqual(before);
    }
    // a move back within the range is fine
    const back = await setClock(p, { advance_s: -1 });
    expect(json(back)).toMatchObject({ now: '9999-12-31T23:59:58.999Z' });
    await stillAnswers(p, '9999-12-31T23:59:58.999Z');
  });

  it('repeated advances of 1e9 s: refused once past the end, the platform answers on', async () => {
    p = await demoPlatform();
    let refused = 0;
    for (let i = 0; i < 300 && refused < 3; i++) {
      const res = await setClock(p, { advance_s: 1e9 });
      if (res.statusCode === 400) {
        expectRefused(res, 'body/advance_s');
        refused++;
      } else expect(res.statusCode, res.body).toBe(200);
    }
    expect(refused).toBe(3);
    const { now } = await getClock(p);
    expect(now).toMatch(/^\d{4}-/);
    expect(Date.parse(now)).toBeLessThanOrEqual(CLOCK_MAX_MS);
    await stillAnswers(p, now);
  });

  it('below the first instant: a set is refused (400), as is an advance of -1e9 s from it, and a set with an advance below it', async () => {
    p = await demoPlatform();
    const before = await getClock(p);
    for (const set of ['1969-12-31T23:59:59Z', '0000-01-01T00:00:00Z', '-000001-12-31T23:59:59Z']) {
      expectRefused(await setClock(p, { set }), 'body/set');
    }
    // set and advance together: nothing moves when the advance is refused (the set included)
    expectRefused(await setClock(p, { set: MIN, advance_s: -1 }), 'body/advance_s');
    expect(await getClock(p)).toEqual(before);
    expect(json(await setClock(p, { set: MIN }))).toMatchObject({ now: MIN });
    const atMin = await getClock(p);
    for (const advance_s of [-1e9, -1, -0.001]) {
      expectRefused(await setClock(p, { advance_s }), 'body/advance_s');
      expect(await getClock(p)).toEqual(atMin);
    }
    await stillAnswers(p, MIN);
  });

  it('the platform clock refuses too (RangeError), and the platform answers on', async () => {
    p = await demoPlatform();
    expect(json(await setClock(p, { set: MAX }))).toMatchObject({ now: MAX });
    expect(() => p?.clock.advance(10)).toThrow(RangeError);
    expect(() => p?.clock.advance(1e9)).toThrow(RangeError);
    expect(() => p?.clock.set(CLOCK_MAX_MS + 1)).toThrow(RangeError);
    expect(() => p?.clock.set(CLOCK_MIN_MS - 1)).toThrow(RangeError);
    expect(p.clock.now()).toBe(CLOCK_MAX_MS);
    await stillAnswers(p, MAX);
  });
});

describe('createClock: the range', () => {
  it('a frozen clock: set and advance within the range move it; outside, RangeError and it stays', () => {
    const clock = createClock({ start: CLOCK_MAX_MS - 1000, frozen: true });
    clock.advance(1);
    expect(clock.now()).toBe(CLOCK_MAX_MS);
    expect(() => clock.advance(0.001)).toThrow(RangeError);
    expect(() => clock.advance(1e9)).toThrow(/outside 1970-01-01T00:00:00Z … 9999-12-31T23:59:59.999Z/);
    expect(clock.now()).toBe(CLOCK_MAX_MS);
    clock.set(CLOCK_MIN_MS);
    expect(clock.now()).toBe(CLOCK_MIN_MS);
    expect(() => clock.advance(-0.001)).toThrow(RangeError);
    expect(() => clock.advance(-1e9)).toThrow(RangeError);
    expect(() => clock.set(CLOCK_MIN_MS - 1)).toThrow(RangeError);
    expect(() => clock.set(8.64e15)).toThrow(RangeError);
    expect(() => clock.set(Number.NaN)).toThrow(RangeError);
    expect(() => clock.advance(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(clock.now()).toBe(CLOCK_MIN_MS);
  });

  it('a start outside the range is refused', () => {
    expect(() => createClock({ start: CLOCK_MAX_MS + 1, frozen: true })).toThrow(RangeError);
    expect(() => createClock({ start: CLOCK_MIN_MS - 1 })).toThrow(RangeError);
    expect(() => createClock({ start: Number.NaN })).toThrow(RangeError);
    expect(createClock({ start: CLOCK_MIN_MS, frozen: true }).now()).toBe(CLOCK_MIN_MS);
  });

  it('a ticking clock stops at the end of the range, and moves back from there', async () => {
    const clock = createClock({ start: CLOCK_MAX_MS - 5 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(clock.now()).toBe(CLOCK_MAX_MS);
    // the wall clock read before the clock's own read: a millisecond may pass between the two
    const wallBefore = Date.now();
    expect(clock.offsetMs()).toBeLessThanOrEqual(CLOCK_MAX_MS - wallBefore);
    expect(() => clock.advance(1)).toThrow(RangeError);
    clock.advance(-10);
    const now = clock.now();
    expect(now).toBeGreaterThanOrEqual(CLOCK_MAX_MS - 10_000);
    expect(now).toBeLessThan(CLOCK_MAX_MS - 9_000);
  });
});
