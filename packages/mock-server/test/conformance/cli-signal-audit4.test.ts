/**
 * campus-card-conformance and SIGHUP (the terminal or SSH session running it is gone): the devices
 * run in sessions of their own, which the hang-up does not reach, so the suite must stop them and
 * remove their data directories, as for SIGINT and SIGTERM.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleForNode } from '../../../../.scripts/lib/bundle.mjs';
import { alive } from './test-io.js';

const dir = mkdtempSync(join(tmpdir(), 'conformance-sighup-'));
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

describe('campus-card-conformance and SIGHUP', () => {
  it('exits 129, stops the device under test and leaves no data directory', async () => {
    const pidFile = join(dir, 'hup.pid');
    const device = `echo $$ > ${pidFile}; exec sleep 60`;
    const tmp = join(dir, 'hup-tmp');
    mkdirSync(tmp);
    const child = spawn(process.execPath, [cli, 'run', '--plan', 'gate', '--target', device], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, TMPDIR: tmp },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<[number | null, string | null]>((resolve) =>
      child.once('exit', (c, s) => resolve([c, s])),
    );
    let pid: number | undefined;
    try {
      await until(
        'the device to start',
        () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '',
        30_000,
      );
      pid = Number(readFileSync(pidFile, 'utf8').trim());
      expect(alive(pid)).toBe(true);
      child.kill('SIGHUP');
      expect(await exited).toEqual([129, null]);
      expect(stderr).toContain('SIGHUP: stopping the devices under test');
      await until('the device to stop', () => !alive(pid as number), 5_000);
      expect(readdirSync(tmp)).toEqual([]); // the gate's data directory did not outlive the run
    } finally {
      child.kill('SIGKILL');
      if (pid !== undefined && alive(pid)) process.kill(-pid, 'SIGKILL');
    }
  }, 60_000);
});
