/**
 * The verifier really uses its credential cache (issue 3 §5): a credential seen before skips the
 * issuer signature, never the holder signature, and a trust list change that withdraws the
 * issuer's key or narrows its limits is honoured by cached credentials. Calls are counted on the
 * signature backend (trust material is verified outside it, so only scans show up).
 */
import {
  createPresentation,
  encodeQr,
  generateKeyPair,
  issueCredential,
  KEY_USE,
  type PublicKey,
  type SignatureBackend,
  signStatusList,
  signTrustList,
  toHex,
  type VerifiedCredential,
  verifyPresentation,
  verifyStatusList,
  verifyTrustList,
} from '@campus-card/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCredentialCache } from '../src/credential-cache.js';
import { createVerifier, type Verifier, type VerifierOptions } from '../src/index.js';
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
const gate = { id: 'gate-1' };
const ID = '2024010001';

let campus: Campus;
let material: TrustMaterial;
beforeAll(async () => {
  campus = await makeCampus();
  material = await trustMaterial(campus);
});

/** A backend over node:crypto that logs each `verify` as `issuer`, `holder` or `other`. */
function countingBackend(): { backend: SignatureBackend; calls: string[] } {
  const calls: string[] = [];
  const issuerKid = toHex(campus.issuer.publicKey.kid);
  const phoneKids = new Set([...campus.cards.values()].map((c) => toHex(c.phone.publicKey.kid)));
  const backend: SignatureBackend = {
    verify(key: PublicKey, data: Uint8Array, signature: Uint8Array) {
      const kid = toHex(key.kid);
      calls.push(kid === issuerKid ? 'issuer' : phoneKids.has(kid) ? 'holder' : 'other');
      return nodeBackend.verify(key, data, signature);
    },
  };
  return { backend, calls };
}

const loaded = (backend: SignatureBackend, opts: Partial<VerifierOptions> = {}): Verifier =>
  loadedVerifier(campus, material, { backend, ...opts }, { roster: false });

async function scan(v: Verifier, qr: string, now: number) {
  return v.verify(qr, { now, reader: gate });
}

describe('credential cache use', () => {
  it('two codes of one card: one issuer check, two holder checks (3 calls)', async () => {
    const { backend, calls } = countingBackend();
    const v = loaded(backend);
    expect(calls).toEqual([]); // loading trust material does not go through the backend
    expect(await scan(v, await campus.code(ID, T0), T0)).toMatchObject({ accepted: true, cardId: ID });
    expect(calls).toEqual(['issuer', 'holder']);
    expect(await scan(v, await campus.code(ID, T0 + 1), T0 + 1)).toMatchObject({
      accepted: true,
      cardId: ID,
    });
    expect(calls).toEqual(['issuer', 'holder', 'holder']);
    // another card is another credential: its issuer signature is checked
    expect(await scan(v, await campus.code('2024010002', T0 + 2), T0 + 2)).toMatchObject({ accepted: true });
    expect(calls).toEqual(['issuer', 'holder', 'holder', 'issuer', 'holder']);
  });

  it('credentialCacheSize: 0 checks the issuer signature every time (4 calls)', async () => {
    const { backend, calls } = countingBackend();
    const v = loaded(backend, { credentialCacheSize: 0 });
    expect((await scan(v, await campus.code(ID, T0), T0)).accepted).toBe(true);
    expect((await scan(v, await campus.code(ID, T0 + 1), T0 + 1)).accepted).toBe(true);
    expect(calls).toEqual(['issuer', 'holder', 'issuer', 'holder']);
  });

  it('credentialCacheSize: 1 keeps one credential (LRU)', async () => {
    const { backend, calls } = countingBackend();
    const v = loaded(backend, { credentialCacheSize: 1 });
    let t = T0;
    for (const id of [ID, ID, '2024010002', ID]) {
      t++;
      expect((await scan(v, await campus.code(id, t), t)).accepted).toBe(true);
    }
    expect(calls).toEqual(['issuer', 'holder', 'holder', 'issuer', 'holder', 'issuer', 'holder']);
  });

  it('a cache hit never skips the holder check', async () => {
    const { backend, calls } = countingBackend();
    const v = loaded(backend);
    expect((await scan(v, await campus.code(ID, T0), T0)).accepted).toBe(true);
    expect(calls).toEqual(['issuer', 'holder']);
    // the cached credential, presented by someone without the phone key
    const card = campus.cards.get(ID);
    if (card === undefined) throw new Error('no card');
    const thief = generateKeyPair('ES256', { seed: seed(77) });
    const forged = encodeQr(
      await createPresentation(
        { credential: card.credential, t: T0 + 1, nonce: new Uint8Array([0xf0, 0, 0, 1]) },
        thief.privateKey,
      ),
    );
    expect(await scan(v, forged, T0 + 1)).toMatchObject({
      accepted: false,
      reason: 'BAD_SIGNATURE',
      coreCode: 'ERR_SIGNATURE_INVALID',
    });
    expect(calls).toEqual(['issuer', 'holder', 'holder']);
    // a genuine code with one bit of its holder signature flipped
    const genuine = await createPresentation(
      { credential: card.credential, t: T0 + 2, nonce: new Uint8Array([0xf0, 0, 0, 2]) },
      card.phone.privateKey,
    );
    const tampered = genuine.slice();
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
    expect(await scan(v, encodeQr(tampered), T0 + 2)).toMatchObject({
      accepted: false,
      reason: 'BAD_SIGNATURE',
    });
    expect(calls).toEqual(['issuer', 'holder', 'holder', 'holder']);
    // and the untouched one is still fine
    expect((await scan(v, encodeQr(genuine), T0 + 2)).accepted).toBe(true);
  });

  it('a new trust list without the issuer key: the cached credential is no longer accepted', async () => {
    // status lists come from a key of their own, so they survive the issuer key's withdrawal
    const statusKey = generateKeyPair('ES256', { seed: seed(60) });
    const entry = (key: PublicKey, uses: number) => ({
      key,
      roles: ['teacher', 'student', 'parent'] as const,
      nbf: T0 - 365 * DAY,
      exp: T0 + 365 * DAY,
      schools: [SCHOOL],
      uses,
    });
    const tl = (version: number, withIssuer: boolean) =>
      signTrustList(
        {
          version,
          iat: T0 - 3600 + version,
          authority: 'platform',
          keys: [
            ...(withIssuer ? [entry(campus.issuer.publicKey, KEY_USE.credentials)] : []),
            entry(statusKey.publicKey, KEY_USE.statusLists),
          ],
        },
        campus.root.privateKey,
      );
    const { backend, calls } = countingBackend();
    const v = createVerifier({ rootKeys: [campus.root.publicKey], backend });
    expect(v.loadTrustList(await tl(1, true), { now: T0 }).ok).toBe(true);
    const sl = await signStatusList(
      { school: SCHOOL, version: 1, iat: T0 - 600, statuses: new Array<number>(64).fill(0) },
      statusKey.privateKey,
    );
    expect(v.loadStatusList(sl, { now: T0 }).ok).toBe(true);
    expect((await scan(v, await campus.code(ID, T0), T0)).accepted).toBe(true);
    expect((await scan(v, await campus.code(ID, T0 + 1), T0 + 1)).accepted).toBe(true);
    expect(calls).toEqual(['issuer', 'holder', 'holder']); // cached

    expect(v.loadTrustList(await tl(2, false), { now: T0 + 2 })).toMatchObject({ ok: true, dropped: [] });
    expect(v.status(T0 + 2).statusLists[SCHOOL]).toMatchObject({ version: 1 });
    expect(await scan(v, await campus.code(ID, T0 + 3), T0 + 3)).toMatchObject({
      accepted: false,
      reason: 'UNKNOWN_ISSUER',
    });
    expect(calls).toEqual(['issuer', 'holder', 'holder']);
  });

  it("a new trust list narrowing the issuer key's roles: the cached credential is checked again and refused", async () => {
    const { backend, calls } = countingBackend();
    const v = loaded(backend);
    expect((await scan(v, await campus.code(ID, T0), T0)).accepted).toBe(true);
    expect((await scan(v, await campus.code(ID, T0 + 1), T0 + 1)).accepted).toBe(true);
    expect(calls).toEqual(['issuer', 'holder', 'holder']);
    const narrowed = await signTrustList(
      {
        version: 2,
        iat: T0 - 60,
        authority: 'platform',
        keys: [
          {
            key: campus.issuer.publicKey,
            roles: ['teacher'],
            nbf: T0 - 365 * DAY,
            exp: T0 + 365 * DAY,
            schools: [SCHOOL],
          },
        ],
      },
      campus.root.privateKey,
    );
    expect(v.loadTrustList(narrowed, { now: T0 + 2 })).toMatchObject({ ok: true, dropped: [] });
    expect(await scan(v, await campus.code(ID, T0 + 3), T0 + 3)).toMatchObject({
      accepted: false,
      reason: 'ISSUER_NOT_ALLOWED_FOR_ROLE',
    });
    expect(calls).toEqual(['issuer', 'holder', 'holder', 'issuer']);
    // a teacher card of the same key is still fine
    expect((await scan(v, await campus.code('T-0042', T0 + 3), T0 + 3)).accepted).toBe(true);
  });

  it('a colliding cache key is a miss, never a wrong hit', async () => {
    // the verifier's LRU, made to answer every lookup with the first credential stored
    const lru = createCredentialCache(16);
    let first: VerifiedCredential | undefined;
    const colliding = {
      get: (key: string) => first ?? lru.get(key),
      set: (key: string, value: VerifiedCredential) => {
        first ??= value;
        lru.set(key, value);
      },
    };
    const { backend, calls } = countingBackend();
    const trustList = verifyTrustList(material.tl, [campus.root.publicKey]);
    const options = {
      trustList,
      statusLists: [verifyStatusList(material.sl, trustList)],
      now: T0,
      backend,
      credentialCache: colliding,
    };
    expect(await verifyPresentation(await campus.code(ID, T0), options)).toMatchObject({ cardId: ID });
    expect(first?.claims.cardId).toBe(ID);
    // another card: the stored credential is not its content, so its issuer signature is checked
    expect(await verifyPresentation(await campus.code('T-0042', T0), options)).toMatchObject({
      cardId: 'T-0042',
      role: 'teacher',
    });
    // a twin of the first credential, same length and header, one digit of the card id apart
    const card = campus.cards.get(ID);
    if (card === undefined) throw new Error('no card');
    const twinId = '2024010009';
    const twin = await issueCredential(
      {
        school: SCHOOL,
        cardId: twinId,
        role: card.role,
        iat: T0 - DAY,
        validityDays: 30,
        holderKey: card.phone.publicKey,
        statusIndex: 9,
        groups: card.groups ?? [],
      },
      campus.issuer.privateKey,
    );
    expect(twin.length).toBe(card.credential.length);
    const twinCode = encodeQr(
      await createPresentation(
        { credential: twin, t: T0, nonce: new Uint8Array([0xf0, 0, 0, 3]) },
        card.phone.privateKey,
      ),
    );
    expect(await verifyPresentation(twinCode, options)).toMatchObject({ cardId: twinId, statusIndex: 9 });
    expect(calls).toEqual(['issuer', 'holder', 'issuer', 'holder', 'issuer', 'holder']);
  });
});
