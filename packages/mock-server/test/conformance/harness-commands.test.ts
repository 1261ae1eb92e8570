import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectHttpHarness, connectProcessHarness } from '../../src/conformance/verifier/connections.js';
import { runVerifierPlan } from '../../src/conformance/verifier/plan.js';
import { testDir } from '../helpers.js';

const root = join(import.meta.dirname, '../../../..');
const hasCc = spawnSync('cc', ['--version']).status === 0;

describe('harness targets launched as commands', () => {
  it('the reference harness (examples/verifier-harness) passes the verifier plan as a child process', async () => {
    const conn = connectProcessHarness(`"${process.execPath}" examples/verifier-harness/run.mjs`, {
      cwd: root,
    });
    try {
      const plan = await runVerifierPlan(conn);
      const bad = plan.modules.flatMap((m) =>
        m.conditions
          .filter((c) => c.status === 'FAILED' || c.status === 'WARNING')
          .map((c) => `${m.id}/${c.id}: ${c.message}`),
      );
      expect(bad).toEqual([]);
      expect(plan.status).toBe('PASSED');
    } finally {
      await conn.close();
    }
  }, 60_000);

  it('the reference harness also serves the protocol over HTTP', async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const child = (await import('node:child_process')).spawn(
      process.execPath,
      ['examples/verifier-harness/run.mjs', '--http', String(port)],
      { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        child.stderr.on('data', (d: Buffer) => d.toString().includes('verifier harness on') && resolve());
        child.on('exit', () => reject(new Error('harness exited')));
      });
      const plan = await runVerifierPlan(connectHttpHarness(`http://127.0.0.1:${port}/`), {
        modules: ['vectors-valid', 'replay', 'time-floor'],
      });
      expect(plan.status).toBe('PASSED');
    } finally {
      child.kill();
    }
  }, 60_000);

  it.skipIf(!hasCc)(
    'the C example (structural checks only) passes the decoding vectors and fails closed on the rest',
    async () => {
      const bin = join(testDir('c-harness-'), 'c-verifier-harness');
      execFileSync('cc', [
        '-std=c99',
        '-O2',
        '-Wall',
        '-Wextra',
        '-Werror',
        '-o',
        bin,
        join(root, 'examples/c-verifier-harness/harness.c'),
      ]);
      const conn = connectProcessHarness(`"${bin}"`);
      try {
        const plan = await runVerifierPlan(conn);
        const mod = (id: string) => plan.modules.find((m) => m.id === id);
        // every malformed-input vector is denied BAD_FORMAT by the C structural checks
        expect(mod('vectors-decoding')?.conditions.map((c) => c.status)).toEqual(
          mod('vectors-decoding')?.conditions.map(() => 'PASSED'),
        );
        // no cryptography: valid codes are denied (fail closed), never accepted
        expect(mod('vectors-valid')?.status).toBe('FAILED');
        const accepted = plan.modules
          .flatMap((m) => m.conditions)
          .filter((c) => c.message?.startsWith('accepted'));
        expect(accepted).toEqual([]);
        expect(plan.product).toMatchObject({ capabilities: [] });
      } finally {
        await conn.close();
      }
    },
    60_000,
  );

  it('a harness that dies is reported, not hung on', async () => {
    const conn = connectProcessHarness(`"${process.execPath}" -e "process.exit(3)"`, { timeoutMs: 2000 });
    await expect(runVerifierPlan(conn)).rejects.toThrow(/harness exited|could not|EPIPE/);
    await conn.close();
  });
});
