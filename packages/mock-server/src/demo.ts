/**
 * Demo data: one school with teachers, students and parents, devices and merchants with key
 * pairs, and cards with working phone keys. Keys derive from the seed, so the same seed gives
 * the same credentials across restarts; a database whose demo data was made with another seed is
 * refused ({@link DemoSeedMismatchError}), since the keys derived from this one would not work.
 *
 * The demo loads in one write transaction, whole or not at all (see {@link loadDemo}).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { exportJwk, generateKeyPair, type Jwk, toBase64Url } from '@campus-card/core';
import type { OperationId, PublicJwk } from '@campus-card/core/api';
import type { HandlerResult, PlatformState, Principal } from './context.js';
import { ensureSchoolKeys } from './domains/cards.js';
import { createOperator } from './domains/directory.js';
import { beginImmediateAsync } from './lib/db.js';

/**
 * Printed demo credentials: a vendor signs requests with these, and configures its readers with
 * the school's root key.
 *
 * `rootPublicJwk`, and each device's `merchantId` and offline caps, are new in this version.
 */
export interface DemoCredentials {
  readonly schoolId: string;
  /**
   * The demo school's root public JWK (ES256, no private part): the trust anchor a reader's
   * verifier is configured with (`rootKeys` of `createVerifier`, bare, since it is the only one),
   * the same key as `GET /v1/schools/{school_id}/root-key` serves. Derived from the seed, as the
   * other demo keys, so the same on every fresh database of one seed (each `:memory:` start); a
   * database whose demo an earlier version made keeps the random root key it was made with.
   */
  readonly rootPublicJwk: PublicJwk;
  /** The operator (school back office): signs directory, card and fee requests. */
  readonly operator: { readonly id: string; readonly privateJwk: Jwk };
  /**
   * The devices, with the fields of `GET /v1/devices/{device_id}` a POS is configured with (as
   * the platform stores them).
   */
  readonly devices: readonly {
    readonly id: string;
    readonly type: string;
    readonly zone: string;
    readonly privateJwk: Jwk;
    /** The merchant a POS takes payments for (`merchant_id`); `null` for a device of no merchant. */
    readonly merchantId: string | null;
    /**
     * Largest single offline payment, integer fen (`offline_tx_cap`): `perTransactionFen` of the
     * POS client's offline caps. 5 000 (50.00 CNY) for every demo device.
     */
    readonly offlineTxCap: number;
    /**
     * Largest total of the device's accepted offline payments per business day of their
     * `captured_at`, integer fen (`offline_device_cap`): `totalFen` of the POS client's offline
     * caps. 50 000 (500.00 CNY) for every demo device.
     */
    readonly offlineDeviceCap: number;
    /**
     * The UTC offset of the business day `offlineDeviceCap` counts by, `±HH:MM`
     * (`offline_day_utc_offset`; the platform's, `+08:00` by default): `dayUtcOffset` of the POS
     * client's offline caps.
     */
    readonly offlineDayUtcOffset: string;
  }[];
  readonly merchants: readonly { readonly id: string; readonly privateJwk: Jwk }[];
  readonly cards: readonly {
    readonly cardId: string;
    readonly personId: string;
    readonly role: string;
    /** The phone key: makes presentations with `createPresentation`. */
    readonly holderPrivateJwk: Jwk;
    /** The credential, base64url. */
    readonly credential: string;
    readonly physicalUidHex: string | null;
  }[];
}

function keyFor(seed: number, name: string) {
  const bytes = createHash('sha512').update(`campus-card-demo:${seed}:${name}`).digest().subarray(0, 48);
  return generateKeyPair('ES256', { seed: new Uint8Array(bytes) }).privateKey;
}

const SCHOOL = 'sch-demo';

/** How far from 0 {@link DemoSeedMismatchError} looks for the seed of existing demo data. */
const SEED_SEARCH_LIMIT = 1000;

/**
 * The database holds demo data made with another seed than the one given: the credentials
 * derived from the given seed would not match the stored public keys, so nothing signed with
 * them would work. Start with the seed the data was made with, or with a fresh database.
 */
export class DemoSeedMismatchError extends Error {
  /** The seed given. */
  readonly seed: number;
  /**
   * The seed the demo data was made with, when found (seeds from −1000 to 1000 are tried);
   * `undefined` otherwise.
   */
  readonly dataSeed: number | undefined;
  constructor(seed: number, dataSeed: number | undefined) {
    super(
      dataSeed === undefined
        ? `the demo data in this database was made with another seed than ${seed} (the demo keys of seed ${seed} do not match it): start with the --seed it was made with, or use a fresh --db`
        : `the demo data in this database was made with seed ${dataSeed}, not ${seed}: start with --seed ${dataSeed}, or use a fresh --db for seed ${seed}`,
    );
    this.name = 'DemoSeedMismatchError';
    this.seed = seed;
    this.dataSeed = dataSeed;
  }
}

/** Whether two EC public JWKs are the same key. */
function sameKey(a: { x?: unknown; y?: unknown }, b: { x?: unknown; y?: unknown }): boolean {
  return a.x === b.x && a.y === b.y;
}

/**
 * Checks that the stored demo operator's key is the one `seed` derives; else finds the seed it
 * came from (within {@link SEED_SEARCH_LIMIT}) and throws {@link DemoSeedMismatchError}.
 */
function checkDemoSeed(state: PlatformState, seed: number): void {
  const row = state.db.prepare('SELECT jwk FROM principals WHERE principal_id = ?').get(DEMO_OPERATOR.id) as
    | { jwk: string }
    | undefined;
  if (row === undefined) return; // no operator key to compare (nothing printed for it works anyway)
  const stored = JSON.parse(row.jwk) as { x?: unknown; y?: unknown };
  const derived = (n: number) => exportJwk(keyFor(n, 'operator').publicKey) as { x?: unknown; y?: unknown };
  if (sameKey(stored, derived(seed))) return;
  for (let d = 0; d <= SEED_SEARCH_LIMIT; d++) {
    for (const n of d === 0 ? [0] : [d, -d]) {
      if (sameKey(stored, derived(n))) throw new DemoSeedMismatchError(seed, n);
    }
  }
  throw new DemoSeedMismatchError(seed, undefined);
}

/**
 * The demo school's operator (`op-demo` of `sch-demo`), as `platform.invoke` takes a principal: for
 * tests and tools that drive the demo platform in process.
 */
export const DEMO_OPERATOR: Principal = Object.freeze({
  id: 'op-demo',
  kind: 'operator',
  schoolId: SCHOOL,
  merchantId: null,
  zone: null,
  deviceType: null,
});

/** The demo people, in the order they are created (and their cards issued). */
const PEOPLE = [
  {
    person_id: 't-001',
    kind: 'teacher',
    name: '王老师',
    college: 'Mathematics',
    class_ids: ['7-2'],
    campus: 'Main',
  },
  {
    person_id: 't-002',
    kind: 'teacher',
    name: '李老师',
    college: 'Chemistry',
    class_ids: ['8-1'],
    campus: 'Main',
  },
  {
    person_id: 's-001',
    kind: 'student',
    name: '张三',
    grade: '7',
    class_id: '7-2',
    campus: 'Main',
    dorm: 'B3',
    room: '204',
  },
  {
    person_id: 's-002',
    kind: 'student',
    name: '李四',
    grade: '7',
    class_id: '7-2',
    campus: 'Main',
    dorm: 'B3',
    room: '205',
  },
  {
    person_id: 's-003',
    kind: 'student',
    name: '王五',
    grade: '8',
    class_id: '8-1',
    campus: 'Main',
    dorm: 'C1',
    room: '101',
  },
  { person_id: 'p-001', kind: 'parent', name: '张父', student_ids: ['s-001'] },
  { person_id: 'p-002', kind: 'parent', name: '李母', student_ids: ['s-002', 's-003'] },
] as const;
const MERCHANTS = [
  { merchant_id: 'm-canteen-s', name: 'Student canteen', category: 'canteen_student' },
  { merchant_id: 'm-canteen-t', name: 'Teacher canteen', category: 'canteen_teacher' },
  { merchant_id: 'm-shop', name: 'Campus shop', category: 'shop' },
  { merchant_id: 'm-clinic', name: 'School clinic', category: 'clinic' },
  { merchant_id: 'm-bookshop', name: 'Bookshop', category: 'bookshop' },
] as const;
const DEVICES = [
  { device_id: 'gate-01', type: 'gate', zone: 'gate:main' },
  { device_id: 'pos-01', type: 'pos', zone: 'canteen:student', merchant_id: 'm-canteen-s' },
  { device_id: 'pos-02', type: 'pos', zone: 'canteen:teacher', merchant_id: 'm-canteen-t' },
  { device_id: 'lib-01', type: 'library_desk', zone: 'library' },
  { device_id: 'lock-b3', type: 'lock_controller', zone: 'dorm:B3' },
  { device_id: 'pos-03', type: 'pos', zone: 'clinic', merchant_id: 'm-clinic' },
  { device_id: 'pos-04', type: 'pos', zone: 'bookshop', merchant_id: 'm-bookshop' },
] as const;
/** The physical cards linked to demo cards: UID by person. */
const UIDS: Readonly<Record<string, string>> = { 's-001': '04a1b2c3d4e5f6', 't-001': '04f0e1d2c3b4a5' };
/** The demo wallets' top-ups, in order. */
const TOP_UPS = [
  ['s-001', 10_000],
  ['s-002', 5_000],
  ['t-001', 20_000],
  ['p-001', 500_000],
  ['p-002', 500_000],
] as const;

/**
 * How long a start waits for the write lock that another connection holds (another process
 * loading the demo into the same new file), ms; then it fails with `SQLITE_BUSY`.
 */
const DEMO_LOCK_TIMEOUT_MS = 60_000;

/**
 * The database holds demo data that an interrupted start left incomplete (a version before the
 * demo loaded in one transaction, stopped while loading it), and completing it failed. Start on a
 * fresh database: delete the file, or use another one.
 */
export class DemoIncompleteError extends Error {
  /** Why completing it failed. */
  readonly reason: string;
  constructor(cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      `the demo data in this database is incomplete (an earlier start was stopped while loading it) and could not be completed (${reason}): delete the database file, or use another database`,
      { cause },
    );
    this.name = 'DemoIncompleteError';
    this.reason = reason;
  }
}

/** What loading the demo needs: the state, a way to call operations, the seed of the keys. */
export interface DemoEnv {
  readonly state: PlatformState;
  readonly invoke: (
    op: OperationId,
    input: { params?: object; body?: object },
    principal?: Principal,
  ) => Promise<HandlerResult>;
  readonly seed: number;
}

/**
 * One step of loading the demo: whether the database has what it makes, and making it (in the
 * transaction open, if any).
 *
 * @internal
 */
export interface DemoStep {
  readonly name: string;
  done(): boolean;
  run(): Promise<void>;
}

/** The demo's private keys, derived from the seed once each. */
function demoKeys(seed: number): (name: string) => ReturnType<typeof keyFor> {
  const keys = new Map<string, ReturnType<typeof keyFor>>();
  return (name) => {
    let key = keys.get(name);
    if (key === undefined) {
      key = keyFor(seed, name);
      keys.set(name, key);
    }
    return key;
  };
}

/**
 * The steps that load the demo, in order: each is done when the database has its rows. The steps of
 * a demo whose load stopped part-way (before it loaded in one transaction) are a prefix of these;
 * a step's rows stay once made (people, merchants, devices and orders are never deleted; a card
 * revoked later is still a card; an unlinked card keeps its physical card number), so the demo a
 * user went on to use is never made again.
 *
 * @internal
 */
export function demoSteps(
  env: DemoEnv,
  key: (name: string) => ReturnType<typeof keyFor> = demoKeys(env.seed),
): DemoStep[] {
  const { state, invoke } = env;
  const operator = DEMO_OPERATOR;
  const pub = (name: string) => exportJwk(key(name).publicKey) as PublicJwk;
  const ok = (r: HandlerResult) => {
    if (r.status >= 300) throw new Error(`demo setup failed: ${JSON.stringify(r.body)}`);
    return r;
  };
  const exists = (sql: string, ...args: unknown[]) => state.db.prepare(sql).get(...args) !== undefined;
  const steps: DemoStep[] = [
    {
      name: 'school',
      done: () => exists('SELECT 1 FROM schools WHERE school_id = ?', SCHOOL),
      run: async () => {
        ok(
          await invoke(
            'createSchool',
            { body: { school_id: SCHOOL, name: 'Demo Experimental School', campuses: ['Main'] } },
            operator,
          ),
        );
      },
    },
    {
      name: 'operator',
      done: () => exists('SELECT 1 FROM principals WHERE principal_id = ?', operator.id),
      run: async () => {
        state.tx(() => createOperator(state, operator.id, pub('operator'), SCHOOL));
      },
    },
    {
      // The school's root and issuer keys, from the seed as every demo key is (the platform would
      // make random ones at the first card): the printed root key, which readers are configured
      // with, is the same on every fresh database of one seed (each `:memory:` start). Made by
      // `ensureSchoolKeys` (the keys and the three documents to sign), before anything
      // signs with them. A database that has keys keeps them.
      name: 'school keys',
      done: () => exists('SELECT 1 FROM school_keys WHERE school_id = ?', SCHOOL),
      run: async () => {
        ensureSchoolKeys(state, SCHOOL, () => ({ root: key('school-root'), issuer: key('school-issuer') }));
      },
    },
  ];
  for (const p of PEOPLE) {
    steps.push({
      name: `person ${p.person_id}`,
      done: () => exists('SELECT 1 FROM people WHERE person_id = ?', p.person_id),
      run: async () => {
        ok(await invoke('createPerson', { body: { school_id: SCHOOL, ...p } }, operator));
      },
    });
  }
  for (const m of MERCHANTS) {
    steps.push({
      name: `merchant ${m.merchant_id}`,
      done: () => exists('SELECT 1 FROM merchants WHERE merchant_id = ?', m.merchant_id),
      run: async () => {
        ok(
          await invoke(
            'createMerchant',
            { body: { school_id: SCHOOL, ...m, public_jwk: pub(m.merchant_id) } },
            operator,
          ),
        );
      },
    });
  }
  for (const d of DEVICES) {
    steps.push({
      name: `device ${d.device_id}`,
      done: () => exists('SELECT 1 FROM devices WHERE device_id = ?', d.device_id),
      run: async () => {
        ok(
          await invoke(
            'createDevice',
            { body: { school_id: SCHOOL, ...d, public_jwk: pub(d.device_id) } },
            operator,
          ),
        );
      },
    });
  }
  const liveCard = (personId: string) =>
    state.db
      .prepare("SELECT card_id FROM cards WHERE school_id = ? AND person_id = ? AND status <> 'revoked'")
      .get(SCHOOL, personId) as { card_id: string } | undefined;
  for (const p of PEOPLE) {
    steps.push({
      name: `card of ${p.person_id}`,
      done: () =>
        exists(
          'SELECT 1 FROM cards WHERE school_id = ? AND person_id = ? AND role = ?',
          SCHOOL,
          p.person_id,
          p.kind,
        ),
      run: async () => {
        ok(
          await invoke(
            'issueCard',
            {
              body: {
                person_id: p.person_id,
                role: p.kind,
                holder_jwk: pub(`phone:${p.person_id}`),
                validity_days: 365,
              },
            },
            operator,
          ),
        );
      },
    });
    const uid = UIDS[p.person_id];
    if (uid === undefined) continue;
    steps.push({
      name: `physical card of ${p.person_id}`,
      // linked once (an unlinked card keeps its number), or no live card to link
      done: () =>
        exists(
          'SELECT 1 FROM cards WHERE school_id = ? AND person_id = ? AND physical_card_number IS NOT NULL',
          SCHOOL,
          p.person_id,
        ) || liveCard(p.person_id) === undefined,
      run: async () => {
        const card = liveCard(p.person_id);
        if (card === undefined) return;
        ok(
          await invoke(
            'linkPhysicalCard',
            { params: { card_id: card.card_id }, body: { uid_hex: uid, card_number: `PC-${p.person_id}` } },
            operator,
          ),
        );
      },
    });
  }
  for (const [person, amount] of TOP_UPS) {
    const outTradeNo = `demo-topup-${person}`;
    steps.push({
      name: `top-up of ${person}`,
      done: () =>
        exists('SELECT 1 FROM orders WHERE scope = ? AND out_trade_no = ?', operator.id, outTradeNo),
      run: async () => {
        ok(
          await invoke(
            'topUpWallet',
            {
              params: { person_id: person },
              body: { out_trade_no: outTradeNo, amount, channel: 'simulated' },
            },
            operator,
          ),
        );
      },
    });
  }
  return steps;
}

/**
 * Loads (or, when already present, only re-derives the credentials of) the demo data.
 *
 * The demo loads in one write transaction (`BEGIN IMMEDIATE`): a start stopped while it loads
 * leaves none of it. Another process (or platform) starting on the same file meanwhile waits for
 * the lock, looks again and finds the demo complete. A demo that an older version left part-way
 * (it committed each step on its own) is completed, in the same way, with a warning; when that
 * fails, {@link DemoIncompleteError}.
 *
 * @throws {@link DemoSeedMismatchError} when the database holds demo data made with another seed.
 */
export async function loadDemo(env: DemoEnv): Promise<DemoCredentials> {
  const { state, seed } = env;
  const { db } = state;
  const key = demoKeys(seed);
  const steps = demoSteps(env, key);
  const started = () => steps[0]?.done() === true;
  if (started()) checkDemoSeed(state, seed);
  if (steps.some((s) => !s.done())) {
    await beginImmediateAsync(db, DEMO_LOCK_TIMEOUT_MS);
    // again, under the lock: another process may have loaded it meanwhile
    let resumed = false;
    let ran = 0;
    try {
      resumed = started();
      if (resumed) checkDemoSeed(state, seed);
      for (const step of steps) {
        if (step.done()) continue;
        await step.run();
        ran++;
      }
      db.exec('COMMIT');
    } catch (error) {
      try {
        if (db.inTransaction) db.exec('ROLLBACK');
      } catch {
        // the connection may be closing: nothing of the load is committed either way
      }
      throw resumed && !(error instanceof DemoSeedMismatchError) ? new DemoIncompleteError(error) : error;
    }
    if (resumed && ran > 0) {
      console.warn(
        `[campus-card-mock] the demo data in this database was incomplete (an earlier start was stopped while loading it): completed it (${ran} steps)`,
      );
    }
  }

  const cardRows = db
    .prepare(
      "SELECT card_id, person_id, role, credential FROM cards WHERE school_id = ? AND status <> 'revoked'",
    )
    .all(SCHOOL) as {
    card_id: string;
    person_id: string;
    role: string;
    credential: Buffer;
  }[];
  const deviceRow = db.prepare(
    'SELECT merchant_id, offline_tx_cap, offline_device_cap FROM devices WHERE device_id = ?',
  );
  return {
    schoolId: SCHOOL,
    // the key the school-root-key route serves (made with the school, kept in the database)
    rootPublicJwk: exportJwk(ensureSchoolKeys(state, SCHOOL).root.publicKey) as PublicJwk,
    operator: { id: DEMO_OPERATOR.id, privateJwk: exportJwk(key('operator'), { includePrivate: true }) },
    devices: DEVICES.map((d) => {
      // as stored, so that what is printed is what `GET /v1/devices/{device_id}` answers
      const row = deviceRow.get(d.device_id) as
        | { merchant_id: string | null; offline_tx_cap: number; offline_device_cap: number }
        | undefined;
      if (row === undefined) throw new Error(`demo device ${d.device_id} is missing from the database`);
      return {
        id: d.device_id,
        type: d.type,
        zone: d.zone,
        privateJwk: exportJwk(key(d.device_id), { includePrivate: true }),
        merchantId: row.merchant_id,
        offlineTxCap: row.offline_tx_cap,
        offlineDeviceCap: row.offline_device_cap,
        offlineDayUtcOffset: state.settings.dayUtcOffset,
      };
    }),
    merchants: MERCHANTS.map((m) => ({
      id: m.merchant_id,
      privateJwk: exportJwk(key(m.merchant_id), { includePrivate: true }),
    })),
    cards: cardRows.map((c) => ({
      cardId: c.card_id,
      personId: c.person_id,
      role: c.role,
      holderPrivateJwk: exportJwk(key(`phone:${c.person_id}`), { includePrivate: true }),
      credential: toBase64Url(new Uint8Array(c.credential)),
      physicalUidHex: UIDS[c.person_id] ?? null,
    })),
  };
}
