/**
 * `verifier.status(now)`: the device dashboard (issue 3 §1 "reports how stale that material is").
 * Per-school status lists and the roster, each with version, iat, age, maxAge and a state that
 * goes fresh → grace → stale with `maxStaleness` / `stalenessGrace`; and the replay window's size
 * and capacity.
 */
import { signStatusList, signTrustList } from '@campus-card/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createMemoryReplayStore,
  createVerifier,
  type Verifier,
  type VerifierOptions,
} from '../src/index.js';
import { nodeBackend } from '../src/node.js';
import { type Campus, makeCampus, SCHOOL, T0 } from './helpers/fixtures.js';

const DAY = 86_400;
/** A second school, whose status list the same issuer key may sign. */
const OTHER = '10002';
const gate = { id: 'gate' };

const MAX = { trustList: 10 * DAY, statusList: 3600, roster: 7200 };
const GRACE = { statusList: 600, roster: 1800 };

/** Signing times of the material loaded at T0. */
const TL_IAT = T0 - 3600;
const SL_IAT = T0 - 600;
const SL_OTHER_IAT = T0 - 100;
const ROSTER_IAT = T0 - 1200;

let campus: Campus;
let trustList: Uint8Array;
let statusList: Uint8Array;
let otherStatusList: Uint8Array;
let roster: Uint8Array;

function statusListOf(school: string, version: number, iat: number): Promise<Uint8Array> {
  return signStatusList(
    { school, version, iat, statuses: new Array<number>(64).fill(0) },
    campus.issuer.privateKey,
  );
}

beforeAll(async () => {
  campus = await makeCampus();
  trustList = await signTrustList(
    {
      version: 1,
      iat: TL_IAT,
      authority: 'platform',
      keys: [
        {
          key: campus.issuer.publicKey,
          roles: ['teacher', 'student', 'parent'],
          nbf: T0 - 365 * DAY,
          exp: T0 + 365 * DAY,
          schools: [SCHOOL, OTHER],
        },
      ],
    },
    campus.root.privateKey,
  );
  statusList = await statusListOf(SCHOOL, 1, SL_IAT);
  otherStatusList = await statusListOf(OTHER, 3, SL_OTHER_IAT);
  roster = await campus.roster(2, ROSTER_IAT);
});

function create(options: Partial<VerifierOptions> = {}): Verifier {
  return createVerifier({ rootKeys: [campus.root.publicKey], backend: nodeBackend, ...options });
}

function loaded(options: Partial<VerifierOptions> = {}): Verifier {
  const v = create({ maxStaleness: MAX, stalenessGrace: GRACE, replayCapacity: 50, ...options });
  expect(v.loadTrustList(trustList, { now: T0 }).ok).toBe(true);
  expect(v.loadStatusList(statusList, { now: T0 }).ok).toBe(true);
  expect(v.loadStatusList(otherStatusList, { now: T0 }).ok).toBe(true);
  expect(v.loadRoster(roster, { now: T0 }).ok).toBe(true);
  return v;
}

describe('verifier.status', () => {
  it('reports nothing held before any load, and the default replay capacity', () => {
    expect(create().status(T0)).toEqual({
      trustList: null,
      trustLists: {},
      statusLists: {},
      roster: null,
      lastSyncAt: null,
      clock: T0,
      floor: 0,
      clockBeforeFloor: false,
      replay: { size: 0, capacity: 100_000 },
    });
  });

  it('reports each material with version, iat, age, maxAge and state', () => {
    const v = loaded();
    expect(v.status(T0)).toEqual({
      trustList: { version: 1, iat: TL_IAT, age: 3600, maxAge: MAX.trustList, state: 'fresh' },
      trustLists: {
        platform: { version: 1, iat: TL_IAT, age: 3600, maxAge: MAX.trustList, state: 'fresh' },
      },
      statusLists: {
        [SCHOOL]: { version: 1, iat: SL_IAT, age: 600, maxAge: MAX.statusList, state: 'fresh' },
        [OTHER]: { version: 3, iat: SL_OTHER_IAT, age: 100, maxAge: MAX.statusList, state: 'fresh' },
      },
      roster: { version: 2, iat: ROSTER_IAT, age: 1200, maxAge: MAX.roster, state: 'fresh', school: SCHOOL },
      lastSyncAt: T0,
      clock: T0,
      floor: SL_OTHER_IAT,
      clockBeforeFloor: false,
      replay: { size: 0, capacity: 50 },
    });
  });

  it('the default maxAge of each material is DEFAULT_MAX_STALENESS', () => {
    const v = create();
    v.loadTrustList(trustList, { now: T0 });
    v.loadStatusList(statusList, { now: T0 });
    v.loadRoster(roster, { now: T0 });
    const s = v.status(T0);
    expect(s.trustList?.maxAge).toBe(30 * DAY);
    expect(s.statusLists[SCHOOL]?.maxAge).toBe(DAY);
    expect(s.roster?.maxAge).toBe(7 * DAY);
  });

  it('status lists go fresh → grace → stale, each school on its own clock', () => {
    const v = loaded();
    // SCHOOL's list: iat T0 − 600, max 3600, grace 600; OTHER's: iat T0 − 100
    const at = (dt: number) => {
      const s = v.status(T0 + dt).statusLists;
      return [s[SCHOOL]?.state, s[OTHER]?.state, s[SCHOOL]?.age, s[OTHER]?.age];
    };
    expect(at(3000)).toEqual(['fresh', 'fresh', 3600, 3100]);
    expect(at(3001)).toEqual(['grace', 'fresh', 3601, 3101]);
    expect(at(3500)).toEqual(['grace', 'fresh', 4100, 3600]);
    expect(at(3501)).toEqual(['grace', 'grace', 4101, 3601]);
    expect(at(3600)).toEqual(['grace', 'grace', 4200, 3700]);
    expect(at(3601)).toEqual(['stale', 'grace', 4201, 3701]);
    expect(at(4100)).toEqual(['stale', 'grace', 4700, 4200]);
    expect(at(4101)).toEqual(['stale', 'stale', 4701, 4201]);
  });

  it('the roster goes fresh → grace → stale', () => {
    const v = loaded();
    // iat T0 − 1200, max 7200, grace 1800
    const roster = (dt: number) => v.status(T0 + dt).roster;
    expect(roster(6000)).toMatchObject({ age: 7200, state: 'fresh', school: SCHOOL, version: 2 });
    expect(roster(6001)).toMatchObject({ age: 7201, state: 'grace' });
    expect(roster(7800)).toMatchObject({ age: 9000, state: 'grace' });
    expect(roster(7801)).toMatchObject({ age: 9001, state: 'stale' });
  });

  it('without a grace period the state goes straight from fresh to stale', () => {
    const v = loaded({ stalenessGrace: {} });
    expect(v.status(T0 + 3000).statusLists[SCHOOL]?.state).toBe('fresh');
    expect(v.status(T0 + 3001).statusLists[SCHOOL]?.state).toBe('stale');
    expect(v.status(T0 + 6000).roster?.state).toBe('fresh');
    expect(v.status(T0 + 6001).roster?.state).toBe('stale');
    // the trust list has no grace in either configuration
    expect(v.status(TL_IAT + MAX.trustList).trustList?.state).toBe('fresh');
    expect(v.status(TL_IAT + MAX.trustList + 1).trustList?.state).toBe('stale');
  });

  it('the states agree with the decisions: fresh admits, grace admits with a warning, stale denies', async () => {
    const v = loaded();
    const scan = async (dt: number) =>
      v.verify(await campus.code('2024010001', T0 + dt), { now: T0 + dt, reader: gate });
    expect(v.status(T0 + 3000).statusLists[SCHOOL]?.state).toBe('fresh');
    expect(await scan(3000)).toMatchObject({ accepted: true, warnings: [] });
    expect(v.status(T0 + 3300).statusLists[SCHOOL]?.state).toBe('grace');
    expect(await scan(3300)).toMatchObject({ accepted: true, warnings: ['STATUS_LIST_STALE'] });
    expect(v.status(T0 + 3700).statusLists[SCHOOL]?.state).toBe('stale');
    expect(await scan(3700)).toMatchObject({ accepted: false, reason: 'STATUS_LIST_STALE' });
    // a sync brings the school's list back to fresh; the other school's is untouched
    expect(v.loadStatusList(await statusListOf(SCHOOL, 2, T0 + 3650), { now: T0 + 3700 }).ok).toBe(true);
    const s = v.status(T0 + 3710);
    expect(s.statusLists[SCHOOL]).toEqual({
      version: 2,
      iat: T0 + 3650,
      age: 60,
      maxAge: MAX.statusList,
      state: 'fresh',
    });
    expect(s.statusLists[OTHER]).toMatchObject({ version: 3, age: 3810, state: 'grace' });
    expect(s.lastSyncAt).toBe(T0 + 3700);
    expect(await scan(3710)).toMatchObject({ accepted: true, warnings: [] });
  });

  it('a roster in its grace period admits compact codes with ROSTER_STALE; a stale one denies them', async () => {
    const v = loaded({ maxStaleness: { ...MAX, statusList: DAY } });
    const scan = async (dt: number) =>
      v.verify(await campus.compact('2024010001', T0 + dt), { now: T0 + dt, reader: gate });
    expect(await scan(6000)).toMatchObject({ accepted: true, warnings: [] });
    expect(v.status(T0 + 7000).roster?.state).toBe('grace');
    expect(await scan(7000)).toMatchObject({ accepted: true, warnings: ['ROSTER_STALE'] });
    expect(v.status(T0 + 7801).roster?.state).toBe('stale');
    expect(await scan(7801)).toMatchObject({ accepted: false, reason: 'ROSTER_STALE' });
  });

  it('a list signed ahead of the clock ages from when it was loaded (spec §7.1), and is fresh', async () => {
    const v = loaded();
    expect(v.loadStatusList(await statusListOf(OTHER, 4, T0 + 100), { now: T0 }).ok).toBe(true);
    expect(v.status(T0).statusLists[OTHER]).toMatchObject({
      version: 4,
      iat: T0 + 100,
      age: 0,
      state: 'fresh',
    });
    expect(v.status(T0 + 50).statusLists[OTHER]).toMatchObject({ age: 50, state: 'fresh' });
  });

  it('replay: size counts accepted codes only, up to the configured capacity', async () => {
    const v = loaded({ replayCapacity: 3 });
    const replay = (now: number) => v.status(now).replay;
    expect(replay(T0)).toEqual({ size: 0, capacity: 3 });
    const first = await campus.code('2024010001', T0);
    expect((await v.verify(first, { now: T0, reader: gate })).accepted).toBe(true);
    expect(replay(T0)).toEqual({ size: 1, capacity: 3 });
    // denials record nothing: a replay, a too-old code, a policy denial
    expect(await v.verify(first, { now: T0 + 1, reader: gate })).toMatchObject({ reason: 'REPLAYED' });
    const old = await campus.code('2024010002', T0 - 91);
    expect(await v.verify(old, { now: T0 + 1, reader: gate })).toMatchObject({ reason: 'CODE_TOO_OLD' });
    const teachers = {
      id: 'tc',
      policy: { id: 'tc', rules: [{ kind: 'roles' as const, id: 'teachers', allow: ['teacher' as const] }] },
    };
    const student = await campus.code('2024010002', T0 + 1);
    expect(await v.verify(student, { now: T0 + 1, reader: teachers })).toMatchObject({
      reason: 'POLICY_DENIED',
    });
    expect(replay(T0 + 1)).toEqual({ size: 1, capacity: 3 });
    for (const [k, id] of ['2024010002', 'T-0042'].entries()) {
      const qr = await campus.code(id, T0 + 2 + k);
      expect((await v.verify(qr, { now: T0 + 2 + k, reader: gate })).accepted).toBe(true);
    }
    expect(replay(T0 + 3)).toEqual({ size: 3, capacity: 3 });
    // full of live entries: fail closed, the size stays at the capacity
    const more = await campus.code('2024010001', T0 + 4);
    expect(await v.verify(more, { now: T0 + 4, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'REPLAY_STORE_FULL',
    });
    expect(replay(T0 + 4)).toEqual({ size: 3, capacity: 3 });
  });

  it('replay: the size survives a snapshot and restore', async () => {
    const v = loaded();
    for (const [k, id] of ['2024010001', '2024010002'].entries()) {
      expect((await v.verify(await campus.code(id, T0 + k), { now: T0 + k, reader: gate })).accepted).toBe(
        true,
      );
    }
    const snap = v.snapshot({ now: T0 + 2 });
    const rebooted = loaded();
    expect(rebooted.status(T0 + 2).replay).toEqual({ size: 0, capacity: 50 });
    rebooted.restore(snap, { now: T0 + 2 });
    expect(rebooted.status(T0 + 2).replay).toEqual({ size: 2, capacity: 50 });
  });

  it('replay is absent with an external replay store', async () => {
    const store = createMemoryReplayStore({ capacity: 10 });
    const v = loaded({ replayStore: store });
    const s = v.status(T0);
    expect(s).not.toHaveProperty('replay');
    expect(s.statusLists[SCHOOL]?.state).toBe('fresh');
    expect((await v.verify(await campus.code('2024010001', T0), { now: T0, reader: gate })).accepted).toBe(
      true,
    );
    expect(store.size).toBe(1);
    expect(v.status(T0)).not.toHaveProperty('replay');
  });
});

describe('a clock read in milliseconds (Date.now()) instead of unix seconds', () => {
  it('is refused everywhere a time is taken, naming the mistake, and changes nothing', async () => {
    const v = loaded();
    const ms = T0 * 1000;
    const load = v.loadStatusList(await statusListOf(OTHER, 4, T0), { now: ms });
    expect(load).toMatchObject({
      ok: false,
      reason: 'INTERNAL_ERROR',
      detail: expect.stringContaining('not milliseconds'),
    });
    // the last sync did not become a date in the year 57 000
    expect(v.status(T0).lastSyncAt).toBe(T0);
    const d = await v.verify(await campus.code('2024010001', T0), { now: ms, reader: gate });
    expect(d).toMatchObject({
      accepted: false,
      reason: 'INTERNAL_ERROR',
      detail: expect.stringContaining('not milliseconds'),
    });
    // the code was not used up: with the right clock it is accepted
    expect((await v.verify(await campus.code('2024010001', T0), { now: T0, reader: gate })).accepted).toBe(
      true,
    );
    expect(() => v.status(ms)).toThrow(/not milliseconds/);
    expect(() => v.snapshot({ now: ms })).toThrow(/not milliseconds/);
    expect(() => v.restore(v.snapshot({ now: T0 }), { now: ms })).toThrow(/not milliseconds/);
    expect(() =>
      v.checkPolicy(
        { school: '10001', cardId: '1', role: 'student', groups: [], mode: 'full', scene: undefined },
        { now: ms, reader: gate },
      ),
    ).toThrow(/not milliseconds/);
  });
});
