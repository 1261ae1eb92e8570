import { describe, expect, it } from 'vitest';
import { passed } from '../../src/conformance/model.js';
import { type PlanDef, runPlan, UnknownModuleError } from '../../src/conformance/runner.js';

const ran: string[] = [];
const mod = (id: string) => ({
  id,
  title: id,
  async run(ctx: Parameters<PlanDef<null>['modules'][number]['run']>[0]) {
    ran.push(id);
    await ctx.check({ id: 'ok', title: 'ok', spec: [] }, () => passed());
  },
});
const plan: PlanDef<null> = { id: 'p', title: 'P', modules: [mod('a'), mod('b'), mod('c')] };

describe('runPlan module selection', () => {
  it('an id the plan does not have throws UnknownModuleError before anything runs', async () => {
    ran.length = 0;
    const events: unknown[] = [];
    const run = runPlan(plan, null, {
      targetLabel: 't',
      modules: ['b', 'x'],
      onProgress: (e) => events.push(e),
    });
    await expect(run).rejects.toBeInstanceOf(UnknownModuleError);
    await expect(run).rejects.toMatchObject({
      plan: 'p',
      unknown: ['x'],
      valid: ['a', 'b', 'c'],
      message: `unknown module "x" for plan p; the plan's modules: a, b, c`,
    });
    expect(ran).toEqual([]);
    expect(events).toEqual([]);
  });

  it('an empty selection is refused too (it would pass having checked nothing)', async () => {
    await expect(runPlan(plan, null, { targetLabel: 't', modules: [] })).rejects.toBeInstanceOf(
      UnknownModuleError,
    );
  });

  it('known ids run in the plan order; no selection runs every module', async () => {
    ran.length = 0;
    const some = await runPlan(plan, null, { targetLabel: 't', modules: ['c', 'a'] });
    expect([some.modules.map((m) => m.id), ran]).toEqual([
      ['a', 'c'],
      ['a', 'c'],
    ]);
    ran.length = 0;
    const all = await runPlan(plan, null, { targetLabel: 't' });
    expect([all.modules.map((m) => m.id), all.status]).toEqual([['a', 'b', 'c'], 'PASSED']);
  });
});
