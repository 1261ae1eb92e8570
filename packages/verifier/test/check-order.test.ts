/**
 * The order of the checks (issue 3 §1): issuer signature, holder signature, time window, status
 * list, policies, replay window; a code is recorded as used only after every other check passed.
 *
 * Each test combines two faults, so that the reason reported shows which check ran first, and
 * checks that a denied code was not recorded in the replay window.
 */
import { createPresentation, decodeQr, encodeQr } from '@campus-card/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createMemoryReplayStore,
  createVerifier,
  type Decision,
  type ReaderContext,
  type ReaderPolicy,
  type ReplayStore,
  type Verifier,
} from '../src/index.js';
import { nodeBackend } from '../src/node.js';
import { type Campus, type Card, makeCampus, SCHOOL, T0 } from './helpers/fixtures.js';

const DAY = 86_400;
/** The credentials' expiry: issued at T0 − 1 day for 30 days (see the fixtures). */
const EXP = T0 + 29 * DAY;
const STUDENT = '2024010001';
/** A student with a linked physical card (status index 2). */
const TAPPER = '2024010002';
const TAPPER_UID = new Uint8Array([4, 1, 2, 3]);
/** A teacher (status index 3). */
const TEACHER = 'T-0042';

let campus: Campus;
beforeAll(async () => {
  campus = await makeCampus();
});

function card(id: string): Card {
  const c = campus.cards.get(id);
  if (c === undefined) throw new Error(`no card ${id}`);
  return c;
}

/** A verifier holding a trust list, the roster and a status list revoking `revoked` (index → status). */
async function loaded(
  now: number,
  revoked: Record<number, number> = {},
  replayStore?: ReplayStore,
): Promise<Verifier> {
  const v = createVerifier({
    rootKeys: [campus.root.publicKey],
    backend: nodeBackend,
    ...(replayStore === undefined ? {} : { replayStore }),
  });
  expect(v.loadTrustList(await campus.trustList(1, now - 3600), { now }).ok).toBe(true);
  expect(v.loadStatusList(await campus.statusList(1, now - 600, revoked), { now }).ok).toBe(true);
  expect(v.loadRoster(await campus.roster(1, now - 600), { now }).ok).toBe(true);
  return v;
}

type Mode = 'full' | 'compact';
const MODES: Mode[] = ['full', 'compact'];

function code(mode: Mode, id: string, t: number): Promise<string> {
  return mode === 'full' ? campus.code(id, t) : campus.compact(id, t);
}

/** The code with its holder signature (the last byte of the COSE_Sign1) flipped. */
async function badHolderSignature(mode: Mode, id: string, t: number): Promise<string> {
  const bytes = decodeQr(await code(mode, id, t)).slice();
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0x01;
  return encodeQr(bytes);
}

/** A full-mode code whose credential's issuer signature is flipped; the holder signature is valid. */
async function badIssuerSignature(id: string, t: number): Promise<string> {
  const c = card(id);
  const credential = c.credential.slice();
  credential[credential.length - 1] = (credential[credential.length - 1] as number) ^ 0x01;
  return encodeQr(await createPresentation({ credential, t }, c.phone.privateKey));
}

function expectDenied(d: Decision, reason: string, extra: Record<string, unknown> = {}): void {
  expect(d).toMatchObject({ accepted: false, reason, ...extra });
}

function replaySize(v: Verifier, now: number): number | undefined {
  return v.status(now).replay?.size;
}

const gate: ReaderContext = { id: 'gate' };
const studentsOnly: ReaderContext = {
  id: 'student-canteen',
  policy: { id: 'sc', rules: [{ kind: 'roles', id: 'students-only', allow: ['student'] }] },
};
const teachersOnly: ReaderContext = {
  id: 'teacher-canteen',
  policy: { id: 'tc', rules: [{ kind: 'roles', id: 'teachers-only', allow: ['teacher'] }] },
};

describe('signatures before the time window', () => {
  it.each(MODES)('%s: a bad holder signature on a too-old or future code is BAD_SIGNATURE', async (mode) => {
    const v = await loaded(T0);
    // controls: each fault alone
    expectDenied(
      await v.verify(await code(mode, STUDENT, T0 - 91), { now: T0, reader: gate }),
      'CODE_TOO_OLD',
    );
    expectDenied(
      await v.verify(await badHolderSignature(mode, STUDENT, T0), { now: T0, reader: gate }),
      'BAD_SIGNATURE',
    );
    // both
    expectDenied(
      await v.verify(await badHolderSignature(mode, STUDENT, T0 - 91), { now: T0, reader: gate }),
      'BAD_SIGNATURE',
    );
    expectDenied(
      await v.verify(await badHolderSignature(mode, STUDENT, T0 + 31), { now: T0, reader: gate }),
      'BAD_SIGNATURE',
    );
  });

  it('a bad issuer signature on a too-old code is BAD_SIGNATURE', async () => {
    const v = await loaded(T0);
    const d = await v.verify(await badIssuerSignature(STUDENT, T0), { now: T0, reader: gate });
    expectDenied(d, 'BAD_SIGNATURE', { coreCode: 'ERR_SIGNATURE_INVALID' });
    expectDenied(
      await v.verify(await badIssuerSignature(STUDENT, T0 - 91), { now: T0, reader: gate }),
      'BAD_SIGNATURE',
    );
    expectDenied(
      await v.verify(await badIssuerSignature(STUDENT, T0 + 31), { now: T0, reader: gate }),
      'BAD_SIGNATURE',
    );
    expect(replaySize(v, T0)).toBe(0);
  });

  it.each(MODES)('%s: an expired card with a bad holder signature is BAD_SIGNATURE', async (mode) => {
    const now = EXP + 100;
    const v = await loaded(now);
    // control: the same card's good code is EXPIRED
    expectDenied(await v.verify(await code(mode, STUDENT, now), { now, reader: gate }), 'EXPIRED');
    expectDenied(
      await v.verify(await badHolderSignature(mode, STUDENT, now), { now, reader: gate }),
      'BAD_SIGNATURE',
    );
  });

  it('an expired card with a bad issuer signature is BAD_SIGNATURE', async () => {
    const now = EXP + 100;
    const v = await loaded(now);
    expectDenied(
      await v.verify(await badIssuerSignature(STUDENT, now), { now, reader: gate }),
      'BAD_SIGNATURE',
    );
  });

  it.each(MODES)('%s: a revoked card with a bad holder signature is BAD_SIGNATURE', async (mode) => {
    const v = await loaded(T0, { 3: 1 });
    expectDenied(await v.verify(await code(mode, TEACHER, T0), { now: T0, reader: gate }), 'REVOKED');
    expectDenied(
      await v.verify(await badHolderSignature(mode, TEACHER, T0), { now: T0, reader: gate }),
      'BAD_SIGNATURE',
    );
  });
});

describe('the time window before the status list', () => {
  it.each(MODES)('%s: a revoked card’s too-old code is CODE_TOO_OLD', async (mode) => {
    const v = await loaded(T0, { 3: 1 });
    // control: a fresh code of the revoked card is REVOKED
    expectDenied(await v.verify(await code(mode, TEACHER, T0), { now: T0, reader: gate }), 'REVOKED', {
      coreCode: 'ERR_REVOKED',
    });
    expectDenied(
      await v.verify(await code(mode, TEACHER, T0 - 91), { now: T0, reader: gate }),
      'CODE_TOO_OLD',
      { coreCode: 'ERR_PRESENTATION_TOO_OLD' },
    );
    expectDenied(
      await v.verify(await code(mode, TEACHER, T0 + 31), { now: T0, reader: gate }),
      'CODE_FROM_FUTURE',
    );
  });

  it.each(MODES)('%s: a revoked card that has also expired is EXPIRED', async (mode) => {
    const now = EXP + 100;
    const v = await loaded(now, { 3: 2 });
    expectDenied(await v.verify(await code(mode, TEACHER, now), { now, reader: gate }), 'EXPIRED');
  });

  it('a revoked physical card that has expired is EXPIRED', async () => {
    const now = EXP + 100;
    const v = await loaded(now, { 2: 2 });
    expectDenied(await v.verify({ uid: TAPPER_UID }, { now, reader: gate }), 'EXPIRED');
  });
});

describe('the status list before the policies', () => {
  it.each(MODES)('%s: a revoked card at a reader whose policy denies it is REVOKED', async (mode) => {
    const clean = await loaded(T0);
    // control: the policy denies the (unrevoked) teacher
    expectDenied(
      await clean.verify(await code(mode, TEACHER, T0), { now: T0, reader: studentsOnly }),
      'POLICY_DENIED',
      { rule: 'students-only' },
    );
    const v = await loaded(T0, { 3: 1 });
    const d = await v.verify(await code(mode, TEACHER, T0), { now: T0, reader: studentsOnly });
    expectDenied(d, 'REVOKED');
    expect(d).not.toHaveProperty('rule');
  });

  it('a revoked physical card at a reader whose policy denies it is REVOKED', async () => {
    const clean = await loaded(T0);
    expectDenied(
      await clean.verify({ uid: TAPPER_UID }, { now: T0, reader: teachersOnly }),
      'POLICY_DENIED',
      {
        rule: 'teachers-only',
      },
    );
    const v = await loaded(T0, { 2: 2 });
    const d = await v.verify({ uid: TAPPER_UID }, { now: T0, reader: teachersOnly });
    expectDenied(d, 'REVOKED', { cardId: TAPPER });
    expect(d).not.toHaveProperty('rule');
  });
});

describe('a code is recorded only once every other check passed', () => {
  /** Opening hours from 00:01 UTC on Thursdays: T0 (Thu 2026-01-01 00:00 UTC) is before them. */
  const hours: ReaderPolicy = {
    id: 'hours',
    rules: [
      {
        kind: 'timeWindows',
        id: 'opening-hours',
        utcOffsetMinutes: 0,
        windows: [{ days: [4], start: '00:01', end: '23:00' }],
      },
    ],
  };
  const readerA: ReaderContext = { id: 'reader-A', policy: hours };
  const readerB: ReaderContext = { id: 'reader-B' };

  it.each(MODES)(
    '%s: denied by a policy at reader A, then accepted at B, then replayed at A and B',
    async (mode) => {
      const v = await loaded(T0);
      const qr = await code(mode, STUDENT, T0);
      expectDenied(await v.verify(qr, { now: T0, reader: readerA }), 'POLICY_DENIED', {
        rule: 'opening-hours',
      });
      expect(replaySize(v, T0)).toBe(0);
      expect(await v.verify(qr, { now: T0 + 10, reader: readerB })).toMatchObject({
        accepted: true,
        cardId: STUDENT,
      });
      expect(replaySize(v, T0 + 10)).toBe(1);
      // A's opening hours have begun: the policy admits, the replay window refuses
      expectDenied(await v.verify(qr, { now: T0 + 60, reader: readerA }), 'REPLAYED');
      expectDenied(await v.verify(qr, { now: T0 + 61, reader: readerB }), 'REPLAYED');
    },
  );

  it('two readers sharing a replay store: a role denial at A does not burn the code for B', async () => {
    const store = createMemoryReplayStore({ capacity: 64 });
    const a = await loaded(T0, {}, store);
    const b = await loaded(T0, {}, store);
    const qr = await campus.code(STUDENT, T0);
    expectDenied(await a.verify(qr, { now: T0, reader: teachersOnly }), 'POLICY_DENIED');
    expect(store.size).toBe(0);
    expect((await b.verify(qr, { now: T0 + 1, reader: gate })).accepted).toBe(true);
    expectDenied(await a.verify(qr, { now: T0 + 2, reader: gate }), 'REPLAYED');
  });

  it.each(MODES)(
    '%s: a code denied REVOKED is not recorded; after the card is reinstated it is accepted once',
    async (mode) => {
      const v = await loaded(T0, { 3: 1 });
      const qr = await code(mode, TEACHER, T0);
      expectDenied(await v.verify(qr, { now: T0, reader: gate }), 'REVOKED');
      expect(replaySize(v, T0)).toBe(0);
      // the card is reinstated in a newer status list
      expect(v.loadStatusList(await campus.statusList(2, T0 - 60), { now: T0 + 1 })).toMatchObject({
        ok: true,
        version: 2,
      });
      expect(await v.verify(qr, { now: T0 + 2, reader: gate })).toMatchObject({
        accepted: true,
        cardId: TEACHER,
      });
      expectDenied(await v.verify(qr, { now: T0 + 3, reader: gate }), 'REPLAYED');
    },
  );

  it('two readers sharing a replay store: a REVOKED denial at A does not burn the code for B', async () => {
    const store = createMemoryReplayStore({ capacity: 64 });
    const stale = await loaded(T0, { 3: 1 }, store);
    const synced = await loaded(T0, {}, store);
    const qr = await campus.code(TEACHER, T0);
    expectDenied(await stale.verify(qr, { now: T0, reader: gate }), 'REVOKED');
    expect(store.size).toBe(0);
    expect((await synced.verify(qr, { now: T0 + 1, reader: gate })).accepted).toBe(true);
    expect(store.size).toBe(1);
    // the status list still comes before the replay window at A
    expectDenied(await stale.verify(qr, { now: T0 + 2, reader: gate }), 'REVOKED');
    expectDenied(await synced.verify(qr, { now: T0 + 2, reader: gate }), 'REPLAYED');
  });

  it('a code denied as from the future is not recorded; accepted once when its time comes', async () => {
    const v = await loaded(T0);
    const qr = await campus.code(STUDENT, T0 + 40);
    expectDenied(await v.verify(qr, { now: T0, reader: gate }), 'CODE_FROM_FUTURE');
    expect(replaySize(v, T0)).toBe(0);
    expect((await v.verify(qr, { now: T0 + 15, reader: gate })).accepted).toBe(true);
    expectDenied(await v.verify(qr, { now: T0 + 16, reader: gate }), 'REPLAYED');
  });

  it('a code denied STATUS_LIST_STALE is not recorded; accepted once after a sync', async () => {
    const v = await loaded(T0);
    const later = T0 + 2 * DAY;
    const qr = await campus.code(STUDENT, later);
    expectDenied(await v.verify(qr, { now: later, reader: gate }), 'STATUS_LIST_STALE');
    expect(replaySize(v, later)).toBe(0);
    expect(v.loadStatusList(await campus.statusList(2, later - 60), { now: later }).ok).toBe(true);
    expect((await v.verify(qr, { now: later + 1, reader: gate })).accepted).toBe(true);
    expectDenied(await v.verify(qr, { now: later + 2, reader: gate }), 'REPLAYED');
  });

  it('a code denied BAD_SIGNATURE leaves the genuine code usable', async () => {
    const v = await loaded(T0);
    const nonce = new Uint8Array([0xba, 0xd5, 0x19, 0x00]);
    const good = await campus.code(STUDENT, T0, { nonce });
    // same signed fields (kid, card, t, nonce), so the same replay key; only the signature differs
    const bytes = decodeQr(good).slice();
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0x01;
    expectDenied(await v.verify(encodeQr(bytes), { now: T0, reader: gate }), 'BAD_SIGNATURE');
    expect(replaySize(v, T0)).toBe(0);
    expect((await v.verify(good, { now: T0 + 1, reader: gate })).accepted).toBe(true);
  });
});

describe('a denial names the card only once both signatures verified', () => {
  it.each(MODES)('%s: revoked and too-old codes name the card; a bad signature does not', async (mode) => {
    const v = await loaded(T0, { 1: 1 });
    const reader = { id: 'gate' };
    const revoked = await v.verify(await code(mode, STUDENT, T0), { now: T0, reader });
    expect(revoked).toMatchObject({ accepted: false, reason: 'REVOKED', cardId: STUDENT, school: SCHOOL });
    const old = await v.verify(await code(mode, TEACHER, T0 - 91), { now: T0, reader });
    expect(old).toMatchObject({ accepted: false, reason: 'CODE_TOO_OLD', cardId: TEACHER, school: SCHOOL });
    const forged = await v.verify(await badHolderSignature(mode, TEACHER, T0), { now: T0, reader });
    expect(forged).toMatchObject({ accepted: false, reason: 'BAD_SIGNATURE' });
    expect(forged).not.toHaveProperty('cardId');
    expect(forged).not.toHaveProperty('school');
  });
});
