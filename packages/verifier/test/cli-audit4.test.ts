/**
 * campus-card-verify: `--now` bounds the time, not its digits; material that is only stale at
 * `--now` is held (as a gate holds it) and the decision denies it, exit 1, not a refusal (exit 2).
 */
import { exportJwk } from '@campus-card/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { cliIo } from './helpers/cli-io.js';
import { type Campus, makeCampus, T0 } from './helpers/fixtures.js';

let campus: Campus;
const files = new Map<string, Uint8Array>();
const DAY = 86_400;
beforeAll(async () => {
  campus = await makeCampus();
  files.set('root.jwk', new TextEncoder().encode(JSON.stringify(exportJwk(campus.root.publicKey))));
  files.set('tl.bin', await campus.trustList(1, T0 - 60));
  files.set('sl.bin', await campus.statusList(1, T0 - 60));
  // 31 days old at T0: past the default trust-list staleness limit (30 days)
  files.set('tl-old.bin', await campus.trustList(1, T0 - 31 * DAY));
});

const io = () => cliIo(files);

describe('--now', () => {
  it('takes zero-padded unix seconds: the value is bounded (below 10^11), not the number of digits', async () => {
    const qr = await campus.code('2024010001', T0);
    const material = ['--root', 'root.jwk', '--trust-list', 'tl.bin', '--status-list', 'sl.bin'];
    for (const now of [String(T0), `000${T0}`, `${'0'.repeat(40)}${T0}`]) {
      const x = io();
      expect(await main([qr, ...material, '--now', now], x.io), `${now}: ${x.err.join('\n')}`).toBe(0);
      expect(JSON.parse(x.out[1] as string).decision).toMatchObject({ accepted: true });
    }
    // what the bound is for still holds, padded or not: milliseconds are refused
    for (const bad of [`${T0}000`, `00${T0}000`, `01${'0'.repeat(11)}`]) {
      const x = io();
      expect(await main([qr, ...material, '--now', bad], x.io), bad).toBe(2);
      expect(x.err[0]).toBe(
        `campus-card-verify: invalid --now ${bad}: unix seconds, decimal digits only, below 10^11 (a time in milliseconds is refused)`,
      );
    }
  });
});

describe('stale trust material', () => {
  it('is no refusal (exit 2) but a denial (exit 1, TRUST_LIST_STALE), as a gate holding it decides; --help and the code agree', async () => {
    const qr = await campus.code('2024010001', T0);
    const x = io();
    const code = await main(
      [qr, '--root', 'root.jwk', '--trust-list', 'tl-old.bin', '--now', String(T0)],
      x.io,
    );
    const printed = JSON.parse(x.out[1] as string) as { loads: { ok: boolean }[]; decision: unknown };
    expect(printed.loads).toMatchObject([{ ok: true }]); // held, not refused
    expect(printed.decision).toMatchObject({ accepted: false, reason: 'TRUST_LIST_STALE' });
    expect(x.err).toEqual([]); // nothing named as refused
    expect(code).toBe(1);
    // at a time it was fresh, the same material decides otherwise
    const y = io();
    expect(
      await main(
        [qr, '--root', 'root.jwk', '--trust-list', 'tl-old.bin', '--now', String(T0 - 30 * DAY)],
        y.io,
      ),
    ).toBe(1); // the code itself is from T0: from the future then
    expect(JSON.parse(y.out[1] as string).decision).not.toMatchObject({ reason: 'TRUST_LIST_STALE' });
    const h = io();
    expect(await main(['--help'], h.io)).toBe(0);
    const help = h.out.join('\n');
    expect(help).toMatch(/2 {2}usage error, or trust material that cannot be read or is refused/);
    expect(help).toContain(
      'material too old at --now is no refusal: the decision denies it (*_STALE), exit 1',
    );
  });
});
