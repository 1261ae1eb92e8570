import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDevicePlan } from '../../src/conformance/devices/plan.js';
import type { PlanResult } from '../../src/conformance/model.js';

const root = join(import.meta.dirname, '../../../..');
const runner = `"${process.execPath}" "${join(root, 'examples/reference-gate/run.mjs')}"`;

function notPassed(plan: PlanResult): string[] {
  return plan.modules.flatMap((m) =>
    m.conditions.filter((c) => c.status !== 'PASSED').map((c) => `${m.id}/${c.id}: ${c.status} ${c.message}`),
  );
}

describe('gate device plan', () => {
  it('the reference gate (examples/reference-gate, on @campus-card/gate-client) passes', async () => {
    const plan = await runDevicePlan('gate', `${runner} gate-device.ts`);
    expect(notPassed(plan)).toEqual([]);
    expect(plan.modules.map((m) => m.id)).toEqual(['revoked-card', 'event-upload-dedupe']);
    expect(plan.status).toBe('PASSED');
  }, 60_000);
});
