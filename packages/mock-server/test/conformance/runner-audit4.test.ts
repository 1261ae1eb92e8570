/**
 * A module that stops early still reports every condition it declares, under its stable id:
 * FAILED `not checked: …`, before `module-completed`. A gate that dies at its first sync lists
 * the gate plan's conditions as FAILED, rather than only `module-completed`.
 */
import { describe, expect, it } from 'vitest';
import { runDevicePlan } from '../../src/conformance/devices/plan.js';
import { type ConditionMeta, passed } from '../../src/conformance/model.js';
import { toJunit } from '../../src/conformance/reports.js';
import { buildReport, exitCodeOf, type PlanDef, runPlan } from '../../src/conformance/runner.js';

const meta = (id: string): ConditionMeta => ({ id, title: `title of ${id}`, spec: ['spec §1'] });

describe('declared conditions', () => {
  it('those a module did not reach are FAILED "not checked", in order, before module-completed', async () => {
    const plan: PlanDef<null> = {
      id: 'p',
      title: 'P',
      modules: [
        {
          id: 'm',
          title: 'M',
          conditions: [meta('one'), meta('two'), meta('three')],
          async run(ctx) {
            await ctx.check(meta('one'), () => passed());
            throw new Error('the device exited (1)');
          },
        },
        {
          id: 'n',
          title: 'N',
          conditions: [meta('a'), meta('b')],
          async run(ctx) {
            await ctx.check(meta('b'), () => passed()); // a module that forgets one
          },
        },
      ],
    };
    const result = await runPlan(plan, null, { targetLabel: 't' });
    const [m, n] = result.modules;
    expect(m?.conditions.map((c) => [c.id, c.status, c.message])).toEqual([
      ['one', 'PASSED', undefined],
      ['two', 'FAILED', 'not checked: the module stopped before it (module aborted: the device exited (1))'],
      [
        'three',
        'FAILED',
        'not checked: the module stopped before it (module aborted: the device exited (1))',
      ],
      ['module-completed', 'FAILED', 'module aborted: the device exited (1)'],
    ]);
    expect(m?.conditions[1]).toMatchObject({ title: 'title of two', spec: ['spec §1'] });
    expect(n?.conditions.map((c) => [c.id, c.status, c.message])).toEqual([
      ['b', 'PASSED', undefined],
      ['a', 'FAILED', 'not checked: the module ended without checking it'],
    ]);
    expect(result.counts).toMatchObject({ PASSED: 2, FAILED: 4 });
  });
});

describe('a gate that dies at once', () => {
  it('has every condition of the module in the report (JSON and JUnit), FAILED', async () => {
    const plan = await runDevicePlan('gate', 'exit 1', { modules: ['revoked-card'], timeoutMs: 5000 });
    const ids = plan.modules[0]?.conditions.map((c) => `${c.id}:${c.status}`);
    expect(ids).toEqual([
      'valid-card-admitted:FAILED',
      'lost-card-denied-after-sync:FAILED',
      'decisions-uploaded:FAILED',
      'requests-signed:FAILED',
      'module-completed:FAILED',
    ]);
    const report = buildReport([plan]);
    expect(exitCodeOf(report)).toBe(1);
    const junit = toJunit(report);
    for (const id of [
      'valid-card-admitted',
      'lost-card-denied-after-sync',
      'decisions-uploaded',
      'requests-signed',
    ])
      expect(junit).toMatch(
        new RegExp(
          `<testcase classname="gate.revoked-card" name="${id}" time="0.000">\\n {6}<failure message="not checked: the module stopped before it`,
        ),
      );
  }, 60_000);
});
