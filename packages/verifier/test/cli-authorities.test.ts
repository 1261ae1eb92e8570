/**
 * campus-card-verify with several authorities (spec §3, §7.1): repeated `--root` (each bound to
 * `platform` or a school id, `<authority>=<file>`, or a root-key answer bound to its `school_id`),
 * repeated `--trust-list` (one held per authority) and `--status-list` (one per school). A single
 * bare `--root` keeps anchoring whatever authority its lists state.
 */
import { exportJwk, toBase64Url, toHex } from '@campus-card/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import {
  code,
  OTHER,
  pair,
  platformIssuer,
  platformRoot,
  SCHOOL,
  schoolIssuer,
  schoolRoot,
  statusList,
  trustList,
} from './helpers/authorities.js';
import { cliIo } from './helpers/cli-io.js';
import { T0 } from './helpers/fixtures.js';

/** A root no `--root` names. */
const rogueRoot = pair(306);

const text = (s: string) => new TextEncoder().encode(s);
const files = new Map<string, Uint8Array>();
/** A card only the platform's list admits (its issuer is in no school list). */
let platformCard: string;
/** A card only school 10001's list admits (its issuer is in no platform list). */
let schoolCard: string;
beforeAll(async () => {
  files.set('platform.jwk', text(JSON.stringify(exportJwk(platformRoot.publicKey))));
  files.set('school.jwk', text(JSON.stringify(exportJwk(schoolRoot.publicKey))));
  // the platform's answer to GET /v1/schools/10001/root-key
  files.set(
    'school-answer.json',
    text(JSON.stringify({ school_id: SCHOOL, jwk: exportJwk(schoolRoot.publicKey) })),
  );
  // the platform's list vouches for the platform's issuer, for school 10002 only
  files.set(
    'platform-tl.bin',
    await trustList('platform', platformRoot, 3, [{ key: platformIssuer, schools: [OTHER] }]),
  );
  // school 10001's list, signed by its own root: its issuer, for 10001 (schools empty)
  files.set('school-tl.hex', text(toHex(await trustList(SCHOOL, schoolRoot, 5, schoolIssuer))));
  // a list stating 10001 signed by a root nobody configured
  files.set('rogue-tl.bin', await trustList(SCHOOL, rogueRoot, 9, schoolIssuer));
  // a list stating "platform" signed by the school's root
  files.set(
    'forged-tl.bin',
    await trustList('platform', schoolRoot, 7, [{ key: schoolIssuer, schools: [SCHOOL] }]),
  );
  files.set('school-sl.bin', await statusList(SCHOOL, schoolIssuer));
  // a gate client's stored copy
  files.set(
    'material/other-sl.json',
    text(
      JSON.stringify({
        etag: '"v1"',
        fetched_at: T0 - 30,
        bytes: toBase64Url(await statusList(OTHER, platformIssuer)),
      }),
    ),
  );
  files.set(
    'other-sl-revoked.bin',
    await statusList(OTHER, platformIssuer, {
      version: 2,
      statuses: [0, 1, ...new Array<number>(14).fill(0)],
    }),
  );
  files.set('school-sl-v2.bin', await statusList(SCHOOL, schoolIssuer, { version: 2 }));
  platformCard = await code(platformIssuer, OTHER);
  schoolCard = await code(schoolIssuer, SCHOOL);
});

/** Runs the CLI at T0; `printed` is the JSON after the dump (roots, loads, decision), if any. */
async function run(args: string[]) {
  const x = cliIo(files);
  const exit = await main([...args, '--now', String(T0)], x.io);
  const printed = x.out[1] === undefined ? undefined : JSON.parse(x.out[1]);
  return { exit, printed, out: x.out, err: x.err };
}

const BOTH = [
  '--root',
  'platform=platform.jwk',
  `--root=${SCHOOL}=school.jwk`,
  '--trust-list',
  'platform-tl.bin',
  '--trust-list=school-tl.hex',
  '--status-list',
  'school-sl.bin',
  '--status-list',
  'material/other-sl.json',
];

describe("the platform's root and a school's root, each bound, with both lists", () => {
  it("accepts a card only the school's list admits and one only the platform's list admits, naming the authority", async () => {
    const s = await run([schoolCard, ...BOTH]);
    expect(s.exit, s.err.join('\n')).toBe(0);
    expect(s.err).toEqual([]);
    expect(s.printed.roots).toEqual([
      { file: 'platform.jwk', authority: 'platform', kid: toHex(platformRoot.publicKey.kid) },
      { file: 'school.jwk', authority: SCHOOL, kid: toHex(schoolRoot.publicKey.kid) },
    ]);
    expect(s.printed.loads).toMatchObject([
      { file: 'platform-tl.bin', ok: true, material: 'trustList', authority: 'platform', version: 3 },
      { file: 'school-tl.hex', ok: true, material: 'trustList', authority: SCHOOL, version: 5 },
      { file: 'school-sl.bin', ok: true, material: 'statusList', school: SCHOOL },
      { file: 'material/other-sl.json', ok: true, material: 'statusList', school: OTHER },
    ]);
    expect(s.printed.decision).toMatchObject({
      accepted: true,
      school: SCHOOL,
      audit: {
        trustListAuthority: SCHOOL,
        trustList: { version: 5 },
        trustLists: { platform: { version: 3 }, [SCHOOL]: { version: 5 } },
      },
    });

    const p = await run([platformCard, ...BOTH]);
    expect(p.exit, p.err.join('\n')).toBe(0);
    expect(p.printed.decision).toMatchObject({
      accepted: true,
      school: OTHER,
      audit: { trustListAuthority: 'platform', trustList: { version: 3 } },
    });
  });

  it('each list admits only its own cards: without the platform list its card is denied (exit 1)', async () => {
    const args = [
      '--root',
      'platform=platform.jwk',
      '--root',
      `${SCHOOL}=school.jwk`,
      '--trust-list',
      'school-tl.hex',
      '--status-list',
      'school-sl.bin',
    ];
    expect((await run([schoolCard, ...args])).exit).toBe(0);
    const p = await run([platformCard, ...args]);
    expect(p.exit).toBe(1);
    expect(p.printed.decision).toMatchObject({ accepted: false, reason: 'UNKNOWN_ISSUER' });
    expect(p.err).toEqual([]);
  });

  it('takes a root-key answer ({ school_id, jwk }) given bare among several, bound to its school_id', async () => {
    const args = [...BOTH];
    args[2] = '--root=school-answer.json';
    const s = await run([schoolCard, ...args]);
    expect(s.exit, s.err.join('\n')).toBe(0);
    expect(s.printed.roots).toMatchObject([
      { file: 'platform.jwk', authority: 'platform' },
      { file: 'school-answer.json', authority: SCHOOL },
    ]);
    expect(s.printed.decision).toMatchObject({ accepted: true, audit: { trustListAuthority: SCHOOL } });
    // bound to what it names: accepted too
    args[2] = `--root=${SCHOOL}=school-answer.json`;
    expect((await run([schoolCard, ...args])).exit).toBe(0);
  });
});

describe('repeated --status-list (one per school)', () => {
  it("checks each card against its own school's list: a revocation in one denies only that school's card", async () => {
    const args = BOTH.slice(0, 6);
    const revoked = [...args, '--status-list', 'school-sl.bin', '--status-list', 'other-sl-revoked.bin'];
    const p = await run([platformCard, ...revoked]);
    expect(p.exit).toBe(1);
    expect(p.printed.decision).toMatchObject({ accepted: false, reason: 'REVOKED', school: OTHER });
    expect((await run([schoolCard, ...revoked])).exit).toBe(0);
    // without the platform card's school's list: no status list for it
    const only = await run([platformCard, ...args, '--status-list', 'school-sl.bin']);
    expect(only.exit).toBe(1);
    expect(only.printed.decision).toMatchObject({ accepted: false, reason: 'NO_STATUS_LIST' });
  });

  it('loads them in order: an older list of the same school after a newer one is refused, named, exit 2', async () => {
    const args = [...BOTH.slice(0, 6), '--status-list', 'school-sl-v2.bin', '--status-list', 'school-sl.bin'];
    const s = await run([schoolCard, ...args]);
    expect(s.exit).toBe(2);
    expect(s.printed.loads).toMatchObject([
      { ok: true },
      { ok: true },
      { file: 'school-sl-v2.bin', ok: true, version: 2 },
      { file: 'school-sl.bin', ok: false, reason: 'ROLLBACK' },
    ]);
    expect(s.err).toEqual([
      'campus-card-verify: --status-list school-sl.bin: ROLLBACK (statusList version 1 is not newer than the version 2 held)',
    ]);
  });
});

describe('a single bare --root, as before', () => {
  it('anchors whatever authority its lists state; bound, it anchors that authority only', async () => {
    // the school's root signed a list stating "platform": a single bare root takes it
    const bare = await run([
      schoolCard,
      '--root',
      'school.jwk',
      '--trust-list',
      'forged-tl.bin',
      '--status-list',
      'school-sl.bin',
    ]);
    expect(bare.exit, bare.err.join('\n')).toBe(0);
    expect(bare.printed.roots).toEqual([
      { file: 'school.jwk', authority: null, kid: toHex(schoolRoot.publicKey.kid) },
    ]);
    expect(bare.printed.decision).toMatchObject({
      accepted: true,
      audit: { trustListAuthority: 'platform' },
    });
    // a root-key answer alone stays bare too (its school_id binds it only among several roots)
    const answer = await run([
      schoolCard,
      '--root',
      'school-answer.json',
      '--trust-list',
      'forged-tl.bin',
      '--status-list',
      'school-sl.bin',
    ]);
    expect(answer.exit, answer.err.join('\n')).toBe(0);
    expect(answer.printed.roots).toMatchObject([{ authority: null }]);
    // bound to its school, the same root refuses that list
    const bound = await run([schoolCard, '--root', `${SCHOOL}=school.jwk`, '--trust-list', 'forged-tl.bin']);
    expect(bound.exit).toBe(2);
    expect(bound.err).toEqual([
      'campus-card-verify: --trust-list forged-tl.bin: UNKNOWN_ISSUER (trust list: its root key does not anchor the authority "platform"): ' +
        `the list states authority "platform" and is signed by --root ${SCHOOL}=school.jwk: ` +
        'if school.jwk is the root key of "platform", give --root platform=school.jwk',
    ]);
  });

  it('a path with "/" before its "=" is a file, not an authority (./name for a name with "=")', async () => {
    files.set('./keys=2026.jwk', files.get('school.jwk')!);
    const r = await run([
      schoolCard,
      '--root',
      './keys=2026.jwk',
      '--trust-list',
      'school-tl.hex',
      '--status-list',
      'school-sl.bin',
    ]);
    expect(r.exit, r.err.join('\n')).toBe(0);
    expect(r.printed.roots).toMatchObject([{ file: './keys=2026.jwk', authority: null }]);
  });
});

describe('refusals: exit 2, naming what is wrong', () => {
  it('a bare JWK among several roots is a usage error (with the usage), before anything loads', async () => {
    const r = await run([
      schoolCard,
      '--root',
      'platform.jwk',
      '--root',
      `${SCHOOL}=school.jwk`,
      '--trust-list',
      'platform-tl.bin',
    ]);
    expect(r.exit).toBe(2);
    expect(r.out).toEqual([]); // a usage error prints no dump
    expect(r.err[0]).toBe(
      'campus-card-verify: --root platform.jwk is a bare key among 2 roots: with several roots, bind each to the ' +
        'authority whose trust lists it signs, --root platform=<file> or --root <school_id>=<file> ' +
        "(so that one school's root cannot speak for the platform or for another school)",
    );
    expect(r.err[1]).toMatch(/^usage: campus-card-verify/);
    // two bare JWKs: the first is named
    const two = await run([
      schoolCard,
      '--root',
      'platform.jwk',
      '--root',
      'school.jwk',
      '--trust-list',
      'school-tl.hex',
    ]);
    expect(two.exit).toBe(2);
    expect(two.err[0]).toContain('--root platform.jwk is a bare key among 2 roots');
  });

  it('a root-key answer bound to another authority than its school_id', async () => {
    const r = await run([
      schoolCard,
      '--root',
      'platform=school-answer.json',
      '--trust-list',
      'platform-tl.bin',
    ]);
    expect(r.exit).toBe(2);
    expect(r.err[0]).toBe(
      'campus-card-verify: --root platform=school-answer.json: the file is the root key of school "10001" ' +
        '(its school_id), not of "platform": give --root 10001=school-answer.json',
    );
  });

  it('a trust list signed by a root not configured, or by a root bound to another authority, is named', async () => {
    const r = await run([
      schoolCard,
      '--root',
      'platform=platform.jwk',
      '--root',
      `${SCHOOL}=school.jwk`,
      '--trust-list',
      'platform-tl.bin',
      '--trust-list',
      'rogue-tl.bin',
      '--trust-list',
      'forged-tl.bin',
    ]);
    expect(r.exit).toBe(2);
    expect(r.printed.loads).toMatchObject([
      { file: 'platform-tl.bin', ok: true },
      { file: 'rogue-tl.bin', ok: false, reason: 'UNKNOWN_ISSUER' },
      { file: 'forged-tl.bin', ok: false, reason: 'UNKNOWN_ISSUER' },
    ]);
    expect(r.printed.decision).toMatchObject({ accepted: false }); // still printed
    expect(r.err).toEqual([
      'campus-card-verify: --trust-list rogue-tl.bin: UNKNOWN_ISSUER (trust list: signed by an unknown root key): ' +
        `the list states authority "${SCHOOL}" and is signed by a root key that no --root gives (kid ${toHex(rogueRoot.publicKey.kid)})`,
      'campus-card-verify: --trust-list forged-tl.bin: UNKNOWN_ISSUER (trust list: its root key does not anchor the authority "platform"): ' +
        `the list states authority "platform" and is signed by --root ${SCHOOL}=school.jwk: ` +
        'if school.jwk is the root key of "platform", give --root platform=school.jwk',
    ]);
    // the roots swapped: each list is refused
    const swapped = await run([
      schoolCard,
      '--root',
      'platform=school.jwk',
      '--root',
      `${SCHOOL}=platform.jwk`,
      '--trust-list',
      'platform-tl.bin',
      '--trust-list',
      'school-tl.hex',
    ]);
    expect(swapped.exit).toBe(2);
    expect(swapped.err).toEqual([
      'campus-card-verify: --trust-list platform-tl.bin: UNKNOWN_ISSUER (trust list: its root key does not anchor the authority "platform"): ' +
        `the list states authority "platform" and is signed by --root ${SCHOOL}=platform.jwk: ` +
        `if platform.jwk is the root key of "platform", give --root platform=platform.jwk`,
      'campus-card-verify: --trust-list school-tl.hex: UNKNOWN_ISSUER (trust list: its root key does not anchor the authority "10001"): ' +
        `the list states authority "${SCHOOL}" and is signed by --root platform=school.jwk: ` +
        `if school.jwk is the root key of "${SCHOOL}", give --root ${SCHOOL}=school.jwk`,
    ]);
  });

  it('a bound --root with no authority, a bad authority or no file is a usage error before the dump', async () => {
    const usage = async (root: string) => {
      const x = cliIo(files);
      expect(await main([schoolCard, '--root', root, '--trust-list', 'platform-tl.bin'], x.io), root).toBe(2);
      expect(x.out, root).toEqual([]);
      expect(x.err[1], root).toMatch(/^usage: campus-card-verify/);
      return x.err[0];
    };
    const noAuthority =
      '("platform" or a school id, 1 to 64 characters of A-Z a-z 0-9 _ . : -); a file whose name has "=" is given as ./name';
    expect(await usage('=school.jwk')).toBe(
      `campus-card-verify: --root =school.jwk: "" is no authority ${noAuthority}`,
    );
    expect(await usage('my school=school.jwk')).toBe(
      `campus-card-verify: --root my school=school.jwk: "my school" is no authority ${noAuthority}`,
    );
    expect(await usage('..=school.jwk')).toContain('".." is no authority');
    expect(await usage(`${'s'.repeat(65)}=school.jwk`)).toContain(`"${'s'.repeat(65)}" is no authority`);
    expect(await usage('platform=')).toBe('campus-card-verify: --root platform=: no file after "="');
    // an unreadable bound file is named as given
    const x = cliIo(files);
    expect(
      await main([schoolCard, '--root', 'platform=nope.jwk', '--trust-list', 'platform-tl.bin'], x.io),
    ).toBe(2);
    expect(x.err).toEqual(['campus-card-verify: --root platform=nope.jwk: no file nope.jwk']);
  });
});

describe('a refused trust list: what it needs, and what it leaves unloaded', () => {
  it("names the fix for a root bound to another authority than its list's (the mock's root as platform=)", async () => {
    // the mock's school list states its school id and is signed by that school's root
    files.set('demo-tl.bin', await trustList('sch-demo', schoolRoot, 1, schoolIssuer));
    files.set('root.jwk', files.get('school.jwk')!);
    const r = await run([schoolCard, '--root', 'platform=root.jwk', '--trust-list', 'demo-tl.bin']);
    expect(r.exit).toBe(2);
    expect(r.err).toEqual([
      'campus-card-verify: --trust-list demo-tl.bin: UNKNOWN_ISSUER (trust list: its root key does not anchor the authority "sch-demo"): ' +
        'the list states authority "sch-demo" and is signed by --root platform=root.jwk: ' +
        'if root.jwk is the root key of "sch-demo", give --root sch-demo=root.jwk',
    ]);
    // the fix named works
    const fixed = await run([schoolCard, '--root', 'sch-demo=root.jwk', '--trust-list', 'demo-tl.bin']);
    expect(fixed.printed.loads).toMatchObject([{ ok: true, authority: 'sch-demo' }]);
  });

  it('names the kid of a root no --root gives, bare or bound', async () => {
    const kid = toHex(rogueRoot.publicKey.kid);
    for (const root of ['school.jwk', `${SCHOOL}=school.jwk`]) {
      const r = await run([schoolCard, '--root', root, '--trust-list', 'rogue-tl.bin']);
      expect(r.exit, root).toBe(2);
      expect(r.err, root).toEqual([
        'campus-card-verify: --trust-list rogue-tl.bin: UNKNOWN_ISSUER (trust list: signed by an unknown root key): ' +
          `the list states authority "${SCHOOL}" and is signed by a root key that no --root gives (kid ${kid})`,
      ]);
    }
  });

  it('a status list or roster refused NO_TRUST_LIST says the trust lists given were refused', async () => {
    files.set('junk-roster.bin', Uint8Array.of(0)); // not even checked: no trust list is held
    const one = await run([
      schoolCard,
      '--root',
      'platform=school.jwk',
      '--trust-list',
      'school-tl.hex',
      '--status-list',
      'school-sl.bin',
    ]);
    expect(one.exit).toBe(2);
    expect(one.printed.loads).toMatchObject([{ ok: false }, { ok: false, reason: 'NO_TRUST_LIST' }]);
    expect(one.err[1]).toBe(
      'campus-card-verify: --status-list school-sl.bin: NO_TRUST_LIST (no trust list was loaded to check it: ' +
        'the --trust-list given was refused, see above)',
    );
    const two = await run([
      schoolCard,
      '--root',
      'platform=school.jwk',
      '--root',
      `${SCHOOL}=platform.jwk`,
      '--trust-list',
      'school-tl.hex',
      '--trust-list',
      'platform-tl.bin',
      '--status-list',
      'school-sl.bin',
      '--roster',
      'junk-roster.bin',
    ]);
    expect(two.err.slice(2)).toEqual([
      'campus-card-verify: --status-list school-sl.bin: NO_TRUST_LIST (no trust list was loaded to check it: ' +
        'the 2 --trust-list given were refused, see above)',
      'campus-card-verify: --roster junk-roster.bin: NO_TRUST_LIST (no trust list was loaded to check it: ' +
        'the 2 --trust-list given were refused, see above)',
    ]);
    expect(two.err.join('\n')).not.toContain('load a trust list first');
  });
});
