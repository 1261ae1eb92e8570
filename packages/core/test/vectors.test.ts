/**
 * Spec §10: every vector in packages/core/vectors reaches its expected outcome through the
 * reference pipeline, and every valid vector's signatures verify with an independent COSE
 * implementation (@auth0/cose over node:crypto).
 */
import { createPublicKey } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { Algorithms, Sign1 } from '@auth0/cose';
import { describe, expect, it } from 'vitest';
import {
  CampusCardError,
  fromHex,
  importPublicJwk,
  type Roster,
  type StatusList,
  verifyPresentation,
  verifyRoster,
  verifyStatusList,
  verifyTrustList,
} from '../src/index.js';

const dir = new URL('../vectors/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
interface Vector {
  name: string;
  description: string;
  mode: 'full' | 'compact';
  now: number;
  keys: Record<'root' | 'issuer' | 'status' | 'holder', Record<string, unknown>>;
  trustList: string;
  statusList?: string;
  roster?: string;
  heldTrustListVersion?: number;
  intermediates: Record<string, string>;
  qr: string;
  expected: { valid: boolean; code: string | null };
}
const vectors: Vector[] = files.map((f) => JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as Vector);

const hex = (s: string): Uint8Array => fromHex(s) as Uint8Array;

async function run(v: Vector): Promise<{ valid: boolean; code: string | null }> {
  try {
    const trustList = verifyTrustList(hex(v.trustList), [importPublicJwk(v.keys.root)]);
    if (v.heldTrustListVersion !== undefined && trustList.version < v.heldTrustListVersion) {
      throw new CampusCardError('ERR_ROLLBACK', 'older trust list');
    }
    const statusLists: StatusList[] = v.statusList ? [verifyStatusList(hex(v.statusList), trustList)] : [];
    const roster: Roster | undefined = v.roster ? verifyRoster(hex(v.roster), trustList) : undefined;
    await verifyPresentation(v.qr, { trustList, statusLists, ...(roster ? { roster } : {}), now: v.now });
    return { valid: true, code: null };
  } catch (e) {
    if (e instanceof CampusCardError) return { valid: false, code: e.code };
    throw e;
  }
}

describe('test vectors (spec §10)', () => {
  it('has at least 40 vectors, valid and invalid, in both modes', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(40);
    expect(vectors.filter((v) => v.expected.valid && v.mode === 'compact').length).toBeGreaterThan(0);
    expect(vectors.filter((v) => !v.expected.valid).length).toBeGreaterThan(30);
    for (const v of vectors) {
      for (const field of [
        'name',
        'description',
        'mode',
        'now',
        'keys',
        'trustList',
        'intermediates',
        'qr',
        'expected',
      ]) {
        expect(v, `${v.name} lacks ${field}`).toHaveProperty(field);
      }
    }
  });

  for (const v of vectors) {
    it(`${v.name}: ${v.expected.code ?? 'valid'}`, async () => {
      expect(await run(v)).toEqual(v.expected);
    });
  }
});

describe('independent COSE implementation (@auth0/cose) accepts every valid vector', () => {
  const algs = [Algorithms.ES256, Algorithms.EdDSA];
  const keyObject = (jwk: Record<string, unknown>) => {
    const { kid: _kid, alg: _alg, ...rest } = jwk;
    return createPublicKey({ key: rest as import('node:crypto').JsonWebKey, format: 'jwk' });
  };
  for (const v of vectors.filter((x) => x.expected.valid)) {
    it(v.name, async () => {
      await Sign1.decode(hex(v.trustList)).verify(keyObject(v.keys.root), { algorithms: algs });
      if (v.statusList)
        await Sign1.decode(hex(v.statusList)).verify(keyObject(v.keys.status), { algorithms: algs });
      if (v.roster) await Sign1.decode(hex(v.roster)).verify(keyObject(v.keys.status), { algorithms: algs });
      if (v.mode === 'full') {
        await Sign1.decode(hex(v.intermediates.credential as string)).verify(keyObject(v.keys.issuer), {
          algorithms: algs,
        });
      }
      await Sign1.decode(hex(v.intermediates.presentation as string)).verify(keyObject(v.keys.holder), {
        algorithms: algs,
      });
    });
  }
});
