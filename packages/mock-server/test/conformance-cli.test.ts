import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDevicePlan } from '../src/conformance/devices/plan.js';
import { main } from '../src/conformance-cli.js';
import { captureIo } from './conformance/test-io.js';
import { testDir } from './helpers.js';

describe('--module', () => {
  it('an id the verifier plan does not have is a usage error (exit 2) naming the valid ids', async () => {
    const s = captureIo();
    expect(await main(['run', '--plan', 'verifier', '--target', 'builtin', '--module', 'replya'], s.io)).toBe(
      2,
    );
    expect(s.out.stderr).toContain('unknown module "replya" for plan verifier');
    expect(s.out.stderr).toMatch(/the plan's modules: vectors-valid, .*replay, anti-passback, .*time-floor/);
    expect(s.out.stdout).toBe('');
  });

  it('one unknown id among known ones is a usage error too: nothing runs', async () => {
    const s = captureIo();
    const args = [
      'run',
      '--plan',
      'verifier',
      '--target',
      'builtin',
      '--module',
      'replay',
      '--module',
      'rollbak',
    ];
    expect(await main(args, s.io)).toBe(2);
    expect(s.out.stderr).toContain('unknown module "rollbak"');
    expect(s.out.stderr).not.toContain('replay:'); // no module started
    expect(s.out.stdout).toBe('');
  });

  it('device plans check their module ids before starting the platform or the device', async () => {
    for (const [plan, valid] of [
      ['gate', 'revoked-card, event-upload-dedupe, trust-list-rotation'],
      ['pos', 'scan-to-pay, timeout-poll, timeout-poll-reverse, offline-batch'],
      ['webhook', 'push-signatures'],
    ] as const) {
      const s = captureIo();
      // the target would fail to start: the usage error comes first
      const args = ['run', '--plan', plan, '--target', '/nonexistent/device', '--module', 'nope'];
      expect(await main(args, s.io)).toBe(2);
      expect(s.out.stderr).toContain(
        `unknown module "nope" for plan ${plan}; the plan's modules: ${valid}\n`,
      );
      expect(s.out.stderr).not.toContain('the suite could not run:');
    }
  });

  it('a known id still runs that module only', async () => {
    const s = captureIo();
    expect(await main(['run', '--plan', 'verifier', '--target', 'builtin', '--module', 'replay'], s.io)).toBe(
      0,
    );
    expect(s.out.stdout).toBe('PASSED\n');
  });
});

describe('arguments', () => {
  it('a word no option takes (a second --module value, an unquoted --target) is a usage error, exit 2', async () => {
    for (const args of [
      ['run', '--plan', 'verifier', '--target', 'builtin', '--module', 'replay', 'rollback'],
      ['run', '--plan', 'verifier', '--target', 'node', 'harness.js', '--module', 'replay'],
    ]) {
      const s = captureIo();
      expect(await main(args, s.io)).toBe(2);
      expect(s.out.stderr).toMatch(/^unexpected argument "(rollback|harness\.js)"/);
      expect(s.out.stdout).toBe(''); // nothing ran
    }
  });
});

describe('a harness that could not run', () => {
  it('its stderr, quoted in the message, cannot move the cursor or erase the line (control characters escaped)', async () => {
    // erases the line, returns to its start and writes a verdict of its own, then exits 3
    const script = join(testDir('conformance-stderr-'), 'harness.mjs');
    writeFileSync(script, `process.stderr.write('boom\\x1b[2K\\rPASSED\\n'); process.exit(3);`);
    const s = captureIo();
    const target = `"${process.execPath}" "${script}"`;
    expect(await main(['run', '--plan', 'verifier', '--target', target, '--module', 'replay'], s.io)).toBe(3);
    expect(s.out.stderr).toContain(
      'the suite could not run: harness exited (3); stderr: boom\\x1b[2K\\rPASSED',
    );
    expect(s.out.stdout).toBe('ERROR\n'); // no verdict
    expect(s.out.stderr).not.toContain('\u001b');
    expect(s.out.stderr).not.toContain('\r');
  });
});

describe('--out', () => {
  const dies = `"${process.execPath}" -e "process.exit(3)"`;

  it("a run that could not run exits 3 and its reports, replacing an earlier run's, say why (JUnit <error>)", async () => {
    const out = testDir('conformance-out-');
    for (const f of ['report.json', 'junit.xml', 'report.html'])
      writeFileSync(join(out, f), 'an earlier run');
    const s = captureIo();
    expect(
      await main(['run', '--plan', 'verifier', '--target', dies, '--module', 'replay', '--out', out], s.io),
    ).toBe(3);
    expect(s.out.stderr).toContain('the suite could not run: harness exited (3)');
    expect(s.out.stdout).toMatch(/^reports: .*report\.json.*\nERROR\n$/);
    expect(readdirSync(out).sort()).toEqual(['junit.xml', 'report.html', 'report.json']);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report).toMatchObject({
      status: 'ERROR',
      plans: [],
      counts: { PASSED: 0, FAILED: 0, WARNING: 0, SKIPPED: 0, expectedFailures: 0 },
      error: { plan: 'verifier', target: dies },
    });
    expect(report.error.message).toMatch(/^harness exited \(3\)/);
    const junit = readFileSync(join(out, 'junit.xml'), 'utf8');
    // an error, which a CI dashboard tells from a failure of the product
    expect(junit).toContain('failures="0" errors="1"');
    expect(junit).toMatch(/<error message="the suite could not run: harness exited \(3\)/);
    expect(junit).not.toContain('<failure');
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('The suite could not run');
  });

  it('a folder that cannot be written is reported before anything runs (exit 2)', async () => {
    const file = join(testDir('conformance-out-'), 'a-file');
    writeFileSync(file, '');
    const s = captureIo();
    expect(
      await main(['run', '--plan', 'verifier', '--target', dies, '--module', 'replay', '--out', file], s.io),
    ).toBe(2);
    expect(s.out.stderr).toMatch(/^cannot write the reports to .*a-file: /);
    expect(s.out.stderr).not.toContain('harness');
  });

  // a folder that exists but takes no file: /proc refuses new files, to root as well
  it.runIf(existsSync('/proc/self'))(
    'an existing folder that takes no file is reported before anything runs too (exit 2), not after the run',
    async () => {
      const s = captureIo();
      expect(
        await main(
          ['run', '--plan', 'verifier', '--target', dies, '--module', 'replay', '--out', '/proc'],
          s.io,
        ),
      ).toBe(2);
      expect(s.out.stderr).toMatch(/^cannot write the reports to \/proc: /);
      expect(s.out.stderr).not.toContain('harness');
    },
  );

  // a folder to make under /proc: mkdir's `recursive` loops for ever there on Node 20
  it.runIf(existsSync('/proc/self'))(
    'a folder that cannot be made under /proc is exit 2, at once',
    async () => {
      const s = captureIo();
      expect(
        await main(
          [
            'run',
            '--plan',
            'verifier',
            '--target',
            dies,
            '--module',
            'replay',
            '--out',
            '/proc/nope/reports',
          ],
          s.io,
        ),
      ).toBe(2);
      expect(s.out.stderr).toMatch(/^cannot write the reports to \/proc\/nope\/reports: ENOENT/);
    },
    10_000,
  );
});

describe('--timeout', () => {
  it('a value node timers cannot take (over 2^31 - 1 ms), a fraction or zero is a usage error, exit 2', async () => {
    for (const bad of ['3000000000', '2147483648', '1.5', '0', '-1', 'abc']) {
      const s = captureIo();
      const code = await main(['run', '--plan', 'verifier', '--target', 'true', `--timeout=${bad}`], s.io);
      expect([bad, code]).toEqual([bad, 2]);
      expect(s.out.stderr).toMatch(/--timeout must be a whole number of milliseconds from 1 to 2147483647/);
    }
  });

  it('a long --timeout is no failure of a POS: the confirmation wait outlasts the sale whatever it is', async () => {
    const plan = await runDevicePlan('pos', '/nonexistent/device', {
      modules: ['timeout-poll-reverse'],
      timeoutMs: 3_600_000,
    });
    const conditions = plan.modules[0]?.conditions.map((c) => c.id) ?? [];
    expect(conditions).not.toContain('module-completed');
  }, 120_000);

  it('bounds each command to a gate as well: a gate that never answers fails within it, not after 20 s', async () => {
    // reads its commands and never answers one
    const silent = `"${process.execPath}" -e "process.stdin.resume()"`;
    const s = captureIo();
    const started = Date.now();
    const code = await main(
      ['run', '--plan', 'gate', '--target', silent, '--module', 'revoked-card', '--timeout', '300'],
      s.io,
    );
    const took = Date.now() - started;
    expect(code, s.out.stderr).not.toBe(0);
    expect(`${s.out.stdout}${s.out.stderr}`).toMatch(/300 ms|timed out|timeout/i);
    expect(took).toBeLessThan(15_000);
  }, 60_000);
});
