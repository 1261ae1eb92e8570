/**
 * Spec §5.3 steps 2 and 3, whatever the reader holds or plugs in:
 * - a signature backend's answer: only the boolean `true` verifies. A backend that passes through a
 *   C verifier's int (OpenSSL's ECDSA_verify is 1 good, 0 bad, -1 error) or any other truthy value
 *   must not turn a forged code into an accepted one: fail closed;
 * - a credential cache: a credential whose content was verified once, carried again with another
 *   issuer signature (a flipped bit), is checked, not admitted from the cache (vector
 *   `tampered-issuer-signature` after `valid-es256-full`, same trust list).
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CampusCardError,
  type CredentialCache,
  createPresentation,
  decodeCredential,
  fromHex,
  generateKeyPair,
  importPublicJwk,
  issueCredential,
  type PrivateKey,
  type SignatureBackend,
  type StatusList,
  signStatusList,
  signTrustList,
  type TrustList,
  type VerifiedCredential,
  verifyBytes,
  verifyCredentialIssuer,
  verifyCredentialParts,
  verifyPresentation,
  verifyPresentationEager,
  verifyStatusList,
  verifyTrustList,
} from '../src/index.js';

const NOW = 1_767_225_600;
const DAY = 86_400;

let trustList: TrustList;
let statusList: StatusList;
let genuine: Uint8Array;
let forged: Uint8Array;
let credential: Uint8Array;
let phoneKey: PrivateKey;

beforeAll(async () => {
  const root = generateKeyPair('ES256').privateKey;
  const issuer = generateKeyPair('ES256').privateKey;
  const phone = generateKeyPair('ES256').privateKey;
  phoneKey = phone;
  const thief: PrivateKey = generateKeyPair('ES256').privateKey;
  trustList = verifyTrustList(
    await signTrustList(
      {
        version: 1,
        iat: NOW - 60,
        authority: 'platform',
        keys: [{ key: issuer.publicKey, roles: ['student'], nbf: NOW - 365 * DAY, exp: NOW + 365 * DAY }],
      },
      root,
    ),
    [root.publicKey],
  );
  statusList = verifyStatusList(
    await signStatusList({ school: '10001', version: 1, iat: NOW - 60, statuses: [0, 0, 0, 0] }, issuer),
    trustList,
  );
  credential = await issueCredential(
    {
      school: '10001',
      cardId: '2024010001',
      role: 'student',
      iat: NOW - DAY,
      validityDays: 30,
      holderKey: phone.publicKey,
      statusIndex: 2,
    },
    issuer,
  );
  genuine = await createPresentation({ credential, t: NOW }, phone);
  // the card's credential, but a code signed by a key that is not the card's phone key
  forged = await createPresentation({ credential, t: NOW }, thief);
});

/** A backend that answers `bad` whenever the real check fails. */
function backendAnswering(bad: unknown, deferred: boolean): SignatureBackend {
  return {
    verify(key, data, signature) {
      const answer = verifyBytes(key, data, signature) ? true : bad;
      return (deferred ? Promise.resolve(answer) : answer) as boolean;
    },
  };
}

async function outcome(code: Uint8Array, backend: SignatureBackend): Promise<string> {
  try {
    await verifyPresentation(code, { trustList, statusLists: [statusList], now: NOW, backend });
    return 'accepted';
  } catch (e) {
    return (e as CampusCardError).code;
  }
}

describe('a signature backend answer other than true is a refusal', () => {
  for (const deferred of [false, true]) {
    for (const bad of [-1, 1, 'false', {}, [], Number.NaN, 0, null, false]) {
      it(`${deferred ? 'async' : 'sync'} backend answering ${typeof bad === 'number' ? String(bad) : JSON.stringify(bad)} for a bad signature`, async () => {
        const backend = backendAnswering(bad, deferred);
        expect(await outcome(genuine, backend)).toBe('accepted');
        expect(await outcome(forged, backend)).toBe('ERR_SIGNATURE_INVALID');
      });
    }
  }

  it('verifyPresentationEager too, with a backend answering -1', () => {
    const backend = backendAnswering(-1, false);
    expect(() =>
      verifyPresentationEager(forged, { trustList, statusLists: [statusList], now: NOW, backend }),
    ).toThrow(expect.objectContaining({ code: 'ERR_SIGNATURE_INVALID' }));
  });
});

interface Vector {
  now: number;
  keys: { root: Record<string, unknown> };
  trustList: string;
  statusList: string;
  qr: string;
}
const vector = (name: string): Vector =>
  JSON.parse(readFileSync(new URL(`../vectors/${name}.json`, import.meta.url), 'utf8')) as Vector;
const hex = (s: string): Uint8Array => fromHex(s) as Uint8Array;

/** A backend that counts its checks. */
function counting(): SignatureBackend & { checks: number } {
  const b = {
    checks: 0,
    verify(key: Parameters<SignatureBackend['verify']>[0], data: Uint8Array, signature: Uint8Array) {
      b.checks++;
      return verifyBytes(key, data, signature);
    },
  };
  return b;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'accepted',
    (e: CampusCardError) => e.code,
  );
}

describe('a credential cache admits only the signature it verified', () => {
  it('the vectors: tampered-issuer-signature stays ERR_SIGNATURE_INVALID after valid-es256-full', async () => {
    const valid = vector('valid-es256-full');
    const tampered = vector('tampered-issuer-signature');
    const highS = vector('valid-es256-high-s-credential');
    // one reader: the same trust list (object), status list and cache for every scan
    expect(tampered.trustList).toBe(valid.trustList);
    const tl = verifyTrustList(hex(valid.trustList), [importPublicJwk(valid.keys.root)]);
    const statusLists = [verifyStatusList(hex(valid.statusList), tl)];
    const cache = new Map<string, VerifiedCredential>();
    const backend = counting();
    const scan = (v: Vector) =>
      codeOf(
        verifyPresentation(v.qr, { trustList: tl, statusLists, now: v.now, backend, credentialCache: cache }),
      );
    expect(await scan(tampered)).toBe('ERR_SIGNATURE_INVALID');
    expect(await scan(valid)).toBe('accepted');
    expect(backend.checks).toBe(3); // the tampered issuer signature; then issuer and holder
    expect(await scan(tampered)).toBe('ERR_SIGNATURE_INVALID');
    expect(backend.checks).toBe(4); // a miss: its issuer signature was checked, and failed
    // the same credential with its genuine signature is still a hit: the holder signature only
    expect(await scan(valid)).toBe('accepted');
    expect(backend.checks).toBe(5);
    // a valid high-S twin of the issuer signature is checked once, and accepted
    expect(await scan(highS)).toBe('accepted');
    expect(backend.checks).toBe(7);
  });

  it('verifyCredentialIssuer and verifyCredentialParts with a warm cache: a flipped signature bit is refused', async () => {
    const cache: CredentialCache = new Map<string, VerifiedCredential>();
    const flipped = credential.slice();
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1;
    expect(await codeOf(verifyCredentialIssuer(credential, trustList, undefined, cache))).toBe('accepted');
    expect(await codeOf(verifyCredentialIssuer(flipped, trustList, undefined, cache))).toBe(
      'ERR_SIGNATURE_INVALID',
    );
    const { sign1 } = decodeCredential(flipped);
    const parts = {
      protectedBytes: sign1.protectedBytes,
      payload: sign1.payload,
      signature: sign1.signature,
    };
    expect(await codeOf(verifyCredentialParts(parts, trustList, undefined, cache))).toBe(
      'ERR_SIGNATURE_INVALID',
    );
    // the genuine signature with a byte more is not a hit on its first 64 bytes
    const { sign1: good } = decodeCredential(credential);
    const longer = new Uint8Array(65);
    longer.set(good.signature);
    const extended = { protectedBytes: good.protectedBytes, payload: good.payload, signature: longer };
    expect(await codeOf(verifyCredentialParts(extended, trustList, undefined, cache))).not.toBe('accepted');
    // and the genuine one is still admitted, from the cache
    const backend = counting();
    expect(await codeOf(verifyCredentialIssuer(credential, trustList, backend, cache))).toBe('accepted');
    expect(backend.checks).toBe(0);
  });

  it('a full code carrying the cached credential with a flipped signature bit, signed by its phone, is refused', async () => {
    const cache = new Map<string, VerifiedCredential>();
    const scan = (code: Uint8Array) =>
      codeOf(
        verifyPresentation(code, { trustList, statusLists: [statusList], now: NOW, credentialCache: cache }),
      );
    expect(await scan(genuine)).toBe('accepted');
    const flipped = credential.slice();
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1;
    expect(await scan(await createPresentation({ credential: flipped, t: NOW }, phoneKey))).toBe(
      'ERR_SIGNATURE_INVALID',
    );
  });
});
