import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkLedger } from '@campus-card/mock-server';
import { expect, it } from 'vitest';
import { runPosFleet } from './chaos/pos-fleet.js';
import { startPlatform } from './platform.js';

const OPS = Number(process.env.CHAOS_POS_OPS ?? 100);

it(`chaos: 20 POS × ${OPS} operations with drops after commit, 5xx, delays, 429 and restarts`, async () => {
  // payments above 2 500 fen wait 0.7 s for confirmation (about the length of the poll schedule, so some are reversed)
  const server = await startPlatform({ confirmThreshold: 2_500, confirmDelayS: 0.7 });
  const dir = await mkdtemp(join(tmpdir(), 'pos-chaos-'));
  try {
    const report = await runPosFleet({ server, dir, devices: 20, opsPerDevice: OPS, seed: 7 });
    console.log(JSON.stringify({ name: 'chaos.pos', ...report.counts }));
    expect(report.problems).toEqual([]);
    expect(checkLedger(server.platform.state)).toMatchObject({ balanced: true, problems: [] });
    expect(report.counts['pos.ops']).toBe(20 * OPS);
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}, 300_000);
