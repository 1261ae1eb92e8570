import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEVICE_PLANS } from '../../src/conformance/devices/plan.js';
import { PLAN_NAMES, parseExpectedFailures } from '../../src/conformance/expected-failures.js';
import type { PlanResult } from '../../src/conformance/model.js';
import { toHtml, toJunit } from '../../src/conformance/reports.js';
import { buildReport, exitCodeOf } from '../../src/conformance/runner.js';
import { connectInProcessHarness } from '../../src/conformance/verifier/connections.js';
import { runVerifierPlan } from '../../src/conformance/verifier/plan.js';
import { createReferenceHarness } from '../../src/conformance/verifier/reference-harness.js';
import { defaultVectorsDir, readVectors } from '../../src/conformance/verifier/vectors.js';
import { main } from '../../src/conformance-cli.js';
import { testDir } from '../helpers.js';
import {
  acceptsReplays,
  forgetsRosterVersionOnReboot,
  ignoresRosterVersions,
  ignoresStatusList,
  ignoresTime,
  shortReplayWindowHarness,
  unboundedFloor,
} from './broken-verifiers.js';

type Make = NonNullable<Parameters<typeof createReferenceHarness>[0]>['createVerifier'];

function run(make?: Make): Promise<PlanResult> {
  return runVerifierPlan(
    connectInProcessHarness(createReferenceHarness(make === undefined ? {} : { createVerifier: make })),
  );
}

/** `module/condition` of every condition with that status. */
function withStatus(plan: PlanResult, status: string): string[] {
  return plan.modules.flatMap((m) =>
    m.conditions.filter((c) => c.status === status).map((c) => `${m.id}/${c.id}`),
  );
}

describe('verifier plan against the reference harness', () => {
  it('passes every condition, anti-passback included', async () => {
    const plan = await run();
    expect(withStatus(plan, 'FAILED')).toEqual([]);
    expect(withStatus(plan, 'WARNING')).toEqual([]);
    expect(withStatus(plan, 'SKIPPED')).toEqual([]);
    expect(withStatus(plan, 'PASSED')).toContain('anti-passback/second-entry-denied');
    expect(plan.status).toBe('PASSED');
    // every core vector is a condition
    const vectors = readVectors(defaultVectorsDir() as string);
    const vectorConditions = plan.modules
      .filter((m) => m.id.startsWith('vectors-'))
      .flatMap((m) => m.conditions);
    expect(vectorConditions.map((c) => c.id).sort()).toEqual(vectors.map((v) => v.name).sort());
    for (const c of plan.modules.flatMap((m) => m.conditions)) expect(c.spec.length).toBeGreaterThan(0);
    expect(plan.product).toMatchObject({ capabilities: ['snapshot', 'policies', 'authorities'] });
    // the trust-list authorities run right after the rollback module (verifier-authorities.test.ts)
    const ids = plan.modules.map((m) => m.id);
    expect(ids.slice(ids.indexOf('rollback'), ids.indexOf('rollback') + 3)).toEqual([
      'rollback',
      'authorities',
      'single-root',
    ]);
    expect(plan.modules.find((m) => m.id === 'rollback')?.conditions.map((c) => c.id)).toEqual([
      'older-trust-list-refused',
      'same-version-other-bytes-refused',
      'older-status-list-refused',
      'older-roster-refused',
      'same-version-roster-other-bytes-refused',
      'last-good-copies-kept',
      'removed-phone-key-stays-refused',
      'rollback-refused-after-reboot',
      'roster-rollback-refused-after-reboot',
    ]);
  });
});

describe('broken verifiers are caught by the right condition', () => {
  it('one that accepts replays', async () => {
    const failedIds = withStatus(await run(acceptsReplays), 'FAILED');
    expect(failedIds).toEqual(
      expect.arrayContaining([
        'replay/second-scan-replayed',
        'replay/high-s-twin-replayed',
        'replay/replay-survives-reboot',
        'replay/valid-vectors-replayed',
      ]),
    );
    expect(failedIds.every((id) => id.startsWith('replay/'))).toBe(true);
  });

  it("one whose replay window forgets a used code before the code's time window closes", async () => {
    const failedIds = withStatus(
      await runVerifierPlan(connectInProcessHarness(shortReplayWindowHarness())),
      'FAILED',
    );
    expect(failedIds).toEqual(['replay/replay-held-for-the-whole-window']);
  });

  it('one that ignores the status list', async () => {
    const failedIds = withStatus(await run(ignoresStatusList), 'FAILED');
    expect(failedIds).toEqual(
      expect.arrayContaining([
        'vectors-status/revoked-card',
        'vectors-status/lost-card-suspended',
        'vectors-status/revoked-card-compact',
        'revocation/revoked-after-sync',
        'revocation/lost-card-denied',
        'revocation/no-status-list-denied',
        'rollback/last-good-copies-kept',
        'staleness/status-list-stopped-refreshing-while-lost',
      ]),
    );
    expect(failedIds.some((id) => id.startsWith('replay/') || id.startsWith('time-floor/'))).toBe(false);
  });

  it('one that ignores time', async () => {
    const failedIds = withStatus(await run(ignoresTime), 'FAILED');
    expect(failedIds).toEqual(
      expect.arrayContaining([
        'vectors-time/credential-expired',
        'vectors-time/presentation-too-old',
        'vectors-time/presentation-from-future',
        'staleness/trust-list-past-max-age',
        'time-floor/clock-set-back-after-reboot',
        'time-floor/clock-set-back-while-running',
      ]),
    );
    expect(failedIds.some((id) => id.startsWith('revocation/'))).toBe(false);
  });

  it('one whose roster loading ignores versions (an older roster re-admits a removed phone key)', async () => {
    const failedIds = withStatus(await run(ignoresRosterVersions), 'FAILED');
    expect(failedIds).toEqual([
      'rollback/older-roster-refused',
      'rollback/same-version-roster-other-bytes-refused',
      'rollback/removed-phone-key-stays-refused',
      'rollback/roster-rollback-refused-after-reboot',
    ]);
  });

  it('one that compares a roster with the roster in memory, not a persisted version', async () => {
    const failedIds = withStatus(await run(forgetsRosterVersionOnReboot), 'FAILED');
    expect(failedIds).toEqual(['rollback/roster-rollback-refused-after-reboot']);
  });

  it('one whose floor is moved by a list signed a year ahead', async () => {
    const failedIds = withStatus(await run(unboundedFloor), 'FAILED');
    expect(failedIds).toEqual(['time-floor/future-signed-list-does-not-move-floor']);
  });
});

describe('expected failures and reports', () => {
  it('an expected-failures file turns known failures into documented ones (exit 0)', async () => {
    const plan = await run(acceptsReplays);
    const expected = withStatus(plan, 'FAILED').map((id) => {
      const [module, condition] = id.split('/') as [string, string];
      return {
        plan: 'verifier',
        module,
        condition,
        reason: 'known: replay window disabled in the lab build',
      };
    });
    expect(exitCodeOf(buildReport([plan]))).toBe(1);
    const again = await runVerifierPlan(
      connectInProcessHarness(createReferenceHarness({ createVerifier: acceptsReplays })),
      {
        expectedFailures: [
          ...expected,
          { plan: 'verifier', module: 'replay', condition: 'nope', reason: 'stale entry' },
        ],
      },
    );
    const report = buildReport(
      [again],
      [...expected, { plan: 'verifier', module: 'replay', condition: 'nope', reason: 'stale entry' }],
    );
    expect(report.counts.FAILED).toBe(0);
    expect(report.counts.expectedFailures).toBe(expected.length);
    expect(report.status).toBe('PASSED');
    expect(exitCodeOf(report)).toBe(0);
    expect(report.unusedExpectedFailures.map((e) => e.condition)).toEqual(['nope']);
    expect(toHtml(report)).toContain('EXPECTED FAILURE');
    expect(toJunit(report)).not.toContain('<failure');
  });

  it('an entry naming a plan that does not exist (misspelt) is refused, naming the plans; every plan the suite runs is one', () => {
    const entry = { module: 'replay', condition: 'x', reason: 'r' };
    expect(() => parseExpectedFailures([{ plan: 'verifer', ...entry }])).toThrow(
      'expected failures: entry 0 names plan "verifer"; the plans are verifier, gate, pos, webhook',
    );
    expect(PLAN_NAMES).toEqual(['verifier', ...DEVICE_PLANS]);
    for (const plan of PLAN_NAMES) expect(parseExpectedFailures([{ plan, ...entry }])).toHaveLength(1);
  });

  it('JUnit XML names failures; the HTML page has no external assets', async () => {
    const report = buildReport([await run(ignoresTime)]);
    const junit = toJunit(report);
    expect(junit).toMatch(
      /<testcase classname="verifier\.time-floor" name="clock-set-back-after-reboot"[^>]*>\s*<failure/,
    );
    expect((junit.match(/<failure /g) ?? []).length).toBe(report.counts.FAILED);
    const page = toHtml(report);
    expect(page).not.toMatch(/<(link|script|img)\b/i);
    expect(page).not.toMatch(/(src|href)=/i);
    expect(page).toContain('clock-set-back-after-reboot');
  });
});

describe('CLI', () => {
  it('run --plan verifier --target builtin writes the three reports and exits 0', async () => {
    const out = testDir('conformance-');
    const text: string[] = [];
    const sink = { write: (s: string) => void text.push(s), isTTY: false };
    const code = await main(['run', '--plan', 'verifier', '--target', 'builtin', '--out', out], {
      stdout: sink,
      stderr: sink,
    });
    expect(code).toBe(0);
    const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { status: string };
    expect(json.status).toBe('PASSED');
    expect(readFileSync(join(out, 'junit.xml'), 'utf8')).toContain('<testsuites');
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('<!doctype html>');
    expect(text.join('')).toContain('plan verifier: PASSED');
  });

  it('usage errors exit 2', async () => {
    const sink = { write: () => {}, isTTY: false };
    expect(await main(['run', '--plan', 'verifier'], { stdout: sink, stderr: sink })).toBe(2);
    expect(await main(['run', '--plan', 'nope', '--target', 'x'], { stdout: sink, stderr: sink })).toBe(2);
  });
});
