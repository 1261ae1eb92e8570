import {
  createPresentation,
  encodeQr,
  issueCredential,
  signStatusList,
  signTrustList,
} from '@campus-card/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createVerifier,
  type Decision,
  type ReaderPolicy,
  type ReplayStore,
  type Verifier,
} from '../src/index.js';
import { nodeBackend } from '../src/node.js';
import { decodeVerifierState, encodeVerifierState } from '../src/snapshot.js';
import { type Campus, loadedVerifier, makeCampus, T0, trustMaterial } from './helpers/fixtures.js';

const DAY = 86_400;
let campus: Campus;
beforeAll(async () => {
  campus = await makeCampus();
});

async function loaded(
  now = T0,
  opts: Parameters<typeof createVerifier>[0] extends infer O ? Partial<O> : never = {},
) {
  const v = createVerifier({ rootKeys: [campus.root.publicKey], backend: nodeBackend, ...opts });
  expect(v.loadTrustList(await campus.trustList(1, now - 3600), { now }).ok).toBe(true);
  expect(v.loadStatusList(await campus.statusList(1, now - 600), { now }).ok).toBe(true);
  expect(v.loadRoster(await campus.roster(1, now - 600), { now }).ok).toBe(true);
  return v;
}

function denied(d: Decision, reason: string) {
  expect(d).toMatchObject({ accepted: false, reason });
}

const gate = { id: 'gate-1' };

describe('basic decisions', () => {
  it('accepts a fresh code once, with audit', async () => {
    const v = await loaded();
    const qr = await campus.code('2024010001', T0 - 5);
    const d = await v.verify(qr, { now: T0, reader: gate });
    expect(d).toMatchObject({
      accepted: true,
      school: '10001',
      cardId: '2024010001',
      role: 'student',
      mode: 'full',
      warnings: [],
      audit: {
        trustList: { version: 1, iat: T0 - 3600 },
        statusList: { version: 1, iat: T0 - 600 },
        roster: { version: 1, iat: T0 - 600 },
        lastSyncAt: T0,
        clock: T0,
      },
    });
    denied(await v.verify(qr, { now: T0 + 1, reader: gate }), 'REPLAYED');
  });

  it('gives each decision the audit of its clock and material (shared and frozen while they are the same)', async () => {
    const v = await loaded();
    const a = await v.verify(await campus.code('2024010001', T0 - 5), { now: T0, reader: gate });
    const b = await v.verify(await campus.code('2024010002', T0 - 5), { now: T0, reader: gate });
    expect(b.audit).toBe(a.audit);
    expect(Object.isFrozen(a.audit)).toBe(true);
    const c = await v.verify(await campus.code('2024010001', T0 - 3), { now: T0 + 1, reader: gate });
    expect(c.audit).toMatchObject({ clock: T0 + 1, statusList: { version: 1 } });
    expect(a.audit.clock).toBe(T0);
    expect(v.loadStatusList(await campus.statusList(2, T0 - 60), { now: T0 + 2 }).ok).toBe(true);
    const d = await v.verify(await campus.code('2024010002', T0 - 2), { now: T0 + 2, reader: gate });
    expect(d.audit).toMatchObject({ clock: T0 + 2, statusList: { version: 2 }, lastSyncAt: T0 + 2 });
    expect(c.audit).toMatchObject({ clock: T0 + 1, statusList: { version: 1 }, lastSyncAt: T0 });
  });

  it('compact codes and physical cards go through the roster', async () => {
    const v = await loaded();
    const d = await v.verify(await campus.compact('2024010001', T0), { now: T0, reader: gate });
    expect(d).toMatchObject({ accepted: true, mode: 'compact', cardId: '2024010001' });
    const tap = await v.verify({ uid: new Uint8Array([4, 1, 2, 3]) }, { now: T0, reader: gate });
    expect(tap).toMatchObject({
      accepted: true,
      mode: 'physical',
      cardId: '2024010002',
      groups: ['dorm:A1'],
    });
    denied(await v.verify({ uid: new Uint8Array([9, 9]) }, { now: T0, reader: gate }), 'UNKNOWN_CARD');
  });

  it('never throws on garbage and fails closed', async () => {
    const v = await loaded();
    for (const input of ['', 'CC1:', 'hello', new Uint8Array([0xff]), 42, null, { uid: 'x' }, undefined]) {
      const d = await v.verify(input as never, { now: T0, reader: gate });
      expect(d.accepted).toBe(false);
    }
    denied(await v.verify('CC1:', { now: Number.NaN, reader: gate }), 'INTERNAL_ERROR');
    denied(await v.verify('CC1:', undefined as never), 'INTERNAL_ERROR');
  });

  it('denies before any trust list', async () => {
    const v = createVerifier({ rootKeys: [campus.root.publicKey] });
    denied(await v.verify(await campus.code('2024010001', T0), { now: T0, reader: gate }), 'NO_TRUST_LIST');
  });

  it('time window: too old, from the future', async () => {
    const v = await loaded();
    denied(
      await v.verify(await campus.code('2024010001', T0 - 91), { now: T0, reader: gate }),
      'CODE_TOO_OLD',
    );
    denied(
      await v.verify(await campus.code('2024010001', T0 + 31), { now: T0, reader: gate }),
      'CODE_FROM_FUTURE',
    );
  });
});

describe('trust material loading', () => {
  it('refuses rollback, same bytes is a no-op, keeps the last good copy', async () => {
    const v = await loaded();
    const tl2 = await campus.trustList(2, T0 - 100);
    expect(v.loadTrustList(tl2, { now: T0 })).toMatchObject({ ok: true, version: 2, changed: true });
    expect(v.loadTrustList(tl2, { now: T0 })).toMatchObject({ ok: true, changed: false });
    expect(v.loadTrustList(await campus.trustList(1, T0 - 3600), { now: T0 })).toMatchObject({
      ok: false,
      reason: 'ROLLBACK',
    });
    expect(v.loadTrustList(await campus.trustList(2, T0 - 50), { now: T0 })).toMatchObject({
      ok: false,
      reason: 'ROLLBACK',
    });
    const bad = tl2.slice();
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1;
    expect(v.loadTrustList(bad, { now: T0 })).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' });
    expect(v.status(T0).trustList).toMatchObject({ version: 2 });
    expect(v.loadStatusList(await campus.statusList(1, T0 - 600), { now: T0 })).toMatchObject({
      changed: false,
    });
    expect(v.loadStatusList(new Uint8Array([1, 2]), { now: T0 })).toMatchObject({
      ok: false,
      reason: 'BAD_FORMAT',
    });
    expect(v.loadRoster(await campus.roster(1, T0 - 600), { now: T0 })).toMatchObject({ changed: false });
  });
});

describe('S6 library anti-passback', () => {
  const policy: ReaderPolicy = {
    id: 'library',
    rules: [{ kind: 'antiPassback', id: 'library-apb', zone: 'library', minReentrySeconds: 60 }],
  };
  it('cannot enter twice without leaving; re-entry after the interval', async () => {
    const v = await loaded();
    const entry = { id: 'lib-in', policy, direction: 'in' as const };
    const exit = { id: 'lib-out', policy, direction: 'out' as const };
    const id = '2024010001';
    expect((await v.verify(await campus.code(id, T0), { now: T0, reader: entry })).accepted).toBe(true);
    const twice = await v.verify(await campus.code(id, T0 + 5), { now: T0 + 5, reader: entry });
    expect(twice).toMatchObject({ accepted: false, reason: 'POLICY_DENIED', rule: 'library-apb' });
    expect((await v.verify(await campus.code(id, T0 + 10), { now: T0 + 10, reader: exit })).accepted).toBe(
      true,
    );
    denied(await v.verify(await campus.code(id, T0 + 30), { now: T0 + 30, reader: entry }), 'POLICY_DENIED');
    expect((await v.verify(await campus.code(id, T0 + 80), { now: T0 + 80, reader: entry })).accepted).toBe(
      true,
    );
  });
  it('a replayed code does not move the passback state', async () => {
    const v = await loaded();
    const entry = { id: 'lib-in', policy, direction: 'in' as const };
    const exit = { id: 'lib-out', policy, direction: 'out' as const };
    const qr = await campus.code('2024010002', T0);
    expect((await v.verify(qr, { now: T0, reader: entry })).accepted).toBe(true);
    const out = await campus.code('2024010002', T0 + 1);
    expect((await v.verify(out, { now: T0 + 1, reader: exit })).accepted).toBe(true);
    // replaying the exit code must not record a second exit (the replay check precedes commit)
    denied(await v.verify(out, { now: T0 + 2, reader: exit }), 'REPLAYED');
  });
});

describe('anti-passback with an asynchronous replay store', () => {
  it('concurrent codes of one card: only one enters', async () => {
    const material = await trustMaterial(campus);
    const seen = new Set<string>();
    const store: ReplayStore = {
      checkAndInsert: (d) =>
        new Promise((res) =>
          setTimeout(() => {
            const k = Array.from(d).join(',');
            if (seen.has(k)) return res('replayed');
            seen.add(k);
            res('fresh');
          }, 5),
        ),
    };
    const v = loadedVerifier(campus, material, { backend: nodeBackend, replayStore: store });
    const reader = {
      id: 'in',
      direction: 'in' as const,
      policy: {
        id: 'h',
        rules: [{ kind: 'antiPassback' as const, id: 'a', zone: 'hall', minReentrySeconds: 0 }],
      },
    };
    const r = await Promise.all([
      v.verify(await campus.code('2024010001', T0), { now: T0 + 1, reader }),
      v.verify(await campus.code('2024010001', T0 + 1), { now: T0 + 1, reader }),
    ]);
    expect(r.filter((d) => d.accepted)).toHaveLength(1);
    expect(r.find((d) => !d.accepted)).toMatchObject({
      reason: 'POLICY_DENIED',
      rule: 'a',
      cardId: '2024010001',
    });
    // two different cards at once both enter; a card of each then leaves and comes back
    const both = await Promise.all([
      v.verify(await campus.code('2024010002', T0 + 2), { now: T0 + 2, reader }),
      v.verify(await campus.code('T-0042', T0 + 2), { now: T0 + 2, reader }),
    ]);
    expect(both.map((d) => d.accepted)).toEqual([true, true]);
    // a replayed code is still REPLAYED, not a policy denial
    const qr = await campus.code('P-0007', T0 + 3);
    const twice = await Promise.all([
      v.verify(qr, { now: T0 + 3, reader }),
      v.verify(qr, { now: T0 + 3, reader }),
    ]);
    expect(twice.map((d) => (d.accepted ? 'ok' : d.reason)).sort()).toEqual(['REPLAYED', 'ok']);
  });
});

describe('anti-passback across schools', () => {
  const reader = {
    id: 'lib-in',
    direction: 'in' as const,
    policy: {
      id: 'library',
      rules: [{ kind: 'antiPassback' as const, id: 'apb', zone: 'library', minReentrySeconds: 0 }],
    },
  };

  /** A verifier trusting the campus issuer for schools 10001 and 10002, with a status list each. */
  async function twoSchools(): Promise<Verifier> {
    const v = createVerifier({ rootKeys: [campus.root.publicKey], backend: nodeBackend });
    const tl = await signTrustList(
      {
        version: 1,
        iat: T0 - 3600,
        authority: 'platform',
        keys: [
          {
            key: campus.issuer.publicKey,
            roles: ['teacher', 'student', 'parent'],
            nbf: T0 - 365 * DAY,
            exp: T0 + 365 * DAY,
            schools: ['10001', '10002'],
          },
        ],
      },
      campus.root.privateKey,
    );
    expect(v.loadTrustList(tl, { now: T0 }).ok).toBe(true);
    for (const school of ['10001', '10002']) {
      const sl = await signStatusList(
        { school, version: 1, iat: T0 - 600, statuses: new Array(64).fill(0) },
        campus.issuer.privateKey,
      );
      expect(v.loadStatusList(sl, { now: T0 }).ok).toBe(true);
    }
    return v;
  }

  /** A code of card 2024010001 of `school` at `t` (its own phone key per school). */
  async function code(school: string, t: number): Promise<string> {
    const phone = campus.cards.get('2024010001')?.phone;
    if (!phone) throw new Error('no card');
    const credential = await issueCredential(
      {
        school,
        cardId: '2024010001',
        role: 'student',
        iat: T0 - DAY,
        validityDays: 30,
        holderKey: phone.publicKey,
        statusIndex: school === '10001' ? 1 : 7,
      },
      campus.issuer.privateKey,
    );
    return encodeQr(await createPresentation({ credential, t }, phone.privateKey));
  }

  it('the same card id in two schools: both cards enter, each only once', async () => {
    const v = await twoSchools();
    expect(await v.verify(await code('10001', T0), { now: T0, reader })).toMatchObject({
      accepted: true,
      school: '10001',
    });
    expect(await v.verify(await code('10002', T0 + 1), { now: T0 + 1, reader })).toMatchObject({
      accepted: true,
      school: '10002',
    });
    for (const school of ['10001', '10002']) {
      expect(await v.verify(await code(school, T0 + 2), { now: T0 + 2, reader })).toMatchObject({
        accepted: false,
        reason: 'POLICY_DENIED',
        rule: 'apb',
      });
    }
  });

  it('a verifier snapshot with a version 1 passback state: a card inside stays inside after the upgrade', async () => {
    const v = await twoSchools();
    const current = decodeVerifierState(v.snapshot({ now: T0 }));
    const upgraded = encodeVerifierState({
      ...current,
      passback: { version: 1, entries: [['library', '2024010001', true, T0 - 100, null]] },
    });
    const w = await twoSchools();
    w.restore(upgraded, { now: T0 });
    // the legacy entry does not know the school: the card id is inside for either school
    for (const school of ['10001', '10002']) {
      expect(await w.verify(await code(school, T0 + 1), { now: T0 + 1, reader })).toMatchObject({
        reason: 'POLICY_DENIED',
      });
    }
    // one leaves, recorded with its school: from then on the schools are apart
    const out = { ...reader, id: 'lib-out', direction: 'out' as const };
    expect((await w.verify(await code('10002', T0 + 2), { now: T0 + 2, reader: out })).accepted).toBe(true);
    expect((await w.verify(await code('10001', T0 + 3), { now: T0 + 3, reader })).accepted).toBe(true);
    expect((await w.verify(await code('10002', T0 + 4), { now: T0 + 4, reader })).accepted).toBe(true);
    // and the next snapshot is version 2, with the schools
    const passback = decodeVerifierState(w.snapshot({ now: T0 + 5 })).passback as {
      version: number;
      entries: unknown[][];
    };
    expect(passback.version).toBe(2);
    expect(passback.entries.map((row) => row.slice(0, 4))).toEqual([
      ['library', '10001', '2024010001', true],
      ['library', '10002', '2024010001', true],
    ]);
  });
});

describe('S8 dorm building', () => {
  const policy: ReaderPolicy = {
    id: 'dorm-B3',
    rules: [
      { kind: 'roles', id: 'students-only', allow: ['student'] },
      { kind: 'groups', id: 'dorm-B3-residents', anyOf: ['dorm:B3'] },
    ],
  };
  it('admits residents of B3 only, by QR and by physical card', async () => {
    const v = await loaded();
    const reader = { id: 'dorm-B3-door', policy };
    expect((await v.verify(await campus.code('2024010001', T0), { now: T0, reader })).accepted).toBe(true);
    const other = await v.verify(await campus.code('2024010002', T0), { now: T0, reader });
    expect(other).toMatchObject({ reason: 'POLICY_DENIED', rule: 'dorm-B3-residents', cardId: '2024010002' });
    const teacher = await v.verify(await campus.code('T-0042', T0), { now: T0, reader });
    expect(teacher).toMatchObject({ reason: 'POLICY_DENIED', rule: 'students-only' });
    const tap = await v.verify({ uid: new Uint8Array([4, 1, 2, 3]) }, { now: T0, reader });
    expect(tap).toMatchObject({ reason: 'POLICY_DENIED', rule: 'dorm-B3-residents' });
  });
});

describe('S7 teacher canteen', () => {
  it('teachers only; an invalid policy fails closed', async () => {
    const v = await loaded();
    const reader = {
      id: 'canteen-t',
      policy: { id: 'tc', rules: [{ kind: 'roles', id: 'teachers', allow: ['teacher'] }] } as ReaderPolicy,
    };
    expect((await v.verify(await campus.code('T-0042', T0), { now: T0, reader })).accepted).toBe(true);
    denied(await v.verify(await campus.code('2024010001', T0), { now: T0, reader }), 'POLICY_DENIED');
    denied(await v.verify(await campus.code('P-0007', T0), { now: T0, reader }), 'POLICY_DENIED');
    const broken = { id: 'x', policy: { id: 'b', rules: [{ kind: 'nope' }] } as unknown as ReaderPolicy };
    denied(await v.verify(await campus.code('T-0042', T0), { now: T0, reader: broken }), 'INTERNAL_ERROR');
  });

  it('a POS that takes payment codes only: a code with another scene or none is denied, a card tap passes', async () => {
    const v = await loaded();
    const pos = {
      id: 'pos-1',
      policy: { id: 'pay', rules: [{ kind: 'scene', id: 'payment-codes', require: [2] }] } as ReaderPolicy,
    };
    const t = T0;
    expect(
      (await v.verify(await campus.code('T-0042', t, { scene: 2 }), { now: t, reader: pos })).accepted,
    ).toBe(true);
    for (const code of [
      await campus.code('T-0042', t, { scene: 1 }),
      await campus.code('T-0042', t),
      await campus.compact('T-0042', t),
    ]) {
      expect(await v.verify(code, { now: t, reader: pos })).toMatchObject({
        accepted: false,
        reason: 'POLICY_DENIED',
        rule: 'payment-codes',
      });
    }
    expect((await v.verify({ uid: new Uint8Array([4, 1, 2, 3]) }, { now: t, reader: pos })).accepted).toBe(
      true,
    );
  });
});

describe('C5 card revoked after a sync', () => {
  it('status list v2 revokes the card for QR and physical card', async () => {
    const v = await loaded();
    expect((await v.verify({ uid: new Uint8Array([4, 1, 2, 3]) }, { now: T0, reader: gate })).accepted).toBe(
      true,
    );
    expect((await v.verify(await campus.code('2024010002', T0), { now: T0, reader: gate })).accepted).toBe(
      true,
    );
    expect(v.loadStatusList(await campus.statusList(2, T0 + 10, { 2: 2 }), { now: T0 + 20 })).toMatchObject({
      ok: true,
      version: 2,
    });
    const tap = await v.verify({ uid: new Uint8Array([4, 1, 2, 3]) }, { now: T0 + 30, reader: gate });
    expect(tap).toMatchObject({ reason: 'REVOKED', audit: { statusList: { version: 2 } } });
    denied(
      await v.verify(await campus.code('2024010002', T0 + 30), { now: T0 + 30, reader: gate }),
      'REVOKED',
    );
    expect(
      (await v.verify(await campus.code('2024010001', T0 + 30), { now: T0 + 30, reader: gate })).accepted,
    ).toBe(true);
  });
});

describe('status index beyond the list', () => {
  it('a credential whose status index is 2^31 is denied (ERR_STATUS_INDEX_OUT_OF_RANGE), not read as entry 0', async () => {
    const v = await loaded();
    const card = campus.cards.get('2024010001');
    if (!card) throw new Error('no card');
    for (const statusIndex of [64, 2 ** 31, 2 ** 32 - 1]) {
      const credential = await issueCredential(
        {
          school: '10001',
          cardId: card.cardId,
          role: card.role,
          iat: T0 - DAY,
          validityDays: 30,
          holderKey: card.phone.publicKey,
          statusIndex,
        },
        campus.issuer.privateKey,
      );
      const qr = encodeQr(await createPresentation({ credential, t: T0 }, card.phone.privateKey));
      const d = await v.verify(qr, { now: T0, reader: gate });
      expect(d).toMatchObject({
        accepted: false,
        reason: 'REVOKED',
        coreCode: 'ERR_STATUS_INDEX_OUT_OF_RANGE',
      });
    }
  });
});

describe('reboot in the middle of the window', () => {
  it('snapshot → new verifier → restore: the code is still a replay; state survives', async () => {
    const v = await loaded();
    const qr = await campus.code('2024010001', T0);
    expect((await v.verify(qr, { now: T0, reader: gate })).accepted).toBe(true);
    const snap = v.snapshot({ now: T0 + 30 });
    const v2: Verifier = await loaded(T0 + 30);
    v2.restore(snap, { now: T0 + 31 });
    denied(await v2.verify(qr, { now: T0 + 40, reader: gate }), 'REPLAYED');
    expect(v2.status(T0 + 40).floor).toBe(T0);
    // rollback is still refused after the reboot, the same list is accepted again
    const v3 = createVerifier({ rootKeys: [campus.root.publicKey] });
    v3.restore(snap, { now: T0 + 31 });
    expect(v3.loadTrustList(await campus.trustList(1, T0 - 3600), { now: T0 + 31 }).ok).toBe(true);
    expect(v3.loadTrustList(await campus.trustList(1, T0 - 7), { now: T0 + 31 })).toMatchObject({
      reason: 'ROLLBACK',
    });
    expect(() => v3.restore(new Uint8Array([1, 2, 3]), { now: T0 })).toThrow(/snapshot/);
  });

  it('a snapshot that cannot be read: markReplayWindowLost refuses every code that could have been used, and no other', async () => {
    const v = await loaded();
    const used = await campus.code('2024010001', T0);
    expect((await v.verify(used, { now: T0, reader: gate })).accepted).toBe(true);
    const damaged = v.snapshot({ now: T0 + 5 });
    damaged.set([(damaged.at(-1) ?? 0) ^ 1], damaged.length - 1);
    // the reboot: the snapshot is refused, so the new window is empty
    const careless = await loaded(T0 + 10);
    expect(() => careless.restore(damaged, { now: T0 + 10 })).toThrow(/snapshot/);
    expect((await careless.verify(used, { now: T0 + 20, reader: gate })).accepted).toBe(true); // a second use
    const v2 = await loaded(T0 + 10);
    expect(() => v2.restore(damaged, { now: T0 + 10 })).toThrow(/snapshot/);
    expect(v2.markReplayWindowLost({ now: T0 + 10 })).toBe(T0 + 40);
    denied(await v2.verify(used, { now: T0 + 20, reader: gate }), 'CODE_TOO_OLD');
    // a code the phone made up to maxFuture (30 s) past the boot could have been used before it
    denied(
      await v2.verify(await campus.code('2024010002', T0 + 40), { now: T0 + 41, reader: gate }),
      'CODE_TOO_OLD',
    );
    const fresh = await campus.code('2024010002', T0 + 41);
    expect((await v2.verify(fresh, { now: T0 + 41, reader: gate })).accepted).toBe(true);
    denied(await v2.verify(fresh, { now: T0 + 42, reader: gate }), 'REPLAYED');
    // the mark survives the next snapshot and reboot
    const v3 = await loaded(T0 + 50);
    v3.restore(v2.snapshot({ now: T0 + 45 }), { now: T0 + 50 });
    denied(
      await v3.verify(await campus.code('T-0042', T0 + 35), { now: T0 + 50, reader: gate }),
      'CODE_TOO_OLD',
    );
    denied(await v3.verify(fresh, { now: T0 + 50, reader: gate }), 'REPLAYED');
    // once every code made by the mark has expired, scans are as before
    const later = T0 + 40 + 90 + 1;
    expect(
      (await v3.verify(await campus.code('T-0042', later - 60), { now: later, reader: gate })).accepted,
    ).toBe(true);
    expect(() => v3.markReplayWindowLost({ now: Date.now() })).toThrow(TypeError);
  });

  it('markReplayWindowLost with a boot clock reading slow: the trusted-time floor raises the mark', async () => {
    const v = await loaded();
    const used = await campus.code('2024010001', T0);
    expect((await v.verify(used, { now: T0, reader: gate })).accepted).toBe(true);
    // the floor comes back (snapshot, or material signed at T0): the boot clock reads 100 s behind
    const v2 = createVerifier({ rootKeys: [campus.root.publicKey], backend: nodeBackend });
    expect(v2.loadTrustList(await campus.trustList(1, T0), { now: T0 - 100 }).ok).toBe(true);
    expect(v2.loadStatusList(await campus.statusList(1, T0), { now: T0 - 100 }).ok).toBe(true);
    expect(v2.status(T0 - 100).floor).toBe(T0);
    expect(v2.markReplayWindowLost({ now: T0 - 100 })).toBe(T0 + 30);
    denied(await v2.verify(used, { now: T0 - 20, reader: gate }), 'CODE_TOO_OLD');
  });

  it('markReplayWindowLost with a custom replay store: the window lives there, nothing is marked', async () => {
    const seen = new Set<string>();
    const store: ReplayStore = {
      checkAndInsert(digest) {
        const k = Buffer.from(digest).toString('hex');
        if (seen.has(k)) return 'replayed';
        seen.add(k);
        return 'fresh';
      },
    };
    const v = await loaded(T0, { replayStore: store });
    expect(v.markReplayWindowLost({ now: T0 })).toBeNull();
    expect((await v.verify(await campus.code('2024010001', T0), { now: T0, reader: gate })).accepted).toBe(
      true,
    );
  });
});

describe('issue 7: field hardening', () => {
  it('a trust list past its age is denied TRUST_LIST_STALE, or admitted with a warning under a grace policy', async () => {
    const v = await loaded();
    const later = T0 + 31 * DAY;
    const d = await v.verify(await campus.code('2024010001', later), { now: later, reader: gate });
    expect(d).toMatchObject({ accepted: false, reason: 'TRUST_LIST_STALE' });
    expect(v.status(later).trustList?.state).toBe('stale');
    const g = await loaded(T0, {
      maxStaleness: { trustList: 10 * DAY, statusList: 100 * DAY, roster: 100 * DAY },
      stalenessGrace: { trustList: 30 * DAY },
    });
    const soon = T0 + 15 * DAY;
    const ok = await g.verify(await campus.code('2024010001', soon), { now: soon, reader: gate });
    expect(ok).toMatchObject({ accepted: true, warnings: ['TRUST_LIST_STALE'] });
  });

  it('a status list that stopped refreshing while a card was lost: STATUS_LIST_STALE', async () => {
    const v = await loaded();
    // the card is reported lost at T0 + 1h, but this reader never gets status list v2
    const later = T0 + 2 * DAY;
    const d = await v.verify(await campus.code('2024010002', later), { now: later, reader: gate });
    expect(d).toMatchObject({
      accepted: false,
      reason: 'STATUS_LIST_STALE',
      cardId: '2024010002',
      audit: { statusList: { version: 1, iat: T0 - 600 }, lastSyncAt: T0 },
    });
    const tap = await v.verify({ uid: new Uint8Array([4, 1, 2, 3]) }, { now: later, reader: gate });
    expect(tap).toMatchObject({ accepted: false, reason: 'STATUS_LIST_STALE' });
  });

  it('a status list signed days ahead of the reader (a signer clock running fast) ages from when it was loaded', async () => {
    const v = createVerifier({ rootKeys: [campus.root.publicKey], backend: nodeBackend });
    expect(v.loadTrustList(await campus.trustList(1, T0 - 3600), { now: T0 }).ok).toBe(true);
    // signed 10 days "later" than the reader's clock; the floor does not move for it
    expect(v.loadStatusList(await campus.statusList(1, T0 + 10 * DAY), { now: T0 }).ok).toBe(true);
    expect(v.status(T0 + 3600).statusLists['10001']).toMatchObject({ age: 3600, state: 'fresh' });
    // the reader stops syncing: after the default day its list is stale, not after eleven
    const later = T0 + 2 * DAY;
    const d = await v.verify(await campus.code('2024010001', later), { now: later, reader: gate });
    expect(d).toMatchObject({ accepted: false, reason: 'STATUS_LIST_STALE' });
    expect(v.status(later).statusLists['10001']).toMatchObject({ age: 2 * DAY, state: 'stale' });
    // loading the same bytes again later does not make it young
    expect(v.loadStatusList(await campus.statusList(1, T0 + 10 * DAY), { now: later }).ok).toBe(true);
    expect(v.status(later).statusLists['10001']?.age).toBe(2 * DAY);
  });

  it('clock set back a day after a reboot: CLOCK_BEFORE_FLOOR for every decision', async () => {
    const v = await loaded();
    expect((await v.verify(await campus.code('2024010001', T0), { now: T0, reader: gate })).accepted).toBe(
      true,
    );
    const snap = v.snapshot({ now: T0 });
    const v2 = await loaded(T0);
    v2.restore(snap, { now: T0 });
    const back = T0 - DAY;
    // a code made by a phone whose clock is also a day behind (a screenshot of yesterday) is refused
    const d = await v2.verify(await campus.code('2024010001', back), { now: back, reader: gate });
    expect(d).toMatchObject({
      accepted: false,
      reason: 'CLOCK_BEFORE_FLOOR',
      audit: { clock: back, floor: T0 },
    });
    denied(
      await v2.verify({ uid: new Uint8Array([4, 1, 2, 3]) }, { now: back, reader: gate }),
      'CLOCK_BEFORE_FLOOR',
    );
    expect(v2.status(back).clockBeforeFloor).toBe(true);
    // within the tolerance it still works, for codes the replay window cannot have forgotten
    const near = await v2.verify(await campus.code('2024010001', T0 - 60), { now: T0 - 60, reader: gate });
    expect(near).toMatchObject({ accepted: true });
    const old = await v2.verify(await campus.code('2024010001', T0 - 200), { now: T0 - 200, reader: gate });
    expect(old).toMatchObject({ accepted: false, reason: 'CODE_TOO_OLD' });
  });

  it('a list signed a year in the future does not move the floor', async () => {
    const v = await loaded();
    const floor = v.status(T0).floor;
    expect(floor).toBe(T0 - 600);
    const res = v.loadStatusList(await campus.statusList(9, T0 + 365 * DAY), { now: T0 });
    expect(res.ok).toBe(true);
    expect(v.status(T0).floor).toBe(floor);
    expect((await v.verify(await campus.code('2024010001', T0), { now: T0, reader: gate })).accepted).toBe(
      true,
    );
    // and a trust list likewise
    expect(v.loadTrustList(await campus.trustList(5, T0 + 365 * DAY), { now: T0 }).ok).toBe(true);
    expect(v.status(T0 + 1).floor).toBe(T0);
  });
});
