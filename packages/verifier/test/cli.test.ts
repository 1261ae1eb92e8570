import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createPresentation,
  decodeQr,
  encodeQr,
  exportJwk,
  issueCredential,
  toBase64Url,
  toHex,
} from '@campus-card/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleForNode } from '../../../.scripts/lib/bundle.mjs';
import { dumpQr, main } from '../src/cli.js';
import { cliIo } from './helpers/cli-io.js';
import { type Campus, makeCampus, T0 } from './helpers/fixtures.js';

let campus: Campus;
const files = new Map<string, Uint8Array>();
beforeAll(async () => {
  campus = await makeCampus();
  files.set('root.jwk', new TextEncoder().encode(JSON.stringify(exportJwk(campus.root.publicKey))));
  files.set('tl.bin', await campus.trustList(1, T0 - 60));
  files.set('sl.hex', new TextEncoder().encode(toHex(await campus.statusList(1, T0 - 60))));
});

const io = () => cliIo(files);

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
    expect(x.err[0]).toBe('campus-card-verify: the QR text is missing');
    expect(x.err[1]).toMatch(/^usage: campus-card-verify/);
  });

  it('--help prints the usage with the exit codes on stdout, exit 0', async () => {
    const x = io();
    expect(await main(['--help'], x.io)).toBe(0);
    const help = x.out.join('\n');
    expect(help).toMatch(/^usage: campus-card-verify/);
    expect(help).toContain('Exit codes:');
    expect(help).toMatch(/0 {2}accepted; without trust material: the QR text decodes/);
    expect(help).toMatch(/1 {2}denied; without trust material: the QR text does not decode/);
    expect(help).toMatch(/2 {2}usage error/);
    expect(x.err).toEqual([]);
  });

  it('--help says to single-quote the QR text: in double quotes a shell expands the $ of Base45', async () => {
    // Base45 has "$": in "CC1:…$AB…" a shell replaces $AB with an empty variable
    const qr = await campus.code('2024010001', T0);
    expect(qr).toMatch(/\$[0-9A-Z]/);
    const x = io();
    await main(['--help'], x.io);
    const help = x.out.join('\n');
    expect(help).toContain("'CC1:…'");
    expect(help).not.toContain('"CC1:…"');
    expect(help).toMatch(/single quotes/);
  });
});

describe('dump only (no trust material)', () => {
  it('exits 0 when the QR text decodes, 1 with the error in the dump when it does not', async () => {
    const good = io();
    expect(await main([await campus.code('2024010001', T0)], good.io)).toBe(0);
    expect(JSON.parse(good.out.join('\n')).qr.error).toBeUndefined();
    for (const bad of ['XX1:abc', 'CC1:', 'CC1:not base45!', 'hello']) {
      const x = io();
      expect(await main([bad], x.io), bad).toBe(1);
      expect(JSON.parse(x.out.join('\n')).qr.error, bad).toBeDefined();
      expect(x.err, bad).toEqual([]);
    }
  });

  it('shows absent claims as null: school (taken from the trust list) and physicalCard', async () => {
    const c = campus.cards.get('2024010001')!;
    const credential = await issueCredential(
      {
        school: '10001',
        includeSchool: false,
        cardId: '2024010099',
        role: 'student',
        iat: T0 - 60,
        validityDays: 30,
        holderKey: c.phone.publicKey,
        statusIndex: 9,
      },
      campus.issuer.privateKey,
    );
    const qr = encodeQr(await createPresentation({ credential, t: T0 }, c.phone.privateKey));
    const claims = dumpQr(qr).claimsUnverified as Record<string, unknown>;
    expect(claims.school).toBeNull();
    expect(claims.schoolNote).toMatch(/from the trust list/);
    expect(claims.physicalCard).toBeNull();
    expect(claims.cardId).toBe('2024010099');
    // present claims are shown as they are, with no note
    const full = dumpQr(await campus.code('2024010001', T0)).claimsUnverified as Record<string, unknown>;
    expect(full).toMatchObject({ school: '10001', physicalCard: null });
    expect(full).not.toHaveProperty('schoolNote');
  });
});

describe('usage errors name what is wrong, exit 2', () => {
  async function usage(args: string[]): Promise<string> {
    const x = io();
    expect(await main(args, x.io), args.join(' ')).toBe(2);
    expect(x.out, 'nothing on stdout').toEqual([]);
    expect(x.err[1]).toMatch(/^usage: campus-card-verify/);
    return x.err[0] as string;
  }
  let qr: string;
  beforeAll(async () => {
    qr = await campus.code('2024010001', T0);
  });

  it('trust material without --root and --trust-list is refused, naming what is missing', async () => {
    expect(await usage([qr, '--trust-list', 'tl.bin'])).toBe(
      'campus-card-verify: --trust-list given without --root: verifying needs both --root and --trust-list',
    );
    expect(await usage([qr, '--root', 'root.jwk'])).toContain('--root given without --trust-list');
    expect(await usage([qr, '--status-list', 'sl.hex', '--roster', 'r.bin'])).toContain(
      '--status-list, --roster given without --root, --trust-list',
    );
    expect(await usage([qr, '--now', String(T0)])).toContain('--now given without --root, --trust-list');
  });

  it('--now is unix seconds in decimal digits only', async () => {
    const material = ['--root', 'root.jwk', '--trust-list', 'tl.bin'];
    for (const bad of [
      '-1',
      '1e20',
      '0x10',
      '1.5',
      ' 1',
      '1 ',
      '+1',
      '12345678901234567',
      '9999999999999999',
      String(T0 * 1000), // milliseconds, the verifier's own bound: refused as usage, not as a denial
      '100000000000',
    ]) {
      expect(await usage([qr, ...material, `--now=${bad}`]), bad).toBe(
        `campus-card-verify: invalid --now ${bad}: unix seconds, decimal digits only, below 10^11 (a time in milliseconds is refused)`,
      );
    }
    expect(await main([qr, ...material, '--now', '99999999999'], io().io)).toBe(1); // the largest: valid
    expect(await usage([qr, ...material, '--now', ''])).toContain('--now needs a value');
    expect(await usage([qr, ...material, '--now='])).toContain('--now needs a value');
    const x = io();
    expect(await main([qr, ...material, '--now', '0'], x.io)).toBe(1); // valid, and long before the code
  });

  it('trust material the verifier refuses (empty, junk, a bad signature) exits 2, naming it, not 1 as a denied card', async () => {
    const qr = await campus.code('2024010001', T0);
    files.set('empty', new Uint8Array(0));
    files.set('junk', Uint8Array.of(0xff, 0, 1));
    for (const [option, f] of [
      ['--trust-list', 'empty'],
      ['--trust-list', 'junk'],
    ] as const) {
      const x = io();
      expect(await main([qr, '--root', 'root.jwk', option, f, '--now', String(T0)], x.io), f).toBe(2);
      // the refused file is named (several --trust-list may be given)
      expect(x.err.join('\n')).toMatch(new RegExp(`^campus-card-verify: --trust-list ${f}: BAD_FORMAT`));
      expect(JSON.parse(x.out[1] as string).decision).toMatchObject({ accepted: false }); // still printed
    }
    const y = io();
    const args = [
      qr,
      '--root',
      'root.jwk',
      '--trust-list',
      'tl.bin',
      '--status-list',
      'junk',
      '--now',
      String(T0),
    ];
    expect(await main(args, y.io)).toBe(2);
    expect(y.err.join('\n')).toMatch(/^campus-card-verify: --status-list junk: /);
  });

  it('names the bad argument; an unquoted QR text gets a hint', async () => {
    expect(await usage([qr, '--bogus', '1'])).toBe('campus-card-verify: unknown option --bogus');
    expect(await usage([qr, '--bogus=1'])).toBe('campus-card-verify: unknown option --bogus');
    expect(await usage([qr, '-r', 'root.jwk'])).toBe('campus-card-verify: unknown option -r');
    expect(await usage([qr, '--root'])).toBe('campus-card-verify: --root needs a value');
    expect(await usage([qr, '--root', '--trust-list', 'tl.bin'])).toBe(
      'campus-card-verify: --root needs a value, got the option --trust-list',
    );
    // --root, --trust-list and --status-list may be repeated; --roster and --now may not
    expect(
      await usage([qr, '--root', 'root.jwk', '--trust-list', 'tl.bin', '--now', '1', `--now=${T0}`]),
    ).toBe('campus-card-verify: --now is given twice');
    expect(
      await usage([qr, '--root', 'root.jwk', '--trust-list', 'tl.bin', '--roster=a', '--roster', 'b']),
    ).toBe('campus-card-verify: --roster is given twice');
    // a shell splits an unquoted QR text at its spaces
    const split = ['CC1:6BFOXN*TS0BI$ZDFRH', 'WIGCWRJ:6B', 'L6F'];
    const message = await usage(split);
    expect(message).toContain(
      'one QR text expected, got 3 arguments ("CC1:6BFOXN*TS0BI$ZDFRH", "WIGCWRJ:6B"',
    );
    expect(message).toContain("quote it, e.g. campus-card-verify 'CC1:…'");
  });

  it('takes --option=value as well as --option value', async () => {
    const x = io();
    const args = [qr, '--root=root.jwk', '--trust-list=tl.bin', '--status-list=sl.hex', `--now=${T0}`];
    expect(await main(args, x.io)).toBe(0);
    expect(JSON.parse(x.out[1] as string).decision).toMatchObject({ accepted: true });
  });
});

describe('trust material files', () => {
  it('reads hex text with line breaks (xxd -p) and spaces; odd-length hex is an error', async () => {
    const tl = await campus.trustList(1, T0 - 60);
    const sl = await campus.statusList(1, T0 - 60);
    const xxd = (b: Uint8Array) => `${toHex(b).replace(/(.{60})/g, '$1\n')}\n`;
    files.set('tl.xxd', new TextEncoder().encode(xxd(tl)));
    files.set('sl.spaced', new TextEncoder().encode(`  ${toHex(sl).replace(/(.{8})/g, '$1 ')}\r\n`));
    const qr = await campus.code('2024010001', T0);
    const x = io();
    const args = [
      qr,
      '--root',
      'root.jwk',
      '--trust-list',
      'tl.xxd',
      '--status-list',
      'sl.spaced',
      '--now',
      `${T0}`,
    ];
    expect(await main(args, x.io), x.err.join('\n')).toBe(0);
    expect(JSON.parse(x.out[1] as string)).toMatchObject({
      loads: [{ ok: true }, { ok: true }],
      decision: { accepted: true },
    });

    files.set('tl.odd', new TextEncoder().encode(`${toHex(tl).slice(1)}\n`));
    const y = io();
    expect(await main([qr, '--root', 'root.jwk', '--trust-list', 'tl.odd'], y.io)).toBe(2);
    expect(y.err).toEqual([
      `campus-card-verify: --trust-list tl.odd is hex text with an odd number of digits (${toHex(tl).length - 1})`,
    ]);
  });

  it("reads a gate client's stored copies (material/*.json) and the platform's root-key answer ({ jwk })", async () => {
    const tl = await campus.trustList(1, T0 - 60);
    const sl = await campus.statusList(1, T0 - 60);
    const stored = (b: Uint8Array) =>
      new TextEncoder().encode(JSON.stringify({ etag: '"v1"', fetched_at: T0 - 30, bytes: toBase64Url(b) }));
    files.set('material/trust-list.json', stored(tl));
    files.set('material/status-list.json', stored(sl));
    files.set(
      'root-answer.json',
      new TextEncoder().encode(JSON.stringify({ jwk: exportJwk(campus.root.publicKey) })),
    );
    const qr = await campus.code('2024010001', T0);
    const x = io();
    const args = [
      qr,
      '--root',
      'root-answer.json',
      '--trust-list',
      'material/trust-list.json',
      '--status-list',
      'material/status-list.json',
      '--now',
      `${T0}`,
    ];
    expect(await main(args, x.io), x.err.join('\n')).toBe(0);
    expect(JSON.parse(x.out[1] as string)).toMatchObject({
      loads: [{ ok: true }, { ok: true }],
      decision: { accepted: true },
    });
    files.set('material/bad.json', new TextEncoder().encode(JSON.stringify({ bytes: 'not base64url!' })));
    const y = io();
    expect(await main([qr, '--root', 'root.jwk', '--trust-list', 'material/bad.json'], y.io)).toBe(2);
    expect(y.err).toEqual([
      'campus-card-verify: --trust-list material/bad.json: its "bytes" is not base64url',
    ]);
  });

  it('a file that cannot be read or parsed is named', async () => {
    const qr = await campus.code('2024010001', T0);
    const x = io();
    expect(await main([qr, '--root', 'nope.jwk', '--trust-list', 'tl.bin'], x.io)).toBe(2);
    expect(x.err[0]).toBe('campus-card-verify: --root nope.jwk: no file nope.jwk');
    const y = io();
    expect(await main([qr, '--root', 'tl.bin', '--trust-list', 'tl.bin'], y.io)).toBe(2);
    expect(y.err[0]).toMatch(/^campus-card-verify: --root tl\.bin: /);
  });
});

const text = (s: string) => new TextEncoder().encode(s);

describe('a file given to the wrong option', () => {
  const TL = 'this is a trust list (authority "platform")';
  const QR_ARG = "as the first argument, in single quotes: campus-card-verify 'CC1:…'";
  let qr: string;
  beforeAll(async () => {
    qr = await campus.code('2024010001', T0);
    files.set('sl.bin', await campus.statusList(1, T0 - 60));
    files.set('roster.bin', await campus.roster(1, T0 - 60));
    files.set('qr.txt', text(`${qr}\n`));
    files.set('presentation.bin', decodeQr(qr));
    files.set('credential.hex', text(toHex(campus.cards.get('2024010001')!.credential)));
  });

  it('is refused before the dump, naming what it is and the option that takes it, exit 2', async () => {
    const cases: [string[], string][] = [
      [
        ['--trust-list', 'sl.bin'],
        '--trust-list sl.bin: this is a status list (school 10001), not a trust list: give it as --status-list',
      ],
      [
        ['--trust-list', 'tl.bin', '--status-list', 'tl.bin'],
        `--status-list tl.bin: ${TL}, not a status list: give it as --trust-list`,
      ],
      [
        ['--trust-list', 'roster.bin'],
        '--trust-list roster.bin: this is a roster (school 10001), not a trust list: give it as --roster',
      ],
      [
        ['--trust-list', 'tl.bin', '--status-list', 'roster.bin'],
        '--status-list roster.bin: this is a roster (school 10001), not a status list: give it as --roster',
      ],
      [
        ['--trust-list', 'tl.bin', '--roster', 'sl.hex'],
        '--roster sl.hex: this is a status list (school 10001), not a roster: give it as --status-list',
      ],
      [
        ['--trust-list', 'root.jwk'],
        '--trust-list root.jwk: this is a JWK, not a trust list: give it as --root',
      ],
      [
        ['--trust-list', 'qr.txt'],
        `--trust-list qr.txt: this is a QR text, not a trust list: give it ${QR_ARG}`,
      ],
      [
        ['--trust-list', 'tl.bin', '--status-list', 'presentation.bin'],
        '--status-list presentation.bin: this is a presentation (the bytes a QR code carries), not a status list: ' +
          `give its QR text ${QR_ARG}`,
      ],
      [
        ['--trust-list', 'credential.hex'],
        '--trust-list credential.hex: this is a credential (card 2024010001 of school 10001), not a trust list: ' +
          `a reader gets it inside a presentation: give the QR text of one ${QR_ARG}`,
      ],
    ];
    for (const [args, message] of cases) {
      const x = io();
      expect(await main([qr, '--root', 'root.jwk', ...args], x.io), args.join(' ')).toBe(2);
      expect(x.out, args.join(' ')).toEqual([]);
      expect(x.err, args.join(' ')).toEqual([`campus-card-verify: ${message}`]);
    }
    // every file given to the wrong option is named
    const x = io();
    const args = ['--trust-list', 'sl.bin', '--trust-list', 'tl.bin', '--status-list', 'tl.bin'];
    expect(await main([qr, '--root', 'root.jwk', ...args], x.io)).toBe(2);
    expect(x.err).toEqual([
      'campus-card-verify: --trust-list sl.bin: this is a status list (school 10001), not a trust list: give it as --status-list',
      `campus-card-verify: --status-list tl.bin: ${TL}, not a status list: give it as --trust-list`,
    ]);
  });

  it('given as --root, other material is named too', async () => {
    const x = io();
    expect(await main([qr, '--root', 'sl.hex', '--trust-list', 'tl.bin'], x.io)).toBe(2);
    expect(x.out).toEqual([]);
    expect(x.err).toEqual([
      'campus-card-verify: --root sl.hex: this is a status list (school 10001), ' +
        'not a JWK nor a root-key answer ({ "school_id", "jwk" }): give it as --status-list',
    ]);
  });

  it("--root with the mock's startup output says to save its root_public_jwk alone", async () => {
    const jwk = exportJwk(campus.root.publicKey);
    // what the mock prints at start: a JSON object with the root among the demo's credentials
    const startup = {
      school_id: 'sch-demo',
      root_public_jwk: jwk,
      operator: { id: 'op-demo', privateJwk: { kty: 'EC', crv: 'P-256', x: '…', y: '…', d: '…' } },
      devices: [],
      merchants: [],
    };
    files.set('demo.json', text(JSON.stringify(startup, null, 2)));
    files.set(
      'demo.log',
      text(
        'campus-card mock platform listening on http://127.0.0.1:4010\n\nDemo credentials (…):\n' +
          `${JSON.stringify(startup, null, 2)}\n`,
      ),
    );
    for (const f of ['demo.json', 'demo.log']) {
      const x = io();
      expect(await main([qr, '--root', f, '--trust-list', 'tl.bin'], x.io), f).toBe(2);
      expect(x.out, f).toEqual([]);
      expect(x.err, f).toEqual([
        `campus-card-verify: --root ${f}: this looks like the mock's startup output, not a JWK nor a root-key answer ` +
          '({ "school_id", "jwk" }): save its root_public_jwk object alone in a file, and give that file as --root',
      ]);
    }
    // another JSON object without "kty" or "jwk"
    files.set('other.json', text('{ "keys": [] }'));
    const y = io();
    expect(await main([qr, '--root', 'other.json', '--trust-list', 'tl.bin'], y.io)).toBe(2);
    expect(y.err).toEqual([
      'campus-card-verify: --root other.json: this is not a JWK (it has no "kty") nor a root-key answer (it has no "jwk")',
    ]);
    // its root_public_jwk object alone is the root
    files.set('demo-root.jwk', text(JSON.stringify(startup.root_public_jwk)));
    const z = io();
    const args = ['--root', 'demo-root.jwk', '--trust-list', 'tl.bin', '--status-list', 'sl.hex'];
    expect(await main([qr, ...args, '--now', String(T0)], z.io), z.err.join('\n')).toBe(0);
  });
});

describe('a QR text a shell mangled', () => {
  it("the dump's error keeps its shape and a hint says to single-quote the code", async () => {
    const qr = await campus.code('2024010001', T0, { nonce: Uint8Array.of(1, 2, 3, 4) });
    // what bash makes of "CC1:…$AB…": each $NAME (or $digit) is an empty variable
    const mangled = qr.replace(/\$(?:[0-9]|[A-Za-z_][A-Za-z0-9_]*)/g, '');
    expect(mangled).not.toBe(qr);
    const x = io();
    expect(await main([mangled], x.io)).toBe(1);
    const dump = JSON.parse(x.out.join('\n')).qr;
    expect(dump.error).toEqual({ code: 'ERR_QR_BASE45', message: expect.any(String) });
    expect(dump.hint).toMatch(/double quotes/);
    expect(dump.hint).toContain("single quotes, campus-card-verify 'CC1:…'");
    expect(dumpQr('CC1:not base45!')).toMatchObject({ error: { code: 'ERR_QR_BASE45' }, hint: dump.hint });
    // a text that is no QR code of this format, or one that decodes, gets no hint
    expect(dumpQr('XX1:abc')).not.toHaveProperty('hint');
    expect(dumpQr(qr)).not.toHaveProperty('hint');
    expect(dumpQr(qr)).not.toHaveProperty('error');
  });
});

describe('usage errors and unreadable files print no dump', () => {
  it('roots are read and bound before the dump', async () => {
    files.set('two/root.jwk', files.get('root.jwk')!);
    const qr = await campus.code('2024010001', T0);
    const x = io();
    const args = [qr, '--root', 'root.jwk', '--root', 'sch-two=two/root.jwk', '--trust-list', 'tl.bin'];
    expect(await main(args, x.io)).toBe(2);
    expect(x.out).toEqual([]);
    expect(x.err[0]).toContain('--root root.jwk is a bare key among 2 roots');
    expect(x.err[1]).toMatch(/^usage: campus-card-verify/);
  });

  it('a material file that cannot be read is named before the dump', async () => {
    const qr = await campus.code('2024010001', T0);
    files.set('tl.odd', text('abc'));
    for (const [args, message] of [
      [['--root', 'nope.jwk', '--trust-list', 'tl.bin'], '--root nope.jwk: no file nope.jwk'],
      [['--root', 'root.jwk', '--trust-list', 'nope.bin'], '--trust-list nope.bin: no file nope.bin'],
      [
        ['--root', 'root.jwk', '--trust-list', 'tl.bin', '--roster', 'nope.bin'],
        '--roster nope.bin: no file nope.bin',
      ],
      [
        ['--root', 'root.jwk', '--trust-list', 'tl.odd'],
        '--trust-list tl.odd is hex text with an odd number of digits (3)',
      ],
    ] as const) {
      const x = io();
      expect(await main([qr, ...args], x.io), message).toBe(2);
      expect(x.out, message).toEqual([]);
      expect(x.err, message).toEqual([`campus-card-verify: ${message}`]);
    }
  });
});

describe('the command', () => {
  const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
  let dir: string;
  beforeAll(() => {
    mkdirSync(join(repoRoot, '.tmp'), { recursive: true });
    dir = mkdtempSync(join(repoRoot, '.tmp', 'verify-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', cwd: dir, timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('a reader that closes the pipe early (| head) is no error: no EPIPE stack, the exit code stays', async () => {
    const bundle = join(dir, 'epipe.mjs');
    await bundleForNode(fileURLToPath(new URL('../src/cli.ts', import.meta.url)), bundle);
    // `true` exits without reading, so the usage is written into a closed pipe
    for (let i = 0; i < 3; i++) {
      const r = spawnSync(
        'bash',
        ['-c', `set -o pipefail; "${process.execPath}" "${bundle}" --help | true`],
        {
          encoding: 'utf8',
          cwd: dir,
          timeout: 60_000,
        },
      );
      expect([r.status, r.stderr]).toEqual([0, '']);
    }
  });

  it('runs as the main module whatever its file is named (a copy, a bundle)', async () => {
    const bundle = join(dir, 'some-other-name.mjs');
    await bundleForNode(fileURLToPath(new URL('../src/cli.ts', import.meta.url)), bundle);
    const qr = await campus.code('2024010001', T0);
    const ok = run([bundle, qr]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).qr).toMatchObject({ mode: 'full', t: T0 });
    expect(run([bundle, 'XX1:abc']).status).toBe(1);
    const bad = run([bundle, qr, '--now', 'x']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--now given without --root, --trust-list');
  });

  it('bin/campus-card-verify.js, the package bin, runs the source in this repository', async () => {
    const bin = fileURLToPath(new URL('../bin/campus-card-verify.js', import.meta.url));
    const help = run([bin, '--help']);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^usage: campus-card-verify/);
    const qr = await campus.code('2024010001', T0);
    writeFileSync(join(dir, 'root.jwk'), files.get('root.jwk')!);
    writeFileSync(join(dir, 'tl.bin'), files.get('tl.bin')!);
    writeFileSync(join(dir, 'sl.hex'), files.get('sl.hex')!);
    const r = run([
      bin,
      qr,
      '--root',
      'root.jwk',
      '--trust-list',
      'tl.bin',
      '--status-list',
      'sl.hex',
      '--now',
      `${T0}`,
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('"accepted": true');
  }, 60_000);
});
