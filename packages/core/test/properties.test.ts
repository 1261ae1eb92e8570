/**
 * Properties of spec §2 and §5: every structure round-trips, any single changed byte of a signed
 * structure fails verification, and random input only ever yields typed errors.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { signSign1 } from '../src/cose-sign1.js';
import {
  CampusCardError,
  createCompactPresentation,
  createPresentation,
  decodeCredential,
  decodePresentation,
  decodeQr,
  decodeRoster,
  decodeStatusList,
  decodeTrustList,
  encodeQr,
  generateKeyPair,
  getStatus,
  importCoseKey,
  importJwk,
  issueCredential,
  type PrivateKey,
  type Role,
  type StatusList,
  signRoster,
  signStatusList,
  signTrustList,
  type TrustList,
  verifyCredentialIssuer,
  verifyPresentation,
  verifyRoster,
  verifyStatusList,
  verifyTrustList,
} from '../src/index.js';
import { type CborValue, cmap, encodeCbor } from '../src/lib/cbor.js';

const NOW = 1_767_225_600;
let root: PrivateKey;
let issuer: PrivateKey;
let holder: PrivateKey;
let trustList: TrustList;
let statusList: StatusList;
let credential: Uint8Array;

beforeAll(async () => {
  root = generateKeyPair('ES256').privateKey;
  issuer = generateKeyPair('ES256').privateKey;
  holder = generateKeyPair('ES256').privateKey;
  trustList = verifyTrustList(
    await signTrustList(
      {
        version: 1,
        iat: NOW,
        authority: 'platform',
        keys: [
          {
            key: issuer.publicKey,
            roles: ['teacher', 'student', 'parent'],
            nbf: 0,
            exp: NOW * 2,
            schools: ['10001'],
          },
        ],
      },
      root,
    ),
    [root.publicKey],
  );
  statusList = verifyStatusList(
    await signStatusList(
      { school: '10001', version: 1, iat: NOW, statuses: new Array(4096).fill(0) },
      issuer,
    ),
    trustList,
  );
  credential = await issueCredential(
    {
      school: '10001',
      includeSchool: false,
      cardId: '2024010123',
      role: 'student',
      iat: NOW - 10,
      validityDays: 30,
      holderKey: holder.publicKey,
      statusIndex: 12,
    },
    issuer,
  );
});

const idArb = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s.length > 0);
const roleArb = fc.constantFrom<Role>('teacher', 'student', 'parent');

describe('round trips', () => {
  it('credentials round-trip every claim', async () => {
    await fc.assert(
      fc.asyncProperty(
        idArb,
        idArb,
        roleArb,
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.option(idArb, { nil: undefined }),
        fc.array(idArb, { maxLength: 3 }),
        async (school, cardId, role, iat, validityDays, statusIndex, physicalCard, groups) => {
          const bytes = await issueCredential(
            {
              school,
              cardId,
              role,
              iat,
              validityDays,
              holderKey: holder.publicKey,
              statusIndex,
              groups,
              ...(physicalCard === undefined ? {} : { physicalCard }),
            },
            issuer,
          );
          const { claims } = decodeCredential(bytes);
          expect(claims).toMatchObject({
            school,
            cardId,
            role,
            iat,
            validityDays,
            statusIndex,
            physicalCard,
            groups,
          });
          expect(claims.exp).toBe(iat + validityDays * 86_400);
          expect(claims.holderKey.raw).toEqual(holder.publicKey.raw);
        },
      ),
      { numRuns: 60, seed: 7 },
    );
  });

  it('presentations round-trip through QR text, in both modes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
        idArb,
        async (t, nonce, scene, cardId) => {
          const opts = { t, nonce, ...(scene === undefined ? {} : { scene }) };
          const full = decodePresentation(
            decodeQr(encodeQr(await createPresentation({ credential, ...opts }, holder))),
          );
          expect([full.mode, full.t, full.scene, full.cardId]).toEqual(['full', t, scene, undefined]);
          expect(Array.from(full.nonce)).toEqual(Array.from(nonce));
          expect(Array.from(full.credential as Uint8Array)).toEqual(Array.from(credential));
          const compact = decodePresentation(
            decodeQr(encodeQr(await createCompactPresentation({ cardId, ...opts }, holder))),
          );
          expect([compact.mode, compact.t, compact.scene, compact.cardId]).toEqual([
            'compact',
            t,
            scene,
            cardId,
          ]);
          expect(Array.from(compact.nonce)).toEqual(Array.from(nonce));
          expect(Array.from(compact.holderKid as Uint8Array)).toEqual(Array.from(holder.kid));
        },
      ),
      { numRuns: 60, seed: 8 },
    );
  });

  it('trust lists, status lists and rosters round-trip', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 300 }),
        fc.array(fc.tuple(idArb, roleArb, fc.nat(10_000)), { maxLength: 5 }),
        async (version, statuses, cards) => {
          const tl = decodeTrustList(
            await signTrustList(
              {
                version,
                iat: NOW,
                authority: 'platform',
                keys: [{ key: issuer.publicKey, roles: ['student'], nbf: 1, exp: 2 }],
              },
              root,
            ),
          ).trustList;
          expect(tl.version).toBe(version);
          expect(tl.keys[0]?.key.raw).toEqual(issuer.publicKey.raw);
          const sl = decodeStatusList(
            await signStatusList({ school: 's', version, iat: NOW, statuses }, issuer),
          ).statusList;
          for (const [i, s] of statuses.entries()) expect(getStatus(sl, i)).toBe(s);
          const r = decodeRoster(
            await signRoster(
              {
                school: 's',
                version,
                iat: NOW,
                cards: cards.map(([cardId, role, statusIndex]) => ({
                  cardId,
                  role,
                  statusIndex,
                  exp: NOW,
                  keys: [holder.publicKey],
                })),
              },
              issuer,
            ),
          ).roster;
          expect(r.cards.map((c) => [c.cardId, c.role, c.statusIndex])).toEqual(cards);
        },
      ),
      { numRuns: 40, seed: 9 },
    );
  });
});

describe('any single changed byte of a signed code fails verification', () => {
  it('full mode', async () => {
    const bytes = await createPresentation(
      { credential, t: NOW, nonce: new Uint8Array([1, 2, 3, 4]) },
      holder,
    );
    await expect(
      verifyPresentation(bytes, { trustList, statusLists: [statusList], now: NOW }),
    ).resolves.toMatchObject({
      cardId: '2024010123',
      school: '10001',
    });
    await fc.assert(
      fc.asyncProperty(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), async (i, x) => {
        const mutated = Uint8Array.from(bytes);
        mutated[i] = (mutated[i] as number) ^ x;
        const err = await verifyPresentation(mutated, {
          trustList,
          statusLists: [statusList],
          now: NOW,
        }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(CampusCardError);
      }),
      { numRuns: 400, seed: 10 },
    );
  });
});

describe('hostile input', () => {
  const decoders: Array<[string, (b: Uint8Array) => unknown]> = [
    ['presentation', decodePresentation],
    ['credential', decodeCredential],
    ['trust list', decodeTrustList],
    ['status list', decodeStatusList],
    ['roster', decodeRoster],
  ];
  for (const [name, decode] of decoders) {
    it(`random bytes give only typed errors (${name})`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
          try {
            decode(b);
          } catch (e) {
            expect(e).toBeInstanceOf(CampusCardError);
          }
        }),
        { numRuns: 2000, seed: 11 },
      );
    });
  }

  it('random CBOR signed by the right key (so every reader reaches the claims) gives only typed errors', async () => {
    // random bytes stop at the first byte; a well-formed, validly signed payload of any shape
    // reaches the claim readers of every structure behind its signature
    const ed = {
      root: generateKeyPair('EdDSA').privateKey,
      issuer: generateKeyPair('EdDSA').privateKey,
      holder: generateKeyPair('EdDSA').privateKey,
    };
    const edTrust = verifyTrustList(
      await signTrustList(
        {
          version: 1,
          iat: NOW,
          authority: 'platform',
          keys: [{ key: ed.issuer.publicKey, roles: ['teacher', 'student', 'parent'], nbf: 0, exp: NOW * 2 }],
        },
        ed.root,
      ),
      [ed.root.publicKey],
    );
    const edStatus = verifyStatusList(
      await signStatusList({ school: '10001', version: 1, iat: NOW, statuses: [0, 0] }, ed.issuer),
      edTrust,
    );
    const scalar = fc.oneof(
      fc.constantFrom(
        0,
        1,
        -1,
        2,
        3,
        4,
        5,
        6,
        8,
        -7,
        -8,
        23,
        24,
        400,
        401,
        2 ** 32 - 1,
        2 ** 32,
        2 ** 53 - 1,
      ),
      fc.maxSafeInteger(),
      fc.constantFrom('c', '', 'platform', '10001', 'x'.repeat(65), '\u{20000}'.repeat(64)),
      fc.string({ maxLength: 8 }),
      fc.boolean(),
      fc.uint8Array({ maxLength: 66 }),
    );
    const { value } = fc.letrec<{ value: CborValue }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        scalar,
        fc.array(tie('value'), { maxLength: 6 }),
        fc
          .uniqueArray(
            fc.tuple(fc.oneof(fc.integer({ min: -8, max: 8 }), fc.constantFrom('c', 'x')), tie('value')),
            {
              maxLength: 6,
              selector: ([k]) => k,
            },
          )
          .map((entries) => cmap(entries)),
      ),
    }));
    const typed = (e: unknown) => expect(e).toBeInstanceOf(CampusCardError);
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        const payload = encodeCbor(v);
        const byRoot = await signSign1(payload, ed.root, { header: 'alg+kid' });
        const byIssuer = await signSign1(payload, ed.issuer, { header: 'alg+kid' });
        const byHolder = await signSign1(payload, ed.holder, { header: 'alg' });
        for (const f of [
          () => verifyTrustList(byRoot, [ed.root.publicKey]),
          () => verifyStatusList(byIssuer, edTrust),
          () => verifyRoster(byIssuer, edTrust),
          () => importCoseKey(v),
          () => importJwk(v),
        ]) {
          try {
            f();
          } catch (e) {
            typed(e);
          }
        }
        await verifyCredentialIssuer(byIssuer, edTrust).catch(typed);
        const options = { trustList: edTrust, statusLists: [edStatus], now: NOW };
        await verifyPresentation(byHolder, options).catch(typed);
      }),
      { numRuns: 150, seed: 13 },
    );
  });

  it('random and near-valid QR strings give only typed errors', async () => {
    const valid = encodeQr(await createPresentation({ credential, t: NOW }, holder));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 400 }),
          fc
            .tuple(fc.nat(valid.length - 1), fc.string({ minLength: 1, maxLength: 3 }))
            .map(([i, s]) => valid.slice(0, i) + s + valid.slice(i + 1)),
        ),
        async (s) => {
          const err = await verifyPresentation(s, { trustList, statusLists: [statusList], now: NOW }).then(
            () => undefined,
            (e: unknown) => e,
          );
          if (err !== undefined) expect(err).toBeInstanceOf(CampusCardError);
        },
      ),
      { numRuns: 600, seed: 12 },
    );
  });

  it('rejects non-Uint8Array input with ERR_INPUT_TYPE and oversized input before parsing', () => {
    for (const bad of [null, undefined, 42, 'x', {}, [1, 2], new Uint16Array(4)]) {
      expect(() => decodePresentation(bad as unknown as Uint8Array)).toThrow(CampusCardError);
    }
    expect(() => decodeQr(42 as unknown as string)).toThrow(/string/);
    const big = new Uint8Array(10_000);
    try {
      decodePresentation(big);
    } catch (e) {
      expect((e as CampusCardError).code).toBe('ERR_INPUT_TOO_LARGE');
    }
  });
});
