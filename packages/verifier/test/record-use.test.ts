/**
 * `recordUse`: a code admitted by another authority (the platform, online) enters this reader's
 * replay window, so it cannot pass here offline afterwards.
 */
import { decodeQr } from '@campus-card/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, encodeJournalRecord, type ReplayStore } from '../src/index.js';
import { nodeBackend } from '../src/node.js';
import { type Campus, makeCampus, T0 } from './helpers/fixtures.js';

let campus: Campus;
beforeAll(async () => {
  campus = await makeCampus();
});

const gate = { id: 'gate-1' };

async function loaded(opts: Partial<Parameters<typeof createVerifier>[0]> = {}) {
  const v = createVerifier({ rootKeys: [campus.root.publicKey], backend: nodeBackend, ...opts });
  expect(v.loadTrustList(await campus.trustList(1, T0 - 3600), { now: T0 }).ok).toBe(true);
  expect(v.loadStatusList(await campus.statusList(1, T0 - 600), { now: T0 }).ok).toBe(true);
  expect(v.loadRoster(await campus.roster(1, T0 - 600), { now: T0 }).ok).toBe(true);
  return v;
}

describe('recordUse', () => {
  it('a recorded code (full or compact mode, text or bytes) is REPLAYED at the next scan; the window is unchanged for others', async () => {
    const v = await loaded();
    const full = await campus.code('2024010001', T0);
    const compact = await campus.compact('2024010002', T0);
    expect(await v.recordUse(full, { now: T0 })).toEqual({ ok: true });
    expect(await v.recordUse(compact, { now: T0 })).toEqual({ ok: true });
    expect(await v.verify(full, { now: T0 + 1, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'REPLAYED',
    });
    expect(await v.verify(compact, { now: T0 + 1, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'REPLAYED',
    });
    // the key is the signed fields: the same code as bytes is the same entry
    const asText = await campus.code('T-0042', T0);
    expect(await v.recordUse(decodeQr(asText), { now: T0 })).toEqual({ ok: true });
    expect(await v.verify(asText, { now: T0 + 1, reader: gate })).toMatchObject({ reason: 'REPLAYED' });
    const other = await campus.code('2024010001', T0 + 1);
    expect(await v.verify(other, { now: T0 + 2, reader: gate })).toMatchObject({ accepted: true });
    expect(await v.recordUse(other, { now: T0 + 2 })).toMatchObject({ ok: false, reason: 'REPLAYED' });
  });

  it('a code that passed here offline is REPLAYED when recorded (the caller must deny), and recording twice is REPLAYED', async () => {
    const v = await loaded();
    const qr = await campus.code('2024010001', T0);
    expect((await v.verify(qr, { now: T0, reader: gate })).accepted).toBe(true);
    expect(await v.recordUse(qr, { now: T0 + 1 })).toMatchObject({ ok: false, reason: 'REPLAYED' });
    const fresh = await campus.code('T-0042', T0);
    expect(await v.recordUse(fresh, { now: T0 })).toEqual({ ok: true });
    expect(await v.recordUse(fresh, { now: T0 })).toMatchObject({ ok: false, reason: 'REPLAYED' });
  });

  it('the entry lasts as long as a scan entry, and survives a snapshot and a journal', async () => {
    const journal: Uint8Array[] = [];
    const v = await loaded({
      onReplayRecord: (digest, expiresAt) => {
        journal.push(encodeJournalRecord(digest, expiresAt));
      },
    });
    const qr = await campus.code('2024010001', T0);
    expect(await v.recordUse(qr, { now: T0 })).toEqual({ ok: true });
    expect(journal).toHaveLength(1);
    const fromSnapshot = await loaded();
    fromSnapshot.restore(v.snapshot({ now: T0 }), { now: T0 + 1 });
    expect(await fromSnapshot.verify(qr, { now: T0 + 2, reader: gate })).toMatchObject({
      reason: 'REPLAYED',
    });
    const fromJournal = await loaded();
    fromJournal.replayJournal(journal[0] as Uint8Array, { now: T0 + 1 });
    expect(await fromJournal.verify(qr, { now: T0 + 2, reader: gate })).toMatchObject({ reason: 'REPLAYED' });
    // a scan's window: t + maxAge (90 s); after that the code is simply too old
    expect(await v.verify(qr, { now: T0 + 90, reader: gate })).toMatchObject({ reason: 'REPLAYED' });
    expect(await v.verify(qr, { now: T0 + 91, reader: gate })).toMatchObject({ reason: 'CODE_TOO_OLD' });
  });

  it('bad input, a bad clock, an old code, a full window, a failing journal or store: a reason, never a throw', async () => {
    const v = await loaded({ replayCapacity: 1 });
    expect(await v.recordUse('CC1:not base45 at all', { now: T0 })).toMatchObject({
      ok: false,
      reason: 'BAD_FORMAT',
    });
    expect(await v.recordUse(new Uint8Array([1, 2, 3]), { now: T0 })).toMatchObject({
      ok: false,
      reason: 'BAD_FORMAT',
    });
    expect(await v.recordUse({ uid: new Uint8Array(4) } as unknown as string, { now: T0 })).toMatchObject({
      ok: false,
      reason: 'BAD_FORMAT',
    });
    expect(await v.recordUse(await campus.code('2024010001', T0), { now: Date.now() })).toMatchObject({
      ok: false,
      reason: 'INTERNAL_ERROR',
    });
    // older than maxAge: it cannot pass here offline anyway, nothing is recorded
    expect(await v.recordUse(await campus.code('2024010001', T0 - 200), { now: T0 })).toEqual({ ok: true });
    // …and should the clock be set back (it ran fast when the platform admitted the code), the
    // code is refused as too old, not accepted
    const fast = await loaded();
    const early = await campus.code('T-0042', T0);
    expect(await fast.recordUse(early, { now: T0 + 100 })).toEqual({ ok: true });
    expect(await fast.verify(early, { now: T0 + 5, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'CODE_TOO_OLD',
    });
    expect(await v.recordUse(await campus.code('2024010001', T0), { now: T0 })).toEqual({ ok: true });
    expect(await v.recordUse(await campus.code('2024010002', T0), { now: T0 })).toMatchObject({
      ok: false,
      reason: 'REPLAY_STORE_FULL',
    });
    // after a lost window, a code made before the mark is too old for it
    const lost = await loaded();
    lost.markReplayWindowLost({ now: T0 });
    expect(await lost.recordUse(await campus.code('2024010001', T0), { now: T0 })).toMatchObject({
      ok: false,
      reason: 'CODE_TOO_OLD',
    });
    const failing = await loaded({
      onReplayRecord: () => {
        throw new Error('disk full');
      },
    });
    expect(await failing.recordUse(await campus.code('2024010001', T0), { now: T0 })).toMatchObject({
      ok: false,
      reason: 'REPLAY_STORE_UNAVAILABLE',
    });
    const down: ReplayStore = { checkAndInsert: () => Promise.reject(new Error('ECONNREFUSED')) };
    const remote = await loaded({ replayStore: down });
    expect(await remote.recordUse(await campus.code('2024010001', T0), { now: T0 })).toMatchObject({
      ok: false,
    });
    const shared: ReplayStore = { checkAndInsert: async () => 'replayed' as const };
    const fleet = await loaded({ replayStore: shared });
    expect(await fleet.recordUse(await campus.code('2024010001', T0), { now: T0 })).toMatchObject({
      ok: false,
      reason: 'REPLAYED',
    });
  });
});
