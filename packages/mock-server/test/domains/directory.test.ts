/**
 * Directory routes over HTTP (issue 4 §2, src/domains/directory.ts), signed by the operator:
 * schools, people (teacher, student, parent linked to the student), devices with zones and keys,
 * merchants; the parent–student link where the API shows it (the person, the parent's
 * credential, online identity, fee payment); and the precise 4xx of duplicates and unknown
 * references, with no state change.
 */
import {
  createPresentation,
  decodeCredential,
  encodeQr,
  exportJwk,
  fromBase64Url,
  generateKeyPair,
  type PrivateKey,
} from '@campus-card/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import { demoPlatform, deviceSigner, json, operator, type Signer, signed } from '../helpers.js';

let p: MockPlatform;
afterEach(async () => p?.close());

const post = (p: MockPlatform, url: string, body: object, who: Signer = operator(p)) =>
  p.app.inject(signed(p, who, 'POST', url, body));
const get = (p: MockPlatform, url: string, who: Signer = operator(p)) =>
  p.app.inject(signed(p, who, 'GET', url));
const counts = (p: MockPlatform) =>
  ['schools', 'people', 'devices', 'merchants', 'principals'].map(
    (t) => (p.state.db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n,
  );
const problem = (res: { statusCode: number; body: string }) => {
  const b = json<{ code: string; detail: string; status: number }>(res);
  expect(res.statusCode).toBe(b.status);
  return [res.statusCode, b.code, b.detail];
};

/** A key pair: the public JWK to register and the signer that uses it. */
function keyPair(id: string): { pub: ReturnType<typeof exportJwk>; signer: Signer; key: PrivateKey } {
  const key = generateKeyPair('ES256').privateKey;
  return {
    pub: exportJwk(key.publicKey),
    signer: { id, jwk: exportJwk(key, { includePrivate: true }) },
    key,
  };
}

const AT = '2026-01-05T08:00:00Z';
const LATER = '2026-01-05T08:05:00Z';

/** Creates school sch-x with a teacher, a student and the student's parent. */
async function school(p: MockPlatform) {
  const s = await post(p, '/v1/schools', {
    school_id: 'sch-x',
    name: 'North School',
    campuses: ['North', 'South'],
  });
  expect(s.statusCode, s.body).toBe(201);
  expect(json(s)).toEqual({
    school_id: 'sch-x',
    name: 'North School',
    campuses: ['North', 'South'],
    created_at: AT,
  });
  p.clock.advance(300);
  const people = [
    {
      person_id: 'x-t1',
      school_id: 'sch-x',
      kind: 'teacher',
      name: 'Teacher One',
      college: 'Physics',
      class_ids: ['x-1a', 'x-1b'],
      campus: 'North',
    },
    {
      person_id: 'x-s1',
      school_id: 'sch-x',
      kind: 'student',
      name: 'Student One',
      grade: '1',
      class_id: 'x-1a',
      campus: 'North',
      dorm: 'N1',
      room: '101',
    },
    { person_id: 'x-p1', school_id: 'sch-x', kind: 'parent', name: 'Parent One', student_ids: ['x-s1'] },
  ];
  for (const body of people) {
    const r = await post(p, '/v1/people', body);
    expect(r.statusCode, r.body).toBe(201);
  }
}

const NULLS = {
  grade: null,
  college: null,
  major: null,
  class_id: null,
  campus: null,
  dorm: null,
  room: null,
  student_ids: [],
  class_ids: [],
};

describe('directory over HTTP', () => {
  it('creates and reads a school and its teacher, student and parent', async () => {
    p = await demoPlatform();
    await school(p);
    expect(json(await get(p, '/v1/schools/sch-x'))).toEqual({
      school_id: 'sch-x',
      name: 'North School',
      campuses: ['North', 'South'],
      created_at: AT,
    });
    expect(json(await get(p, '/v1/people/x-t1'))).toEqual({
      ...NULLS,
      person_id: 'x-t1',
      school_id: 'sch-x',
      kind: 'teacher',
      name: 'Teacher One',
      college: 'Physics',
      campus: 'North',
      class_ids: ['x-1a', 'x-1b'],
      created_at: LATER,
    });
    expect(json(await get(p, '/v1/people/x-s1'))).toEqual({
      ...NULLS,
      person_id: 'x-s1',
      school_id: 'sch-x',
      kind: 'student',
      name: 'Student One',
      grade: '1',
      class_id: 'x-1a',
      campus: 'North',
      dorm: 'N1',
      room: '101',
      created_at: LATER,
    });
    // the parent–student link, as the person resource shows it
    expect(json(await get(p, '/v1/people/x-p1'))).toEqual({
      ...NULLS,
      person_id: 'x-p1',
      school_id: 'sch-x',
      kind: 'parent',
      name: 'Parent One',
      student_ids: ['x-s1'],
      created_at: LATER,
    });
    // a school may have no campuses
    const bare = await post(p, '/v1/schools', { school_id: 'sch-y', name: 'Y' });
    expect(json(bare)).toEqual({ school_id: 'sch-y', name: 'Y', campuses: [], created_at: LATER });
  });

  it('registers merchants and devices with zones and keys; the keys sign requests', async () => {
    p = await demoPlatform();
    await school(p);
    const shop = keyPair('x-shop');
    const m = await post(p, '/v1/merchants', {
      merchant_id: 'x-shop',
      school_id: 'sch-x',
      name: 'North bookshop',
      category: 'bookshop',
      public_jwk: shop.pub,
    });
    expect(m.statusCode, m.body).toBe(201);
    const merchant = {
      merchant_id: 'x-shop',
      school_id: 'sch-x',
      name: 'North bookshop',
      category: 'bookshop',
      public_jwk: shop.pub,
      created_at: LATER,
    };
    expect(json(m)).toEqual(merchant);
    expect(json(await get(p, '/v1/merchants/x-shop'))).toEqual(merchant);

    const gate = keyPair('x-gate');
    const g = await post(p, '/v1/devices', {
      device_id: 'x-gate',
      school_id: 'sch-x',
      type: 'gate',
      zone: 'gate:north',
      public_jwk: gate.pub,
    });
    expect(g.statusCode, g.body).toBe(201);
    const gateOut = {
      device_id: 'x-gate',
      school_id: 'sch-x',
      type: 'gate',
      zone: 'gate:north',
      public_jwk: gate.pub,
      merchant_id: null,
      offline_tx_cap: 5_000,
      offline_device_cap: 50_000,
      offline_day_utc_offset: '+08:00',
      created_at: LATER,
    };
    expect(json(g)).toEqual(gateOut);
    expect(json(await get(p, '/v1/devices/x-gate'))).toEqual(gateOut);

    const pos = keyPair('x-pos');
    const d = await post(p, '/v1/devices', {
      device_id: 'x-pos',
      school_id: 'sch-x',
      type: 'pos',
      zone: 'shop:north',
      public_jwk: pos.pub,
      merchant_id: 'x-shop',
      offline_tx_cap: 2_000,
      offline_device_cap: 9_000,
    });
    expect(d.statusCode, d.body).toBe(201);
    expect(json(await get(p, '/v1/devices/x-pos'))).toEqual({
      device_id: 'x-pos',
      school_id: 'sch-x',
      type: 'pos',
      zone: 'shop:north',
      public_jwk: pos.pub,
      merchant_id: 'x-shop',
      offline_tx_cap: 2_000,
      offline_device_cap: 9_000,
      offline_day_utc_offset: '+08:00',
      created_at: LATER,
    });

    // each registered key authenticates its principal; another key under its id does not
    expect((await get(p, '/v1/schools/sch-x', gate.signer)).statusCode).toBe(200);
    expect(json(await get(p, '/v1/devices/x-pos', pos.signer)).zone).toBe('shop:north');
    expect(json(await get(p, '/v1/merchants/x-shop', shop.signer)).name).toBe('North bookshop');
    const forged = await get(p, '/v1/schools/sch-x', { id: 'x-gate', jwk: pos.signer.jwk });
    expect([forged.statusCode, json(forged).code]).toEqual([401, 'ERR_SIG_INVALID']);
    // the registered zone is the default zone of the device's events
    const up = await post(
      p,
      '/v1/events/batches',
      { events: [{ seq: 1, kind: 'access', occurred_at: LATER, decision: 'denied', reason: 'NO_CARD' }] },
      gate.signer,
    );
    expect(json(up)).toMatchObject({ accepted: 1, max_seq: 1 });
    const events = json<{ data: { device_id: string; zone: string }[] }>(
      await get(p, '/v1/events', gate.signer),
    );
    expect(events.data.map((e) => [e.device_id, e.zone])).toEqual([['x-gate', 'gate:north']]);
  });

  it('shows the parent–student link in the credential, online identity and fee payments', async () => {
    p = await demoPlatform();
    await school(p);
    const gate = keyPair('x-gate');
    expect(
      (
        await post(p, '/v1/devices', {
          device_id: 'x-gate',
          school_id: 'sch-x',
          type: 'gate',
          zone: 'gate:north',
          public_jwk: gate.pub,
        })
      ).statusCode,
    ).toBe(201);
    const issue = async (person: string, role: string) => {
      const phone = generateKeyPair('ES256').privateKey;
      const r = await post(p, '/v1/cards', {
        person_id: person,
        role,
        holder_jwk: exportJwk(phone.publicKey),
      });
      expect(r.statusCode, r.body).toBe(201);
      return { card: json<{ card_id: string; credential: string }>(r), phone };
    };
    const student = await issue('x-s1', 'student');
    const parent = await issue('x-p1', 'parent');
    expect(decodeCredential(fromBase64Url(parent.card.credential)!).claims.linkedCards).toEqual([
      student.card.card_id,
    ]);
    const qr = encodeQr(
      await createPresentation(
        { credential: fromBase64Url(parent.card.credential)!, t: p.clock.nowSeconds(), scene: 1 },
        parent.phone,
      ),
    );
    const who = await post(p, '/v1/identity/resolve', { qr_text: qr, scene: 'access' }, gate.signer);
    expect(who.statusCode, who.body).toBe(200);
    expect(json<{ identity: object }>(who).identity).toMatchObject({
      school_id: 'sch-x',
      school_name: 'North School',
      role: 'parent',
      person_id: 'x-p1',
      card_id: parent.card.card_id,
      student_ids: ['x-s1'],
    });

    // the linked parent may pay the student's fees; a parent of another student may not
    expect(
      (
        await post(p, '/v1/wallets/x-p1/top-ups', {
          out_trade_no: 'X-TU',
          amount: 1_000,
          channel: 'simulated',
        })
      ).statusCode,
    ).toBe(201);
    const fee = (no: string, payer: string) =>
      post(p, '/v1/fees', {
        out_trade_no: no,
        payer_person_id: payer,
        student_person_id: 'x-s1',
        fee_type: 'meals',
        amount: 600,
      });
    const ok = await fee('X-F1', 'x-p1');
    expect(ok.statusCode, ok.body).toBe(201);
    expect(json(ok)).toMatchObject({
      status: 'success',
      person_id: 'x-p1',
      student_id: 'x-s1',
      fee_type: 'meals',
    });
    const no = await fee('X-F2', 'p-001');
    expect(problem(no)).toEqual([
      403,
      'ERR_PERMISSION_DENIED',
      'the payer is neither a parent linked to this student nor the student',
    ]);
  });

  it('duplicates are 409 ERR_CONFLICT and unknown references 404/400, with no state change', async () => {
    p = await demoPlatform();
    await school(p);
    const k = keyPair('x-any');
    expect(
      (
        await post(p, '/v1/merchants', {
          merchant_id: 'x-shop',
          school_id: 'sch-x',
          name: 'S',
          category: 'shop',
          public_jwk: k.pub,
        })
      ).statusCode,
    ).toBe(201);
    expect(
      (
        await post(p, '/v1/devices', {
          device_id: 'x-gate',
          school_id: 'sch-x',
          type: 'gate',
          zone: 'gate:north',
          public_jwk: k.pub,
        })
      ).statusCode,
    ).toBe(201);
    const before = counts(p);
    const person = (over: object) => ({
      person_id: 'x-new',
      school_id: 'sch-x',
      kind: 'parent',
      name: 'N',
      ...over,
    });
    const device = (over: object) => ({
      device_id: 'x-dev',
      school_id: 'sch-x',
      type: 'pos',
      zone: 'shop:north',
      public_jwk: k.pub,
      ...over,
    });
    const merchant = (over: object) => ({
      merchant_id: 'x-m2',
      school_id: 'sch-x',
      name: 'M',
      category: 'clinic',
      public_jwk: k.pub,
      ...over,
    });
    const cases: [string, object, [number, string, string]][] = [
      // schools
      ['/v1/schools', { school_id: 'sch-x', name: 'Again' }, [409, 'ERR_CONFLICT', 'school sch-x exists']],
      [
        '/v1/schools',
        { school_id: 'sch-demo', name: 'Again' },
        [409, 'ERR_CONFLICT', 'school sch-demo exists'],
      ],
      // people: ids are platform-wide
      ['/v1/people', person({ person_id: 'x-s1' }), [409, 'ERR_CONFLICT', 'person x-s1 exists']],
      ['/v1/people', person({ person_id: 's-001' }), [409, 'ERR_CONFLICT', 'person s-001 exists']],
      ['/v1/people', person({ school_id: 'sch-nope' }), [404, 'ERR_NOT_FOUND', 'school sch-nope not found']],
      [
        '/v1/people',
        person({ student_ids: ['x-nope'] }),
        [400, 'ERR_VALIDATION', 'student_ids: x-nope is not a student of sch-x'],
      ],
      [
        '/v1/people',
        person({ student_ids: ['x-t1'] }),
        [400, 'ERR_VALIDATION', 'student_ids: x-t1 is not a student of sch-x'],
      ],
      [
        '/v1/people',
        person({ student_ids: ['s-001'] }),
        [400, 'ERR_VALIDATION', 'student_ids: s-001 is not a student of sch-x'],
      ],
      [
        '/v1/people',
        person({ kind: 'teacher', student_ids: ['x-s1'] }),
        [400, 'ERR_VALIDATION', 'only parents are linked to students'],
      ],
      // devices and merchants share the principal id space
      ['/v1/devices', device({ device_id: 'x-gate' }), [409, 'ERR_CONFLICT', 'id x-gate is taken']],
      ['/v1/devices', device({ device_id: 'x-shop' }), [409, 'ERR_CONFLICT', 'id x-shop is taken']],
      ['/v1/devices', device({ device_id: 'op-demo' }), [409, 'ERR_CONFLICT', 'id op-demo is taken']],
      ['/v1/devices', device({ school_id: 'sch-nope' }), [404, 'ERR_NOT_FOUND', 'school sch-nope not found']],
      ['/v1/devices', device({ merchant_id: 'x-nope' }), [404, 'ERR_NOT_FOUND', 'merchant x-nope not found']],
      [
        '/v1/devices',
        device({ merchant_id: 'm-canteen-s' }),
        [400, 'ERR_VALIDATION', 'merchant m-canteen-s belongs to school sch-demo, not sch-x'],
      ],
      ['/v1/merchants', merchant({ merchant_id: 'x-shop' }), [409, 'ERR_CONFLICT', 'id x-shop is taken']],
      ['/v1/merchants', merchant({ merchant_id: 'pos-01' }), [409, 'ERR_CONFLICT', 'id pos-01 is taken']],
      [
        '/v1/merchants',
        merchant({ school_id: 'sch-nope' }),
        [404, 'ERR_NOT_FOUND', 'school sch-nope not found'],
      ],
    ];
    for (const [url, body, expected] of cases) {
      const res = await post(p, url, body);
      expect([url, JSON.stringify(body), ...problem(res)]).toEqual([url, JSON.stringify(body), ...expected]);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
    const unknownStudent = json<{ errors: unknown }>(
      await post(p, '/v1/people', person({ student_ids: ['x-nope'] })),
    );
    expect(unknownStudent.errors).toEqual([
      { path: 'body/student_ids', message: 'x-nope is not a student of this school' },
    ]);
    // keys: not a point on the curve; a private key is refused by the contract
    const bad = await post(
      p,
      '/v1/devices',
      device({ public_jwk: { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' } }),
    );
    expect([bad.statusCode, json(bad).code]).toEqual([400, 'ERR_VALIDATION']);
    const priv = await post(p, '/v1/merchants', merchant({ public_jwk: keyPair('x').signer.jwk }));
    expect([priv.statusCode, json(priv).code]).toEqual([400, 'ERR_VALIDATION']);
    expect(counts(p)).toEqual(before);

    // reads of unknown ids
    for (const url of [
      '/v1/schools/sch-nope',
      '/v1/people/x-nope',
      '/v1/devices/x-nope',
      '/v1/merchants/x-nope',
    ]) {
      const res = await get(p, url);
      expect([url, res.statusCode, json(res).code]).toEqual([url, 404, 'ERR_NOT_FOUND']);
    }
    // only the operator writes the directory
    const byDevice = await post(
      p,
      '/v1/schools',
      { school_id: 'sch-z', name: 'Z' },
      deviceSigner(p, 'gate-01'),
    );
    expect(problem(byDevice)).toEqual([403, 'ERR_FORBIDDEN', 'a device may not call createSchool']);
    expect(counts(p)).toEqual(before);
  });
});

describe('ids in paths', () => {
  it('refuses "." and ".." as an id (a URL parser collapses them): 400 ERR_VALIDATION, no state change', async () => {
    p = await demoPlatform();
    const k = keyPair('x-any');
    const before = counts(p);
    for (const id of ['.', '..']) {
      const cases: [string, object][] = [
        ['/v1/schools', { school_id: id, name: 'Dots' }],
        ['/v1/people', { person_id: id, school_id: 'sch-demo', kind: 'parent', name: 'Dots' }],
        [
          '/v1/devices',
          { device_id: id, school_id: 'sch-demo', type: 'gate', zone: 'gate:north', public_jwk: k.pub },
        ],
        [
          '/v1/merchants',
          { merchant_id: id, school_id: 'sch-demo', name: 'Dots', category: 'shop', public_jwk: k.pub },
        ],
      ];
      for (const [url, body] of cases) {
        const r = await post(p, url, body);
        expect([url, id, r.statusCode, json(r).code]).toEqual([url, id, 400, 'ERR_VALIDATION']);
      }
    }
    expect(counts(p)).toEqual(before);
  });
});

describe("another school's directory", () => {
  it('a device or merchant reads only its own school: people, the school, devices, merchants; the operator reads all', async () => {
    p = await demoPlatform();
    await school(p);
    const gate = keyPair('x-gate');
    const shop = keyPair('x-shop');
    expect(
      (
        await post(p, '/v1/merchants', {
          merchant_id: 'x-shop',
          school_id: 'sch-x',
          name: 'North bookshop',
          category: 'bookshop',
          public_jwk: shop.pub,
        })
      ).statusCode,
    ).toBe(201);
    expect(
      (
        await post(p, '/v1/devices', {
          device_id: 'x-gate',
          school_id: 'sch-x',
          type: 'gate',
          zone: 'gate:north',
          public_jwk: gate.pub,
        })
      ).statusCode,
    ).toBe(201);
    const demoGate = deviceSigner(p, 'gate-01');
    const demoMerchant = deviceSigner(p, p.demo!.merchants[0]!.id);
    const demoPerson = 's-001';
    const demoDevice = 'gate-01';
    const xUrls = ['/v1/people/x-s1', '/v1/schools/sch-x', '/v1/devices/x-gate', '/v1/merchants/x-shop'];
    const demoUrls = [
      `/v1/people/${demoPerson}`,
      '/v1/schools/sch-demo',
      `/v1/devices/${demoDevice}`,
      `/v1/merchants/${demoMerchant.id}`,
    ];
    const status = async (who: Signer, url: string) => [url, (await get(p, url, who)).statusCode];
    for (const url of xUrls) {
      // the demo school's devices and merchants: 404, as for an id that does not exist
      for (const who of [demoGate, demoMerchant]) {
        const r = await get(p, url, who);
        expect([url, who.id, r.statusCode, json(r).code]).toEqual([url, who.id, 404, 'ERR_NOT_FOUND']);
      }
      expect(await status(gate.signer, url)).toEqual([url, 200]);
      expect(await status(shop.signer, url)).toEqual([url, 200]);
      expect(await status(operator(p), url)).toEqual([url, 200]);
    }
    for (const url of demoUrls) {
      expect(await status(gate.signer, url)).toEqual([url, 404]);
      expect(await status(shop.signer, url)).toEqual([url, 404]);
      expect(await status(demoGate, url)).toEqual([url, 200]);
      expect(await status(demoMerchant, url)).toEqual([url, 200]);
    }
    // nothing tells another school's id from an unknown one
    const other = json<{ detail: string }>(await get(p, '/v1/people/x-s1', demoGate)).detail;
    const unknown = json<{ detail: string }>(await get(p, '/v1/people/x-none', demoGate)).detail;
    expect(other.replace('x-s1', 'X')).toBe(unknown.replace('x-none', 'X'));
  });
});

describe('links of a person', () => {
  it('only teachers teach classes, and a list names each student or class once: 400, no state change', async () => {
    p = await demoPlatform();
    const before = counts(p);
    const person = (over: object) => ({
      person_id: 'x-new',
      school_id: 'sch-demo',
      kind: 'student',
      name: 'N',
      ...over,
    });
    // class_ids become `teaches:<class>` groups in the roster, which a reader policy for a class's
    // teachers admits: a student or parent with class_ids would pass it
    for (const kind of ['student', 'parent']) {
      const r = await post(p, '/v1/people', person({ kind, class_ids: ['7-2'] }));
      expect([kind, ...problem(r)]).toEqual([kind, 400, 'ERR_VALIDATION', 'only teachers teach classes']);
      expect(json(r).errors).toEqual([{ path: 'body/class_ids', message: 'only for teachers' }]);
    }
    const twice = await post(p, '/v1/people', person({ kind: 'parent', student_ids: ['s-001', 's-001'] }));
    expect([twice.statusCode, json(twice).code]).toEqual([400, 'ERR_VALIDATION']);
    const twiceClass = await post(p, '/v1/people', person({ kind: 'teacher', class_ids: ['7-2', '7-2'] }));
    expect([twiceClass.statusCode, json(twiceClass).code]).toEqual([400, 'ERR_VALIDATION']);
    expect(counts(p)).toEqual(before);
    // a teacher's classes are taken
    const t = await post(p, '/v1/people', person({ kind: 'teacher', class_ids: ['7-2', '8-1'] }));
    expect(t.statusCode, t.body).toBe(201);
    expect(json(t).class_ids).toEqual(['7-2', '8-1']);
  });
});

describe('a device and its merchant', () => {
  it('only a POS takes a merchant, and a POS needs one: 400 naming body/merchant_id, no state change', async () => {
    p = await demoPlatform();
    const k = keyPair('x-dev');
    const before = counts(p);
    const device = (over: object) => ({
      device_id: 'x-dev',
      school_id: 'sch-demo',
      zone: 'gate:east',
      public_jwk: k.pub,
      ...over,
    });
    // a gate, a library desk, a lock or a check-in reader bound to a merchant would take payments
    // for it (a device's merchant is what a payment is credited to)
    for (const type of ['gate', 'library_desk', 'lock_controller', 'checkin']) {
      const r = await post(p, '/v1/devices', device({ type, merchant_id: 'm-shop' }));
      expect([type, r.statusCode, json(r).code]).toEqual([type, 400, 'ERR_VALIDATION']);
      expect(json(r).errors).toEqual([{ path: 'body/merchant_id', message: 'only a POS has a merchant' }]);
    }
    // a POS of no merchant could take no payment at all (every one a 403)
    const orphan = await post(p, '/v1/devices', device({ type: 'pos' }));
    expect([orphan.statusCode, json(orphan).code]).toEqual([400, 'ERR_VALIDATION']);
    expect(json(orphan).errors).toEqual([{ path: 'body/merchant_id', message: 'a POS needs its merchant' }]);
    expect(counts(p)).toEqual(before);
    // a gate without a merchant, and a POS with one, are registered as before
    const gate = await post(p, '/v1/devices', device({ type: 'gate' }));
    expect(gate.statusCode, gate.body).toBe(201);
    const pos = await post(
      p,
      '/v1/devices',
      device({ device_id: 'x-pos', type: 'pos', merchant_id: 'm-shop' }),
    );
    expect(pos.statusCode, pos.body).toBe(201);
  });
});

describe('what a parent is', () => {
  it('a parent has no class, dorm or room (reader groups that would admit them as a student): 400, no state change', async () => {
    p = await demoPlatform();
    const before = counts(p);
    const parent = (over: object) => ({
      person_id: 'x-par',
      school_id: 'sch-demo',
      kind: 'parent',
      name: 'P',
      student_ids: ['s-001'],
      ...over,
    });
    for (const [field, value] of [
      ['class_id', '7-2'],
      ['dorm', 'B3'],
      ['room', '204'],
    ] as const) {
      const r = await post(p, '/v1/people', parent({ [field]: value }));
      expect([field, ...problem(r)]).toEqual([field, 400, 'ERR_VALIDATION', `a parent has no ${field}`]);
      expect(json(r).errors).toEqual([{ path: `body/${field}`, message: 'not for parents' }]);
    }
    expect(counts(p)).toEqual(before);
    const ok = await post(p, '/v1/people', parent({}));
    expect(ok.statusCode, ok.body).toBe(201);
  });
});

describe('odd text in the directory', () => {
  it('control characters in a name, zone or field, a blank name, a campus twice: 400 naming the field, no state change', async () => {
    p = await demoPlatform();
    const k = keyPair('x-dev');
    const before = counts(p);
    const cases: [string, object, string][] = [
      ['/v1/schools', { school_id: 'sch-z', name: 'Z\u0000' }, 'body/name'],
      ['/v1/schools', { school_id: 'sch-z', name: '   ' }, 'body/name'],
      ['/v1/schools', { school_id: 'sch-z', name: 'Z', campuses: ['North', 'North'] }, 'body/campuses'],
      ['/v1/schools', { school_id: 'sch-z', name: 'Z', campuses: ['No\nrth'] }, 'body/campuses/0'],
      ...(
        [
          ['name', 'Zhang\u0000San'],
          ['name', '\u3000'],
          ['grade', '7\t'],
          ['college', 'Ma\u0085th'],
          ['major', '\u001b[31m'],
          ['class_id', undefined],
          ['campus', 'Main\r'],
          ['dorm', 'B3\u0000X'],
          ['room', '20\u007f4'],
        ] as const
      )
        .filter(([, v]) => v !== undefined)
        .map(([field, value]): [string, object, string] => [
          '/v1/people',
          { person_id: 'x-odd', school_id: 'sch-demo', kind: 'student', name: 'N', [field]: value },
          `body/${field}`,
        ]),
      [
        '/v1/devices',
        { device_id: 'x-dev', school_id: 'sch-demo', type: 'gate', zone: 'dorm:B3\u0000', public_jwk: k.pub },
        'body/zone',
      ],
      [
        '/v1/merchants',
        { merchant_id: 'x-m', school_id: 'sch-demo', name: '\u0007', category: 'shop', public_jwk: k.pub },
        'body/name',
      ],
    ];
    for (const [url, body, path] of cases) {
      const r = await post(p, url, body);
      expect([url, JSON.stringify(body), r.statusCode, json(r).code]).toEqual([
        url,
        JSON.stringify(body),
        400,
        'ERR_VALIDATION',
      ]);
      expect(json<{ errors: { path: string }[] }>(r).errors.map((e) => e.path)).toEqual([path]);
    }
    expect(counts(p)).toEqual(before);
    // letters of any script, and spaces inside, are text
    const fine = await post(p, '/v1/people', {
      person_id: 'x-fine',
      school_id: 'sch-demo',
      kind: 'student',
      name: '欧阳 娜娜 Ōyama-Łukasz',
      dorm: '北3',
      room: '2\u00a004',
    });
    expect(fine.statusCode, fine.body).toBe(201);
  });
});

describe('room groups', () => {
  it('a room needs its dorm, and a dorm and room spelling another room group of the school is refused: no state change', async () => {
    p = await demoPlatform();
    const student = (id: string, over: object) => ({
      person_id: id,
      school_id: 'sch-demo',
      kind: 'student',
      name: 'S',
      ...over,
    });
    const first = await post(p, '/v1/people', student('x-s1', { dorm: 'N', room: '1-101' }));
    expect(first.statusCode, first.body).toBe(201);
    const before = counts(p);
    // dorm N-1 room 101 is room:N-1-101 too: a reader's rule for one room would admit the other
    const clash = await post(p, '/v1/people', student('x-s2', { dorm: 'N-1', room: '101' }));
    expect(problem(clash)).toEqual([
      409,
      'ERR_CONFLICT',
      'dorm N-1 room 101 is the reader group room:N-1-101, which names dorm N room 1-101 already',
    ]);
    const noDorm = await post(p, '/v1/people', student('x-s3', { room: '101' }));
    expect(problem(noDorm)).toEqual([400, 'ERR_VALIDATION', 'a room is in a dorm: give the dorm too']);
    expect(json(noDorm).errors).toEqual([{ path: 'body/dorm', message: 'required with room' }]);
    expect(counts(p)).toEqual(before);
    // the same room again is the same group (roommates); another school's rooms are its own
    const roommate = await post(p, '/v1/people', student('x-s4', { dorm: 'N', room: '1-101' }));
    expect(roommate.statusCode, roommate.body).toBe(201);
    const school = await post(p, '/v1/schools', { school_id: 'sch-y', name: 'Y' });
    expect(school.statusCode, school.body).toBe(201);
    const elsewhere = await post(p, '/v1/people', {
      ...student('y-s1', { dorm: 'N-1', room: '101' }),
      school_id: 'sch-y',
    });
    expect(elsewhere.statusCode, elsewhere.body).toBe(201);
  });
});
