import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { retryReusesSeqs } from '../../src/conformance/devices/gate.js';
import { runDevicePlan } from '../../src/conformance/devices/plan.js';
import type { PlanResult } from '../../src/conformance/model.js';

const root = join(import.meta.dirname, '../../../..');
const runner = `"${process.execPath}" "${join(root, 'examples/reference-gate/run.mjs')}"`;
const fixture = (name: string) => `${runner} "${join(import.meta.dirname, 'fixtures', name)}"`;

function notPassed(plan: PlanResult): string[] {
  return plan.modules.flatMap((m) =>
    m.conditions.filter((c) => c.status !== 'PASSED').map((c) => `${m.id}/${c.id}: ${c.status} ${c.message}`),
  );
}

function failedIds(plan: PlanResult): string[] {
  return plan.modules.flatMap((m) =>
    m.conditions.filter((c) => c.status === 'FAILED').map((c) => `${m.id}/${c.id}`),
  );
}

describe('gate device plan', () => {
  it('the reference gate (examples/reference-gate, on @campus-card/gate-client) passes', async () => {
    const plan = await runDevicePlan('gate', `${runner} gate-device.ts`);
    expect(notPassed(plan)).toEqual([]);
    expect(plan.modules.map((m) => m.id)).toEqual([
      'revoked-card',
      'event-upload-dedupe',
      'trust-list-rotation',
    ]);
    expect(plan.status).toBe('PASSED');
  }, 60_000);

  it('a gate that ignores status list updates is caught by the revoked-card scenario', async () => {
    const plan = await runDevicePlan('gate', fixture('ignores-status-list-gate.ts'), {
      modules: ['revoked-card', 'event-upload-dedupe'],
    });
    expect(failedIds(plan)).toEqual(['revoked-card/lost-card-denied-after-sync']);
  }, 60_000);

  it('a gate that re-numbers its events on retry (under a new key) is caught by the dedupe conditions', async () => {
    const plan = await runDevicePlan('gate', fixture('renumbers-on-retry-gate.ts'), {
      modules: ['revoked-card', 'event-upload-dedupe'],
    });
    expect(failedIds(plan)).toEqual([
      'event-upload-dedupe/retry-reuses-seq',
      'event-upload-dedupe/events-counted-once',
    ]);
  }, 60_000);

  it('a gate numbering its events from 1 on fresh storage passes whichever modules run before the dedupe', async () => {
    // one storage for the whole plan run: the gate's numbering goes on from one module to the
    // next, as on a real gate; it used to get a fresh DATA_DIR per module, and its seqs 1 and 2
    // of event-upload-dedupe were taken as duplicates of the revoked-card module's
    const gate = fixture('seq-from-one-gate.ts');
    const alone = await runDevicePlan('gate', gate, { modules: ['event-upload-dedupe'] });
    expect(notPassed(alone)).toEqual([]);
    const after = await runDevicePlan('gate', gate, { modules: ['revoked-card', 'event-upload-dedupe'] });
    expect(notPassed(after)).toEqual([]);
  }, 60_000);

  it('a gate that installs a rolled-back trust list is caught by the rotation scenario', async () => {
    const plan = await runDevicePlan('gate', fixture('accepts-rollback-gate.ts'), {
      modules: ['trust-list-rotation'],
    });
    expect(failedIds(plan)).toEqual(['trust-list-rotation/rollback-refused']);
  }, 60_000);
});

describe('retryReusesSeqs', () => {
  it('compares sequence numbers as numbers, in order: a prefix as text is not a prefix', () => {
    expect(retryReusesSeqs([1, 2, 3], [1, 2, 3])).toBe(true);
    expect(retryReusesSeqs([1, 2, 3], [1, 2, 3, 4])).toBe(true);
    expect(retryReusesSeqs([1, 2, 3], [1, 2, 30])).toBe(false);
    expect(retryReusesSeqs([1, 2, 3], [4, 5, 6])).toBe(false);
    expect(retryReusesSeqs([1, 2], [1])).toBe(false);
    expect(retryReusesSeqs([], [1])).toBe(false);
  });
});
