/**
 * What the suite launches is gone once the suite is done with it, including what the shell started
 * and what ignores SIGTERM (a device stuck in its shutdown handler).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { launchDevice } from '../../src/conformance/devices/launch.js';
import { spawnInGroup, stopAllGroups } from '../../src/conformance/process-groups.js';
import { connectProcessHarness } from '../../src/conformance/verifier/connections.js';
import { testDir } from '../helpers.js';
import { alive } from './test-io.js';

async function pidIn(file: string): Promise<number> {
  const end = Date.now() + 10_000;
  while (!existsSync(file) || readFileSync(file, 'utf8') === '') {
    if (Date.now() > end) throw new Error(`no pid in ${file}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return Number(readFileSync(file, 'utf8'));
}

/**
 * A program that ignores SIGTERM (and writes its pid to `pidFile`). Behind a shell that does not
 * exec it, the shell dies on SIGTERM and the program goes on running, out of the suite's sight
 * unless it is killed.
 */
function stubborn(pidFile: string): string {
  const script = `process.on('SIGTERM', () => {}); require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000);`;
  return `"${process.execPath}" -e "${script.replace(/"/g, '\\"')}"`;
}

describe('stopping what the suite launched', () => {
  it('a device that ignores SIGTERM behind its shell is killed, not left running', async () => {
    const pidFile = join(testDir('groups-'), 'pid');
    const device = launchDevice(`${stubborn(pidFile)}; true`, {}); // `; true`: the shell cannot exec it
    const pid = await pidIn(pidFile);
    expect(alive(pid)).toBe(true);
    await device.stop();
    expect(alive(pid)).toBe(false);
  }, 20_000);

  it('a harness that leaves a SIGTERM-ignoring program behind is killed at close', async () => {
    const pidFile = join(testDir('groups-'), 'pid');
    // the shell reads stdin until it ends (the suite's close), then exits; its background program stays
    const conn = connectProcessHarness(`${stubborn(pidFile)} & cat > /dev/null`);
    const t0 = Date.now();
    const pid = await pidIn(pidFile);
    expect(alive(pid)).toBe(true);
    await conn.close();
    expect(alive(pid)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(6000);
  }, 20_000);

  // last: it leaves this file's module state stopping (vitest isolates each test file)
  it('stopAllGroups stops every running group, and nothing is launched after it', async () => {
    const pidFile = join(testDir('groups-'), 'pid');
    launchDevice(`${stubborn(pidFile)}; true`, {});
    const pid = await pidIn(pidFile);
    await stopAllGroups();
    expect(alive(pid)).toBe(false);
    expect(() => spawnInGroup('true', { stdio: 'ignore' })).toThrow('the suite is stopping');
  }, 20_000);
});
