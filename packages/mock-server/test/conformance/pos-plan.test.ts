import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDevicePlan } from '../../src/conformance/devices/plan.js';
import type { PlanResult } from '../../src/conformance/model.js';
import { testDir } from '../helpers.js';
import { alive } from './test-io.js';

const root = join(import.meta.dirname, '../../../..');
const runner = `"${process.execPath}" "${join(root, 'examples/reference-pos/run.mjs')}"`;

function withStatus(plan: PlanResult, status: string): string[] {
  return plan.modules.flatMap((m) =>
    m.conditions.filter((c) => c.status === status).map((c) => `${m.id}/${c.id}`),
  );
}

function messages(plan: PlanResult): string[] {
  return plan.modules.flatMap((m) =>
    m.conditions.filter((c) => c.status !== 'PASSED').map((c) => `${m.id}/${c.id}: ${c.message}`),
  );
}

describe('POS device plan', () => {
  it('the reference POS (examples/reference-pos, on @campus-card/pos-client) passes', async () => {
    const plan = await runDevicePlan('pos', `${runner} pos-device.ts`);
    expect(messages(plan)).toEqual([]);
    expect(plan.modules.map((m) => m.id)).toEqual([
      'scan-to-pay',
      'timeout-poll',
      'timeout-poll-reverse',
      'offline-batch',
    ]);
    expect(plan.status).toBe('PASSED');
  }, 60_000);

  it('a POS that retries with a new idempotency key is caught (online create and offline batch)', async () => {
    const plan = await runDevicePlan(
      'pos',
      `${runner} "${join(import.meta.dirname, 'fixtures/fresh-key-device.ts')}"`,
      {
        modules: ['timeout-poll', 'timeout-poll-reverse', 'offline-batch'],
      },
    );
    // the platform's out_trade_no uniqueness and its (device_id, seq) dedupe of offline items still
    // prevent a double charge (the re-sent batch's items come back `duplicate`): only the key checks fail
    expect(withStatus(plan, 'FAILED')).toEqual([
      'timeout-poll/retried-with-same-idempotency-key',
      'timeout-poll-reverse/reverse-sent-with-idempotency-key',
      'offline-batch/batch-retried-with-same-idempotency-key',
    ]);
  }, 60_000);

  it('a POS that gives up on an unconfirmed payment without reversing it is caught', async () => {
    const plan = await runDevicePlan(
      'pos',
      `${runner} "${join(import.meta.dirname, 'fixtures/never-reverses-device.ts')}"`,
      { modules: ['timeout-poll-reverse'] },
    );
    // it polled, signed everything, and the holder is not charged (yet): the order is left
    // processing, waiting for a confirmation that can still take the money
    expect(withStatus(plan, 'PASSED')).toEqual([
      'timeout-poll-reverse/polled-before-reversing',
      'timeout-poll-reverse/holder-not-charged',
      'timeout-poll-reverse/sale-completed', // it finished, on its own, the wrong way
      'timeout-poll-reverse/requests-signed',
    ]);
    expect(withStatus(plan, 'FAILED')).toEqual([
      'timeout-poll-reverse/reverse-sent-with-idempotency-key',
      'timeout-poll-reverse/order-reversed',
    ]);
    expect(messages(plan).join('\n')).toContain('order left processing');
  }, 60_000);

  it('a POS that dies during a lost-answer sale fails sale-completed, though the platform committed the sale', async () => {
    // it sends nothing and exits 3: whatever else the module judges, the device contract is broken
    const plan = await runDevicePlan('pos', 'exit 3', { modules: ['timeout-poll'] });
    const completed = plan.modules[0]?.conditions.find((c) => c.id === 'sale-completed');
    expect(completed).toMatchObject({ status: 'FAILED' });
    expect(completed?.message).toMatch(/exit 3/);
  }, 60_000);

  it('what a POS leaves running when its sale ends is stopped with it', async () => {
    const pidFile = join(testDir('cc-pos-left-'), 'pid');
    await runDevicePlan('pos', `sleep 300 & echo $! > "${pidFile}"; exit 0`, { modules: ['scan-to-pay'] });
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    try {
      expect(alive(pid)).toBe(false);
    } finally {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone, as it should be
      }
    }
  }, 60_000);
});

describe('POS device plan: the network cannot be plugged back in', () => {
  it('is a FAILED module, not an unhandled rejection ending the suite', async () => {
    const device = `"${process.execPath}" "${join(import.meta.dirname, 'fixtures/takes-platform-port-device.mjs')}"`;
    const plan = await runDevicePlan('pos', device, { modules: ['offline-batch'] });
    expect(plan.status).toBe('FAILED');
    expect(messages(plan)).toEqual([
      expect.stringMatching(
        /^offline-batch\/module-completed: module aborted: setup: the network could not be plugged back in: .*EADDRINUSE/,
      ),
    ]);
  }, 60_000);
});
