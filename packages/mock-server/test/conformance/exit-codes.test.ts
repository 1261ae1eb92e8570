/**
 * `campus-card-conformance` exit codes: 1 is the product's failure, 2 a command line to fix, 3 a
 * run that could not run (no verdict), whatever made it so. Each path to 3 is taken here.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { buildNotRunReport, buildReport, EXIT_CODES, exitCodeOf } from '../../src/conformance/runner.js';
import { main } from '../../src/conformance-cli.js';
import { testDir } from '../helpers.js';
import { captureIo } from './test-io.js';

const fault = vi.hoisted(() => ({ reports: false, vectors: false, platform: false }));

vi.mock('../../src/conformance/reports.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/conformance/reports.js')>();
  return {
    ...real,
    writeReports: async (...args: Parameters<typeof real.writeReports>) => {
      if (fault.reports)
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      return real.writeReports(...args);
    },
  };
});
vi.mock('../../src/conformance/verifier/vectors.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/conformance/verifier/vectors.js')>();
  return { ...real, defaultVectorsDir: () => (fault.vectors ? undefined : real.defaultVectorsDir()) };
});
vi.mock('../../src/server.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/server.js')>();
  return {
    ...real,
    startMockPlatform: async (...args: Parameters<typeof real.startMockPlatform>) => {
      if (fault.platform) throw Object.assign(new Error('listen EADDRINUSE: address already in use'), {});
      return real.startMockPlatform(...args);
    },
  };
});

beforeEach(() => {
  fault.reports = false;
  fault.vectors = false;
  fault.platform = false;
});

describe('exit code 3: the suite could not run', () => {
  it('the reports cannot be written after the run: no verdict the CI job can keep, though the product passed', async () => {
    const s = captureIo();
    const out = testDir('conformance-exit-');
    fault.reports = true;
    const code = await main(
      ['run', '--plan', 'verifier', '--target', 'builtin', '--module', 'replay', '--out', out],
      s.io,
    );
    expect(code).toBe(3);
    expect(s.out.stderr).toContain(`cannot write the reports to ${out}: ENOSPC`);
    expect(s.out.stdout).toBe('PASSED\n'); // the verdict is still shown
  });

  it("the suite's own vectors are not found (an installation fault, not the command line's)", async () => {
    const s = captureIo();
    const out = testDir('conformance-exit-');
    writeFileSync(join(out, 'junit.xml'), 'an earlier run');
    fault.vectors = true;
    expect(await main(['run', '--plan', 'verifier', '--target', 'builtin', '--out', out], s.io)).toBe(3);
    expect(s.out.stderr).toContain(
      'the suite could not run: the @campus-card/core vectors folder was not found',
    );
    expect(s.out.stdout).toMatch(/\nERROR\n$/);
    expect(readFileSync(join(out, 'junit.xml'), 'utf8')).toContain('<error message="the suite could not run');
  });

  it('reports that cannot be written when the suite could not run: still 3, and no earlier report left', async () => {
    const s = captureIo();
    const out = testDir('conformance-exit-');
    writeFileSync(join(out, 'report.json'), 'an earlier run');
    fault.vectors = true;
    fault.reports = true;
    expect(await main(['run', '--plan', 'verifier', '--target', 'builtin', '--out', out], s.io)).toBe(3);
    expect(s.out.stderr).toContain(`cannot write the reports to ${out}: ENOSPC`);
    expect(readdirSync(out)).toEqual([]);
    expect(s.out.stdout).toBe('ERROR\n');
  });

  it('the mock platform does not start (device plans); the report says why', async () => {
    const s = captureIo();
    const out = testDir('conformance-exit-');
    fault.platform = true;
    expect(await main(['run', '--plan', 'gate', '--target', 'true', '--out', out], s.io)).toBe(3);
    expect(s.out.stderr).toContain('the suite could not run: listen EADDRINUSE');
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report).toMatchObject({
      status: 'ERROR',
      error: { plan: 'gate', target: 'true', message: 'listen EADDRINUSE: address already in use' },
    });
  });

  it('an HTTP harness that cannot be reached', async () => {
    const s = captureIo();
    // port 9 (discard) on the loopback: nothing listens there
    expect(
      await main(
        ['run', '--plan', 'verifier', '--target', 'http://127.0.0.1:9/', '--module', 'replay'],
        s.io,
      ),
    ).toBe(3);
    expect(s.out.stderr).toMatch(/the suite could not run: harness at http:\/\/127\.0\.0\.1:9\/ unreachable/);
  });

  it('a webhook receiver that exits before it listens', async () => {
    const s = captureIo();
    const device = `"${process.execPath}" -e "process.exit(4)"`;
    expect(await main(['run', '--plan', 'webhook', '--target', device], s.io)).toBe(3);
    expect(s.out.stderr).toMatch(/the suite could not run: the device exited \(4\) before listening/);
  }, 60_000);
});

describe('exit code 2 stays the command line', () => {
  it('a --vectors folder without vectors is the argument at fault', async () => {
    const s = captureIo();
    const empty = testDir('conformance-exit-');
    expect(await main(['run', '--plan', 'verifier', '--target', 'builtin', '--vectors', empty], s.io)).toBe(
      2,
    );
    expect(s.out.stderr).toBe(`--vectors ${empty}: no vector (*.json) in ${empty}\n`);
  });
});

describe('exitCodeOf', () => {
  it('0 passed, 1 failed, 3 could not run', () => {
    expect(EXIT_CODES).toEqual({ passed: 0, failed: 1, usage: 2, notRun: 3 });
    expect(exitCodeOf(buildReport([]))).toBe(0);
    expect(exitCodeOf(buildNotRunReport('verifier', 'builtin', 'why'))).toBe(3);
  });
});
