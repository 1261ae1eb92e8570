import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importPublicJwk, type SignatureBackend } from '@campus-card/core';
import { describe, expect, it } from 'vitest';
import { createVerifier, createWebCryptoBackend, nobleBackend, reasonForCoreCode } from '../src/index.js';
import { nodeBackend } from '../src/node.js';
import { hex } from './helpers/fixtures.js';

interface Vector {
  name: string;
  mode: string;
  now: number;
  keys: { root: unknown };
  trustList: string;
  statusList?: string;
  roster?: string;
  heldTrustListVersion?: number;
  qr: string;
  expected: { valid: boolean; code: string | null };
}

const dir = join(import.meta.dirname, '../../core/vectors');
const files = existsSync(dir)
  ? readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
  : [];
const vectors: Vector[] = files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Vector);

const backends: Array<[string, SignatureBackend]> = [
  ['webcrypto', createWebCryptoBackend()],
  ['noble', nobleBackend],
  ['node', nodeBackend],
];

describe.skipIf(vectors.length === 0)('core vectors through createVerifier', () => {
  it('there are vectors', () => {
    expect(vectors.length).toBeGreaterThan(40);
  });
  for (const [backendName, backend] of backends) {
    describe(backendName, () => {
      for (const v of vectors) {
        it(v.name, async () => {
          const verifier = createVerifier({
            rootKeys: [importPublicJwk(v.keys.root)],
            backend,
            // holding version H, a list of H with other bytes is refused as one of H - 1 is (spec: equivocation)
            ...(v.heldTrustListVersion === undefined
              ? {}
              : { minTrustListVersion: v.heldTrustListVersion + 1 }),
          });
          const now = v.now;
          const tl = verifier.loadTrustList(hex(v.trustList), { now });
          if (!tl.ok) {
            // the vector's failure is in the trust material itself
            expect(v.expected.valid).toBe(false);
            expect(tl.coreCode).toBe(v.expected.code);
            const d = await verifier.verify(v.qr, { now, reader: { id: 'vector' } });
            expect(d.accepted).toBe(false);
            if (!d.accepted) expect(d.reason).toBe('NO_TRUST_LIST');
            return;
          }
          if (v.statusList) expect(verifier.loadStatusList(hex(v.statusList), { now }).ok).toBe(true);
          if (v.roster) {
            const r = verifier.loadRoster(hex(v.roster), { now });
            if (!r.ok) {
              // the vector's failure is in the roster
              expect(v.expected.valid).toBe(false);
              expect(r.coreCode).toBe(v.expected.code);
              const d = await verifier.verify(v.qr, { now, reader: { id: 'vector' } });
              expect(d.accepted).toBe(false);
              return;
            }
          }
          const d = await verifier.verify(v.qr, { now, reader: { id: 'vector' } });
          if (v.expected.valid) {
            expect(d).toMatchObject({ accepted: true, mode: v.mode, warnings: [] });
            // and a second scan of the same code is a replay
            const again = await verifier.verify(v.qr, { now, reader: { id: 'vector' } });
            expect(again).toMatchObject({ accepted: false, reason: 'REPLAYED' });
          } else {
            const code = v.expected.code as string;
            expect(d).toMatchObject({ accepted: false, reason: reasonForCoreCode(code), coreCode: code });
          }
        });
      }
    });
  }
});
