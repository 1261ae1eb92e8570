import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDevicePlan } from '../../src/conformance/devices/plan.js';
import type { PlanResult } from '../../src/conformance/model.js';

const root = join(import.meta.dirname, '../../../..');

function withStatus(plan: PlanResult, status: string): string[] {
  return plan.modules.flatMap((m) =>
    m.conditions.filter((c) => c.status === status).map((c) => `${m.id}/${c.id}`),
  );
}

describe('webhook receiver plan', () => {
  it('the reference receiver (examples/reference-pos) passes', async () => {
    const plan = await runDevicePlan(
      'webhook',
      `cd "${root}" && "${process.execPath}" examples/reference-pos/run.mjs webhook-receiver.ts`,
    );
    expect(withStatus(plan, 'FAILED')).toEqual([]);
    expect(withStatus(plan, 'WARNING')).toEqual([]);
    expect(plan.status).toBe('PASSED');
    expect(plan.modules[0]?.conditions.length).toBe(8);
  }, 60_000);

  it('a receiver that accepts unsigned pushes is caught', async () => {
    const plan = await runDevicePlan(
      'webhook',
      `"${process.execPath}" "${join(import.meta.dirname, 'fixtures/accepts-unsigned-pushes.mjs')}"`,
    );
    expect(withStatus(plan, 'FAILED').sort()).toEqual(
      [
        'push-signatures/bad-signature-refused',
        'push-signatures/other-receiver-push-refused',
        'push-signatures/stale-push-refused',
        'push-signatures/tampered-body-refused',
        'push-signatures/unsigned-push-refused',
        'push-signatures/wrong-key-refused',
      ].sort(),
    );
    expect(plan.status).toBe('FAILED');
  }, 60_000);

  it('a device that never listens is reported', async () => {
    await expect(runDevicePlan('webhook', `"${process.execPath}" -e "process.exit(4)"`)).rejects.toThrow(
      /exited \(4\)/,
    );
  });
});
