/**
 * `campus-card-conformance` stopped by a signal (Ctrl-C, a cancelled CI job, the terminal or SSH
 * session gone) takes the devices it launched down with it: they run in sessions and process
 * groups of their own, out of reach of the terminal's SIGINT and SIGHUP.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleForNode } from '../../../../.scripts/lib/bundle.mjs';
import { alive } from './test-io.js';

const dir = mkdtempSync(join(tmpdir(), 'conformance-signal-'));
const cli = join(dir, 'conformance-cli.mjs');

beforeAll(async () => {
  await bundleForNode(fileURLToPath(new URL('../../src/conformance-cli.ts', import.meta.url)), cli);
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('campus-card-conformance and signals', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)(
    'on %s it exits %i and stops the device under test',
    async (signal, code) => {
      const pidFile = join(dir, `${signal}.pid`);
      // the device: a shell that records its pid (its process group) and then waits
      const device = `echo $$ > ${pidFile}; exec sleep 60`;
      // the suite's own temporary directory, to see what it leaves there
      const tmp = join(dir, `${signal}-tmp`);
      mkdirSync(tmp);
      const child = spawn(process.execPath, [cli, 'run', '--plan', 'gate', '--target', device], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, TMPDIR: tmp },
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      try {
        await until(
          'the device to start',
          () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '',
          30_000,
        );
        const pid = Number(readFileSync(pidFile, 'utf8').trim());
        expect(alive(pid)).toBe(true);
        child.kill(signal);
        expect(await exited).toBe(code);
        expect(stderr).toContain(`${signal}: stopping the devices under test`);
        await until('the device to stop', () => !alive(pid), 5_000);
        expect(readdirSync(tmp)).toEqual([]); // the gate's data directory did not outlive the run
      } finally {
        child.kill('SIGKILL');
      }
    },
    60_000,
  );

  it("on SIGINT it also kills what ignores SIGTERM behind the device's shell", async () => {
    const pidFile = join(dir, 'stubborn.pid');
    const script = `process.on('SIGTERM', () => {}); require('node:fs').writeFileSync('${pidFile}', String(process.pid)); setInterval(() => {}, 1000);`;
    // `; true`: the shell cannot exec the program; SIGTERM kills the shell, not the program
    const device = `"${process.execPath}" -e "${script}"; true`;
    const out = join(dir, 'stubborn-out');
    const child = spawn(process.execPath, [cli, 'run', '--plan', 'gate', '--target', device, '--out', out], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    let pid: number | undefined;
    try {
      await until(
        'the device to start',
        () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '',
        30_000,
      );
      pid = Number(readFileSync(pidFile, 'utf8').trim());
      expect(alive(pid)).toBe(true);
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(alive(pid)).toBe(false);
      // nor a device the next module started meanwhile (the plan goes on while the first one stops)
      pid = Number(readFileSync(pidFile, 'utf8').trim());
      expect(alive(pid)).toBe(false);
      expect(existsSync(join(out, 'junit.xml'))).toBe(false); // an interrupted run reports nothing
    } finally {
      child.kill('SIGKILL');
      if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
    }
  }, 60_000);
});
