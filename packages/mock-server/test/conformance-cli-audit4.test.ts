/**
 * campus-card-conformance: arguments a vendor's CI gets wrong are usage errors (exit 2) that say
 * what is wrong, never a run whose FAILED conditions blame the product; --help says what the
 * command does.
 */
import { describe, expect, it } from 'vitest';
import { main } from '../src/conformance-cli.js';
import { captureIo } from './conformance/test-io.js';

describe('a device plan given a target it cannot launch', () => {
  it.each([
    ['gate', 'builtin'],
    ['gate', 'http://127.0.0.1:9/harness'],
    ['pos', 'HTTPS://pos.example/'],
    ['webhook', 'builtin'],
  ])(
    '--plan %s --target %s is a usage error (exit 2) before anything starts, not FAILED conditions',
    async (plan, target) => {
      const s = captureIo();
      const code = await main(['run', '--plan', plan, '--target', target, '--module', devModule(plan)], s.io);
      expect(code, s.out.stderr).toBe(2);
      expect(s.out.stderr).toContain(
        `--target "${target}": the ${plan} plan launches the device, so its --target is the command that starts it`,
      );
      expect(s.out.stderr).not.toMatch(/plan \w+: \d+ modules/); // nothing ran
      expect(s.out.stdout).toBe(''); // no verdict printed
    },
  );

  it('--vectors with a device plan is a usage error too (the plan takes none)', async () => {
    const s = captureIo();
    expect(await main(['run', '--plan', 'gate', '--target', 'true', '--vectors', 'v'], s.io)).toBe(2);
    expect(s.out.stderr).toContain('--vectors is for the verifier plan: the gate plan takes no vectors');
  });
});

function devModule(plan: string): string {
  return plan === 'gate' ? 'revoked-card' : plan === 'pos' ? 'scan-to-pay' : 'push-signatures';
}

describe('--timeout', () => {
  it('takes decimal digits only: hex, exponent, binary and padded spaces are usage errors', async () => {
    for (const bad of ['0x10', '1e4', '0b11', ' 500', '500 ', '+500']) {
      const s = captureIo();
      const code = await main(['run', '--plan', 'verifier', '--target', 'true', `--timeout=${bad}`], s.io);
      expect([bad, code]).toEqual([bad, 2]);
      expect(s.out.stderr).toMatch(/^--timeout must be a whole number of milliseconds from 1 to 2147483647/);
    }
  });
});

describe('a command line without run, --plan or --target', () => {
  it.each([
    [['--plan', 'verifier', '--target', 'builtin'], 'the command "run" is missing'],
    [['rn', '--plan', 'verifier', '--target', 'builtin'], 'unknown command "rn": the command is "run"'],
    [['run', '--plan', 'verifier'], '--target missing'],
    [['run', '--target', 'builtin'], '--plan missing'],
    [['run'], '--plan and --target missing'],
  ])('%j says what is wrong before the usage, exit 2', async (argv, problem) => {
    const s = captureIo();
    expect(await main(argv, s.io)).toBe(2);
    expect(s.out.stderr.split('\n')[0]).toBe(problem);
    expect(s.out.stderr).toContain('usage: campus-card-conformance run');
  });
});

describe('--help', () => {
  it('lists the exit codes, the signals, and what --target means for device plans', async () => {
    const s = captureIo();
    expect(await main(['--help'], s.io)).toBe(0);
    const help = s.out.stdout;
    expect(help).toMatch(/^ {2}0 {2}no condition FAILED/m);
    expect(help).toMatch(/^ {2}1 {2}a condition FAILED/m);
    expect(help).toMatch(/^ {2}2 {2}usage error, found before anything starts/m);
    expect(help).toMatch(
      /^ {2}3 {2}the suite could not run, no verdict: the harness or device did not start/m,
    );
    expect(help).toContain('130, 143, 129  stopped by SIGINT, SIGTERM, SIGHUP');
    expect(help).toContain('gate, pos, webhook plans: the command that starts the device');
    // every option the help names is one the command takes
    for (const flag of new Set(help.match(/--[a-z-]+/g))) {
      const t = captureIo();
      await main(['run', flag, ...(flag === '--help' ? [] : ['x'])], t.io);
      expect(t.out.stderr, flag).not.toMatch(/Unknown option/);
    }
  });
});
