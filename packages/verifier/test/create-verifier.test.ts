/**
 * Trust material loaded while a scan awaits (src/create-verifier.ts): an asynchronous signature
 * backend (WebCrypto) or replay store (Redis) leaves room for the gate client to install a new
 * status list, trust list or roster mid-scan. The scan must decide with what is held when it
 * commits, and its audit must name the material it actually checked.
 */
import { generateKeyPair, type SignatureBackend, signTrustList } from '@campus-card/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMemoryReplayStore, createVerifier, type Decision, type ReplayStore } from '../src/index.js';
import { nodeBackend } from '../src/node.js';
import {
  type Campus,
  loadedVerifier,
  makeCampus,
  SCHOOL,
  seed,
  T0,
  type TrustMaterial,
  trustMaterial,
} from './helpers/fixtures.js';

const DAY = 86_400;
let campus: Campus;
let m: TrustMaterial;
beforeAll(async () => {
  campus = await makeCampus();
  m = await trustMaterial(campus);
});

/** A backend whose answers wait until `release()` (a WebCrypto stand-in the test steps through). */
function gatedBackend() {
  const waiting: (() => void)[] = [];
  const backend: SignatureBackend = {
    verify(k, d, s) {
      const r = nodeBackend.verify(k, d, s) as boolean;
      return new Promise<boolean>((res) => waiting.push(() => res(r)));
    },
  };
  /** Answers every pending check, and those they lead to, until the scan settles. */
  async function release(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      const g = waiting.shift();
      if (g === undefined) {
        await new Promise((r) => setTimeout(r, 0));
        if (waiting.length === 0) return;
        continue;
      }
      g();
      await new Promise((r) => setTimeout(r, 0));
    }
  }
  return { backend, release, waiting };
}

/** A replay store answering (from a memory store) only when `release()` is called (a Redis stand-in). */
function gatedStore() {
  const inner = createMemoryReplayStore({ capacity: 1000 });
  const waiting: (() => void)[] = [];
  const store: ReplayStore = {
    checkAndInsert(digest, expiresAt, now) {
      const outcome = inner.checkAndInsert(digest, expiresAt, now);
      return new Promise((res) => waiting.push(() => res(outcome)));
    },
  };
  return {
    store,
    inner,
    waiting,
    release: () => {
      for (const g of waiting.splice(0)) g();
    },
  };
}

const reader = { id: 'gate-1' };

/** A trust list `version` signed by the campus root that lists `keys` (default: a stranger's only). */
function trustListWithout(version: number) {
  const stranger = generateKeyPair('ES256', { seed: seed(99) });
  return signTrustList(
    {
      version,
      iat: T0 - 60,
      authority: 'platform',
      keys: [
        {
          key: stranger.publicKey,
          roles: ['teacher', 'student', 'parent'],
          nbf: T0 - 365 * DAY,
          exp: T0 + 365 * DAY,
          schools: [SCHOOL],
        },
      ],
    },
    campus.root.privateKey,
  );
}

function tick(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

describe('a status list loaded while the signature backend awaits', () => {
  it('revoking the card: denied REVOKED, the audit names the list that revoked it, the code not used', async () => {
    const sl2 = await campus.statusList(2, T0 - 300, { 1: 1 }); // revokes 2024010001
    const gate = gatedBackend();
    const v = loadedVerifier(campus, m, { backend: gate.backend }, { roster: false });
    const code = await campus.code('2024010001', T0);
    const pending = v.verify(code, { now: T0, reader });
    await Promise.resolve();
    expect(gate.waiting.length).toBeGreaterThan(0); // the scan is in flight
    expect(v.loadStatusList(sl2, { now: T0 }).ok).toBe(true);
    await gate.release();
    const d = await pending;
    expect(d).toMatchObject({ accepted: false, reason: 'REVOKED', cardId: '2024010001' });
    expect(d.audit.statusList).toEqual({ version: 2, iat: T0 - 300 });
    // the re-check ran before the replay window: the code was not recorded
    expect(v.status(T0).replay?.size).toBe(0);
    const sl3 = await campus.statusList(3, T0 - 200); // reinstated
    expect(v.loadStatusList(sl3, { now: T0 }).ok).toBe(true);
    const again = v.verify(code, { now: T0, reader });
    await gate.release();
    expect(await again).toMatchObject({ accepted: true, audit: { statusList: { version: 3 } } });
  });

  it('not revoking the card: accepted, the audit names the list checked (the new one)', async () => {
    const sl2 = await campus.statusList(2, T0 - 300, { 3: 1 }); // revokes another card
    const gate = gatedBackend();
    const v = loadedVerifier(campus, m, { backend: gate.backend }, { roster: false });
    const pending = v.verify(await campus.code('2024010001', T0), { now: T0, reader });
    await Promise.resolve();
    expect(v.loadStatusList(sl2, { now: T0 }).ok).toBe(true);
    await gate.release();
    const d = await pending;
    expect(d).toMatchObject({ accepted: true, cardId: '2024010001' });
    expect(d.audit.statusList).toEqual({ version: 2, iat: T0 - 300 });
  });

  it('the same bytes loaded again change nothing: accepted, the audit names the list held all along', async () => {
    const gate = gatedBackend();
    const v = loadedVerifier(campus, m, { backend: gate.backend }, { roster: false });
    const pending = v.verify(await campus.code('2024010001', T0), { now: T0, reader });
    await Promise.resolve();
    expect(v.loadStatusList(m.sl, { now: T0 })).toMatchObject({ ok: true, changed: false });
    expect(v.loadTrustList(m.tl, { now: T0 })).toMatchObject({ ok: true, changed: false });
    expect(v.loadStatusList(new Uint8Array([1, 2, 3]), { now: T0 }).ok).toBe(false); // a failed load
    await gate.release();
    const d = await pending;
    expect(d).toMatchObject({ accepted: true });
    expect(d.audit).toMatchObject({
      trustList: { version: 1, iat: T0 - 3600 },
      statusList: { version: 1, iat: T0 - 600 },
    });
  });

  it('a status list past its age is judged by the list checked: the new, fresh one admits', async () => {
    const old = await campus.statusList(1, T0 - 2 * DAY);
    const fresh = await campus.statusList(2, T0 - 60);
    const gate = gatedBackend();
    const v = createVerifier({
      rootKeys: [campus.root.publicKey],
      backend: gate.backend,
      stalenessGrace: { statusList: 2 * DAY },
    });
    v.loadTrustList(m.tl, { now: T0 - 2 * DAY });
    v.loadStatusList(old, { now: T0 - 2 * DAY });
    const pending = v.verify(await campus.code('2024010001', T0), { now: T0, reader });
    await Promise.resolve();
    expect(v.loadStatusList(fresh, { now: T0 }).ok).toBe(true);
    await gate.release();
    const d = await pending;
    expect(d).toMatchObject({ accepted: true, warnings: [], audit: { statusList: { version: 2 } } });
  });
});

describe('a trust list loaded while the signature backend awaits', () => {
  it('dropping the issuer key: denied, the audit names the new list', async () => {
    const tl2 = await trustListWithout(2);
    const gate = gatedBackend();
    const v = loadedVerifier(campus, m, { backend: gate.backend }, { roster: false });
    const pending = v.verify(await campus.code('2024010001', T0), { now: T0, reader });
    await Promise.resolve();
    expect(v.loadTrustList(tl2, { now: T0 })).toMatchObject({ ok: true, dropped: [`statusList:${SCHOOL}`] });
    await gate.release();
    const d = await pending;
    expect(d).toMatchObject({ accepted: false, reason: 'UNKNOWN_ISSUER' });
    expect(d.audit.trustList).toEqual({ version: 2, iat: T0 - 60 });
    expect(v.status(T0).replay?.size).toBe(0);
  });

  it('keeping the issuer key: the code is verified again with it and accepted, the audit names it', async () => {
    const tl2 = await campus.trustList(2, T0 - 60);
    const gate = gatedBackend();
    const v = loadedVerifier(campus, m, { backend: gate.backend }, { roster: false });
    const pending = v.verify(await campus.code('2024010001', T0), { now: T0, reader });
    await Promise.resolve();
    expect(v.loadTrustList(tl2, { now: T0 })).toMatchObject({ ok: true, dropped: [] });
    await gate.release();
    const d = await pending;
    expect(d).toMatchObject({ accepted: true, cardId: '2024010001' });
    expect(d.audit).toMatchObject({ trustList: { version: 2, iat: T0 - 60 }, statusList: { version: 1 } });
  });

  it('reloaded at every signature check: denied after a bounded number of re-checks, never accepted', async () => {
    let version = 1;
    const v = createVerifier({
      rootKeys: [campus.root.publicKey],
      backend: {
        verify(k, d, s) {
          const r = nodeBackend.verify(k, d, s) as boolean;
          return Promise.resolve().then(async () => {
            version++;
            v.loadTrustList(await campus.trustList(version, T0 - 60), { now: T0 });
            return r;
          });
        },
      },
    });
    v.loadTrustList(m.tl, { now: T0 });
    v.loadStatusList(m.sl, { now: T0 });
    const d = await v.verify(await campus.code('2024010001', T0), { now: T0, reader });
    expect(d).toMatchObject({ accepted: false, reason: 'INTERNAL_ERROR' });
    expect((d as { detail: string }).detail).toMatch(/kept changing/);
  });
});

describe('a roster loaded while a compact code is checked', () => {
  it('a new roster: the code is checked against it, accepted, and the audit names it', async () => {
    const r2 = await campus.roster(2, T0 - 60);
    const gate = gatedBackend();
    const v = loadedVerifier(campus, m, { backend: gate.backend });
    const pending = v.verify(await campus.compact('2024010001', T0), { now: T0, reader });
    await Promise.resolve();
    expect(v.loadRoster(r2, { now: T0 }).ok).toBe(true);
    await gate.release();
    const d = await pending;
    expect(d).toMatchObject({ accepted: true, mode: 'compact', audit: { roster: { version: 2 } } });
  });
});

describe('trust material loaded while the replay store answers', () => {
  async function scan(load: (v: ReturnType<typeof createVerifier>) => void): Promise<{
    d: Decision;
    size: number;
  }> {
    const gate = gatedStore();
    const v = loadedVerifier(campus, m, { backend: nodeBackend, replayStore: gate.store }, { roster: false });
    const pending = v.verify(await campus.code('2024010001', T0), { now: T0, reader });
    await tick();
    expect(gate.waiting).toHaveLength(1); // the store holds the scan
    load(v);
    gate.release();
    return { d: await pending, size: gate.inner.size };
  }

  it('a status list revoking the card: denied REVOKED, the audit names it (the store keeps the code: fail closed)', async () => {
    const sl2 = await campus.statusList(2, T0 - 300, { 1: 1 });
    const { d, size } = await scan((v) => expect(v.loadStatusList(sl2, { now: T0 }).ok).toBe(true));
    expect(d).toMatchObject({ accepted: false, reason: 'REVOKED', audit: { statusList: { version: 2 } } });
    // the store recorded the code when it answered and cannot forget it: that code stays used
    expect(size).toBe(1);
  });

  it('a status list not revoking it: accepted, the audit names it', async () => {
    const sl2 = await campus.statusList(2, T0 - 300);
    const { d } = await scan((v) => expect(v.loadStatusList(sl2, { now: T0 }).ok).toBe(true));
    expect(d).toMatchObject({ accepted: true, audit: { statusList: { version: 2 } } });
  });

  it('a trust list dropping the issuer key: denied', async () => {
    const tl2 = await trustListWithout(2);
    const { d } = await scan((v) => expect(v.loadTrustList(tl2, { now: T0 }).ok).toBe(true));
    expect(d).toMatchObject({
      accepted: false,
      reason: 'UNKNOWN_ISSUER',
      audit: { trustList: { version: 2 } },
    });
  });

  it('a trust list keeping it: accepted, the audit names it', async () => {
    const tl2 = await campus.trustList(2, T0 - 60);
    const { d } = await scan((v) => expect(v.loadTrustList(tl2, { now: T0 }).ok).toBe(true));
    expect(d).toMatchObject({
      accepted: true,
      audit: { trustList: { version: 2 }, statusList: { version: 1 } },
    });
  });

  it('nothing new (the same bytes): accepted, the audit names what was held', async () => {
    const { d } = await scan((v) => expect(v.loadStatusList(m.sl, { now: T0 }).ok).toBe(true));
    expect(d).toMatchObject({
      accepted: true,
      audit: { trustList: { version: 1 }, statusList: { version: 1 } },
    });
  });
});
