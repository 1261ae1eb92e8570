/**
 * Spec §6.1: any non-zero status in the card's school's status list denies (`ERR_REVOKED`), and
 * the message names what the value means, so an operator reading a denial can tell a revoked card
 * from one reported lost.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CampusCardError,
  createPresentation,
  generateKeyPair,
  issueCredential,
  type PrivateKey,
  signStatusList,
  signTrustList,
  type TrustList,
  verifyPresentation,
  verifyStatusList,
  verifyTrustList,
} from '../src/index.js';

const NOW = 1_767_225_600;
const INDEX = 5;
let issuer: PrivateKey;
let holder: PrivateKey;
let trustList: TrustList;
let credential: Uint8Array;

beforeAll(async () => {
  const root = generateKeyPair('ES256').privateKey;
  issuer = generateKeyPair('ES256').privateKey;
  holder = generateKeyPair('ES256').privateKey;
  trustList = verifyTrustList(
    await signTrustList(
      {
        version: 1,
        iat: NOW,
        authority: 'platform',
        keys: [{ key: issuer.publicKey, roles: ['student'], nbf: 0, exp: NOW * 2, schools: ['10001'] }],
      },
      root,
    ),
    [root.publicKey],
  );
  credential = await issueCredential(
    {
      school: '10001',
      cardId: 'c-1',
      role: 'student',
      iat: NOW - 10,
      validityDays: 30,
      holderKey: holder.publicKey,
      statusIndex: INDEX,
    },
    issuer,
  );
});

async function verifyWithStatus(status: number): Promise<unknown> {
  const statuses = new Array<number>(16).fill(0);
  statuses[INDEX] = status;
  const statusList = verifyStatusList(
    await signStatusList({ school: '10001', version: 1, iat: NOW, statuses }, issuer),
    trustList,
  );
  const code = await createPresentation({ credential, t: NOW }, holder);
  return verifyPresentation(code, { trustList, statusLists: [statusList], now: NOW }).then(
    (v) => v,
    (e: unknown) => e,
  );
}

describe('a card whose status is not 0', () => {
  it.each([
    [1, 'card status is 1 (revoked)'],
    [2, 'card status is 2 (suspended: reported lost)'],
    [3, 'card status is 3 (reserved: denied)'],
  ])('status %i is ERR_REVOKED: "%s"', async (status, message) => {
    const err = await verifyWithStatus(status);
    expect(err).toBeInstanceOf(CampusCardError);
    expect(err).toMatchObject({ code: 'ERR_REVOKED', message });
  });

  it('status 0 is accepted', async () => {
    await expect(verifyWithStatus(0)).resolves.toMatchObject({ cardId: 'c-1', school: '10001' });
  });
});
