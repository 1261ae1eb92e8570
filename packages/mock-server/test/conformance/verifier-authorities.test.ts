/**
 * The verifier plan's `authorities` and `single-root` modules (token-format §3, §7.1), the
 * `authorities` capability of the harness protocol, and root keys given as `{ jwk, authority }`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  decodeSign1,
  isCampusCardError,
  parseTrustListPayload,
  sign1ToBeSigned,
  verifyBytes,
} from '@campus-card/core';
import { describe, expect, it } from 'vitest';
import type { PlanResult } from '../../src/conformance/model.js';
import {
  connectInProcessHarness,
  connectProcessHarness,
  type HarnessHandler,
} from '../../src/conformance/verifier/connections.js';
import {
  authorityTrustList,
  OTHER_SCHOOL,
  rootJwk,
  SCHOOL,
  scenarioKeys,
  schoolListNamingOtherSchool,
  schoolRootJwk,
  T0,
  trustList,
} from '../../src/conformance/verifier/fixtures.js';
import { HarnessClient } from '../../src/conformance/verifier/harness-client.js';
import { runVerifierPlan } from '../../src/conformance/verifier/plan.js';
import type { HarnessRequest } from '../../src/conformance/verifier/protocol.js';
import { createReferenceHarness } from '../../src/conformance/verifier/reference-harness.js';
import { testDir } from '../helpers.js';
import { bareRootPerAuthority, holdsOneTrustList } from './broken-verifiers.js';

const hasCc = spawnSync('cc', ['--version']).status === 0;

const MODULES = ['authorities', 'single-root'];

/** `module/condition` of every condition with that status. */
function withStatus(plan: PlanResult, status: string): string[] {
  return plan.modules.flatMap((m) =>
    m.conditions.filter((c) => c.status === status).map((c) => `${m.id}/${c.id}`),
  );
}

function run(handler: HarnessHandler, modules: readonly string[] = MODULES): Promise<PlanResult> {
  return runVerifierPlan(connectInProcessHarness(handler), { modules });
}

/** The reference harness without the `authorities` capability; it records every `reset`'s root keys. */
function withoutAuthorities(resets: unknown[]): HarnessHandler {
  const inner = createReferenceHarness();
  return async (message) => {
    if (message.op === 'reset') resets.push(message.rootKeys);
    const reply = await inner(message);
    if (message.op !== 'hello') return reply;
    return { ...reply, capabilities: (reply.capabilities as string[]).filter((c) => c !== 'authorities') };
  };
}

describe('the authorities and single-root modules', () => {
  it('the reference harness declares "authorities" and passes both modules, every condition', async () => {
    const plan = await run(createReferenceHarness());
    expect(plan.product).toMatchObject({ capabilities: ['snapshot', 'policies', 'authorities'] });
    expect(plan.modules.map((m) => [m.id, m.status])).toEqual([
      ['authorities', 'PASSED'],
      ['single-root', 'PASSED'],
    ]);
    expect(withStatus(plan, 'PASSED')).toEqual([
      'authorities/platform-list-loads-after-school-list',
      'authorities/platform-issued-card-accepted',
      'authorities/school-issued-card-accepted',
      'authorities/school-list-rollback-refused',
      'authorities/platform-list-rollback-refused',
      'authorities/newer-school-list-keeps-platform-list',
      'authorities/school-root-list-for-platform-refused',
      'authorities/school-root-list-for-other-school-refused',
      'authorities/school-list-naming-other-school-refused',
      'authorities/last-good-lists-kept',
      'single-root/other-authority-list-not-newer-refused',
      'single-root/newer-other-authority-list-loads',
      'single-root/replaced-list-no-longer-admits',
      'single-root/new-list-admits',
      'single-root/replaced-list-not-reloaded',
    ]);
    for (const c of plan.modules.flatMap((m) => m.conditions)) {
      expect(c.spec.some((s) => s.startsWith('token-format §'))).toBe(true);
    }
  });

  it('a harness without the capability: authorities SKIPPED (never sent an anchored key), single-root still runs', async () => {
    const resets: unknown[] = [];
    const plan = await run(withoutAuthorities(resets));
    const authorities = plan.modules.find((m) => m.id === 'authorities');
    expect(authorities?.status).toBe('SKIPPED');
    expect(authorities?.conditions).toHaveLength(10);
    for (const c of authorities?.conditions ?? []) {
      expect(c.status).toBe('SKIPPED');
      expect(c.message).toContain('"authorities" capability');
    }
    expect(plan.modules.find((m) => m.id === 'single-root')?.status).toBe('PASSED');
    expect(withStatus(plan, 'FAILED')).toEqual([]);
    expect(plan.status).toBe('PASSED');
    // only bare JWKs went out
    expect(resets).toEqual([[rootJwk()]]);
  });

  it.skipIf(!hasCc)(
    'the C example harness (bare root keys only, no capability) gets the authorities module SKIPPED, not FAILED',
    async () => {
      const bin = join(testDir('c-harness-'), 'c-verifier-harness');
      const source = join(import.meta.dirname, '../../../../examples/c-verifier-harness/harness.c');
      execFileSync('cc', ['-std=c99', '-O2', '-o', bin, source]);
      const conn = connectProcessHarness(`"${bin}"`);
      try {
        const plan = await runVerifierPlan(conn, { modules: MODULES });
        expect(plan.modules.find((m) => m.id === 'authorities')?.status).toBe('SKIPPED');
        // single-root needs no capability: it runs, and the C example (no cryptography) fails it closed
        const accepted = plan.modules
          .flatMap((m) => m.conditions)
          .filter((c) => c.message?.startsWith('accepted'));
        expect(accepted).toEqual([]);
      } finally {
        await conn.close();
      }
    },
    60_000,
  );

  it('a verifier that holds one trust list at a time fails the conditions that need both lists held', async () => {
    const plan = await run(createReferenceHarness({ createVerifier: holdsOneTrustList }), [
      'rollback',
      ...MODULES,
    ]);
    expect(withStatus(plan, 'FAILED')).toEqual([
      'authorities/platform-list-loads-after-school-list',
      'authorities/platform-issued-card-accepted',
      'authorities/newer-school-list-keeps-platform-list',
      'authorities/last-good-lists-kept',
    ]);
    expect(withStatus(plan, 'WARNING')).toEqual([]);
    const failed = plan.modules.flatMap((m) => m.conditions).filter((c) => c.status === 'FAILED');
    expect(failed[0]?.message).toContain('refused ROLLBACK; it must load');
    expect(failed[1]?.message).toContain('denied (UNKNOWN_ISSUER)');
  });

  it("a verifier that holds a single bare root's lists apart, per authority, fails single-root", async () => {
    const plan = await run(createReferenceHarness({ createVerifier: bareRootPerAuthority }));
    expect(withStatus(plan, 'FAILED')).toEqual([
      'single-root/other-authority-list-not-newer-refused',
      'single-root/replaced-list-no-longer-admits',
      'single-root/replaced-list-not-reloaded',
    ]);
    expect(withStatus(plan, 'WARNING')).toEqual([]);
  });
});

describe('root keys with their authority in the protocol', () => {
  const reset = (rootKeys: unknown): HarnessRequest =>
    ({ id: 'r', op: 'reset', rootKeys, options: {} }) as HarnessRequest;

  it('the reference harness takes { jwk, authority } root keys as trust anchors', async () => {
    const harness = createReferenceHarness();
    const anchored = [
      { jwk: rootJwk(), authority: 'platform' },
      { jwk: schoolRootJwk(), authority: SCHOOL },
    ];
    expect(await harness(reset(anchored))).toEqual({ id: 'r', ok: true });
    const load = (hex: string) => harness({ id: 'l', op: 'load', kind: 'trustList', hex, now: T0 });
    expect(await load(await trustList(1, T0 - 60))).toEqual({ id: 'l', ok: true, reason: null });
    // the platform's root bound to "platform": a list stating the school is not its to sign
    expect(await load(await authorityTrustList(1, T0 - 60, { authority: SCHOOL, signer: 'root' }))).toEqual({
      id: 'l',
      ok: false,
      reason: 'UNKNOWN_ISSUER',
    });
  });

  it('a refused configuration is an error reply and leaves no reader behind (fail closed)', async () => {
    const harness = createReferenceHarness();
    expect(await harness(reset([rootJwk()]))).toEqual({ id: 'r', ok: true });
    for (const bad of [
      [rootJwk(), schoolRootJwk()], // several bare keys: each must name its authority
      [{ jwk: rootJwk(), authority: '' }],
      [{ jwk: rootJwk(), authority: 7 }],
      [{ jwk: { kty: 'EC' }, authority: 'platform' }],
      'not an array',
    ]) {
      const reply = await harness(reset(bad));
      expect(reply).toMatchObject({ id: 'r', error: expect.any(String) });
      // the reader of the previous reset is gone
      expect(
        await harness({ id: 'l', op: 'load', kind: 'trustList', hex: await trustList(1, T0 - 60), now: T0 }),
      ).toEqual({ id: 'l', error: 'reset first' });
    }
  });

  it('the client never sends anchored root keys to a harness without the capability', async () => {
    const sent: HarnessRequest[] = [];
    const client = new HarnessClient(
      connectInProcessHarness((m) => {
        sent.push(m);
        return m.op === 'hello' ? { id: m.id, capabilities: ['snapshot'] } : { id: m.id, ok: true };
      }),
    );
    await client.hello();
    await expect(client.reset([{ jwk: rootJwk(), authority: 'platform' }])).rejects.toThrow(
      '"authorities" capability',
    );
    expect(sent.map((m) => m.op)).toEqual(['hello']);
    await client.reset([rootJwk()]);
    expect(sent.map((m) => m.op)).toEqual(['hello', 'reset']);
  });
});

describe('fixtures', () => {
  it("the school's list naming another school is validly signed by the school's root, and malformed only by that entry", async () => {
    const bytes = Uint8Array.from(Buffer.from(await schoolListNamingOtherSchool(10, T0), 'hex'));
    const sign1 = decodeSign1(bytes, { maxBytes: 4096 }, 'trust list', true);
    expect(
      verifyBytes(
        scenarioKeys().schoolRoot.publicKey,
        sign1ToBeSigned(sign1.protectedBytes, sign1.payload),
        sign1.signature,
      ),
    ).toBe(true);
    let error: unknown;
    try {
      parseTrustListPayload(sign1.payload);
    } catch (e) {
      error = e;
    }
    expect(isCampusCardError(error) && error.code).toBe('ERR_STRUCTURE');
    expect(String((error as Error).message)).toContain(OTHER_SCHOOL);
  });
});
