import { exportJwk, toHex } from '@campus-card/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { dumpQr, main } from '../src/cli.js';
import { type Campus, makeCampus, T0 } from './helpers/fixtures.js';

let campus: Campus;
const files = new Map<string, Uint8Array>();
beforeAll(async () => {
  campus = await makeCampus();
  files.set('root.jwk', new TextEncoder().encode(JSON.stringify(exportJwk(campus.root.publicKey))));
  files.set('tl.bin', await campus.trustList(1, T0 - 60));
  files.set('sl.hex', new TextEncoder().encode(toHex(await campus.statusList(1, T0 - 60))));
});

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      out: (l: string) => out.push(l),
      err: (l: string) => err.push(l),
      readFile: (p: string) => {
        const f = files.get(p);
        if (!f) throw new Error(`no file ${p}`);
        return f;
      },
      now: () => T0,
    },
  };
}

describe('campus-card-verify', () => {
  it('dumps a QR without trust material', async () => {
    const qr = await campus.code('2024010001', T0, { scene: 1 });
    const x = io();
    expect(await main([qr], x.io)).toBe(0);
    const dump = JSON.parse(x.out.join('\n')).qr;
    expect(dump).toMatchObject({
      mode: 'full',
      header: { alg: 'ES256' },
      t: T0,
      scene: 1,
      claimsUnverified: { cardId: '2024010001', role: 'student', school: '10001' },
    });
    expect(dump.textChars).toBe(qr.length);
  });

  it('prints the decision with trust material; exit 1 when denied', async () => {
    const qr = await campus.code('2024010001', T0);
    const x = io();
    const args = [
      qr,
      '--root',
      'root.jwk',
      '--trust-list',
      'tl.bin',
      '--status-list',
      'sl.hex',
      '--now',
      String(T0),
    ];
    expect(await main(args, x.io)).toBe(0);
    expect(JSON.parse(x.out[1] as string).decision).toMatchObject({ accepted: true, cardId: '2024010001' });
    const y = io();
    expect(await main([qr, '--root', 'root.jwk', '--trust-list', 'tl.bin', '--now', String(T0)], y.io)).toBe(
      1,
    );
    expect(JSON.parse(y.out[1] as string).decision).toMatchObject({
      accepted: false,
      reason: 'NO_STATUS_LIST',
    });
  });

  it('reports bad input and usage errors', async () => {
    expect(dumpQr('XX1:abc')).toMatchObject({ error: { code: 'ERR_QR_PREFIX' } });
    const x = io();
    expect(await main([], x.io)).toBe(2);
    expect(await main(['a', '--bogus', '1'], x.io)).toBe(2);
    expect(x.err[0]).toMatch(/usage/);
  });
});
