/**
 * Directory domain: schools, people, devices, merchants.
 *
 * @module
 */
import type { CreateDeviceBody, Device, Merchant, Person, PublicJwk, School } from '@campus-card/core/api';
import { importVerifyKey } from '@campus-card/core/http';
import { type Handlers, type PlatformState, type Principal, requirePrincipal } from '../context.js';
import { iso } from '../lib/clock.js';
import { ApiError, notFound } from '../lib/problem.js';

/** Default offline caps: 50 CNY per payment, 500 CNY per device per day. */
export const DEFAULT_OFFLINE_TX_CAP = 5_000;
export const DEFAULT_OFFLINE_DEVICE_CAP = 50_000;

interface PersonRow {
  person_id: string;
  school_id: string;
  kind: Person['kind'];
  name: string;
  grade: string | null;
  college: string | null;
  major: string | null;
  class_id: string | null;
  campus: string | null;
  dorm: string | null;
  room: string | null;
  student_ids: string;
  class_ids: string;
  created_at: number;
}

/** Reads a person row. */
export function getPersonRow(state: PlatformState, personId: string): PersonRow | undefined {
  return state.db.prepare('SELECT * FROM people WHERE person_id = ?').get(personId) as PersonRow | undefined;
}

/**
 * A person's groups as readers see them (`class:`, `dorm:`, `room:`, `campus:`, `teaches:`), in the
 * order of the credential's and the roster's `groups`: the data a reader policy's groups rules
 * decide on, offline (credential, roster) and online (identity resolution) alike (C2).
 */
export function personGroups(p: PersonRow): string[] {
  const g: string[] = [];
  if (p.class_id !== null) g.push(`class:${p.class_id}`);
  if (p.dorm !== null) g.push(`dorm:${p.dorm}`);
  if (p.dorm !== null && p.room !== null) g.push(`room:${p.dorm}-${p.room}`);
  if (p.campus !== null) g.push(`campus:${p.campus}`);
  for (const c of JSON.parse(p.class_ids) as string[]) g.push(`teaches:${c}`);
  return g;
}

/** Converts a person row to the API shape. */
export function personOut(r: PersonRow): Person {
  return {
    person_id: r.person_id,
    school_id: r.school_id,
    kind: r.kind,
    name: r.name,
    grade: r.grade,
    college: r.college,
    major: r.major,
    class_id: r.class_id,
    campus: r.campus,
    dorm: r.dorm,
    room: r.room,
    student_ids: JSON.parse(r.student_ids) as string[],
    class_ids: JSON.parse(r.class_ids) as string[],
    created_at: iso(r.created_at),
  };
}

function schoolOut(r: { school_id: string; name: string; campuses: string; created_at: number }): School {
  return {
    school_id: r.school_id,
    name: r.name,
    campuses: JSON.parse(r.campuses) as string[],
    created_at: iso(r.created_at),
  };
}

/** A device as the API shows it; its daily offline cap counts by the business day at `dayUtcOffset`. */
function deviceOut(
  r: {
    device_id: string;
    school_id: string;
    type: Device['type'];
    zone: string;
    jwk: string;
    merchant_id: string | null;
    offline_tx_cap: number;
    offline_device_cap: number;
    created_at: number;
  },
  dayUtcOffset: string,
): Device {
  return {
    device_id: r.device_id,
    school_id: r.school_id,
    type: r.type,
    zone: r.zone,
    public_jwk: JSON.parse(r.jwk) as PublicJwk,
    merchant_id: r.merchant_id,
    offline_tx_cap: r.offline_tx_cap,
    offline_device_cap: r.offline_device_cap,
    offline_day_utc_offset: dayUtcOffset,
    created_at: iso(r.created_at),
  };
}

function merchantOut(r: {
  merchant_id: string;
  school_id: string;
  name: string;
  category: Merchant['category'];
  jwk: string;
  created_at: number;
}): Merchant {
  return {
    merchant_id: r.merchant_id,
    school_id: r.school_id,
    name: r.name,
    category: r.category,
    public_jwk: JSON.parse(r.jwk) as PublicJwk,
    created_at: iso(r.created_at),
  };
}

/**
 * Checks a device's, merchant's or operator's public JWK and returns it as stored. Refused (400
 * naming `body/public_jwk`): a key that does not import, an OKP (Ed25519) key with a `y` (RFC 8037
 * §2 gives it none: it would be stored and served as sent while `x` alone is the key, one key with
 * two encodings, as a card's phone key is refused), and a `use` other than `sig` (RFC 7517 §4.2: a
 * key declared for encryption is not one to verify request signatures with).
 */
function checkJwk(jwk: PublicJwk): string {
  const refuse = (message: string): never => {
    throw new ApiError(400, 'ERR_VALIDATION', `public_jwk: ${message}`, {
      errors: [{ path: 'body/public_jwk', message }],
    });
  };
  if (jwk.kty === 'OKP' && jwk.y !== undefined) refuse('an OKP (Ed25519) key has no y');
  if (jwk.use !== undefined && jwk.use !== 'sig') refuse(`use is "${jwk.use}": a signing key is "sig"`);
  try {
    importVerifyKey(jwk);
  } catch (e) {
    throw new ApiError(
      400,
      'ERR_VALIDATION',
      `public_jwk is not a valid public key: ${(e as Error).message}`,
      {
        errors: [{ path: 'body/public_jwk', message: 'invalid key' }],
      },
    );
  }
  const { d: _d, ...pub } = jwk as PublicJwk & { d?: string };
  return JSON.stringify(pub);
}

function requireSchool(state: PlatformState, schoolId: string): void {
  if (state.db.prepare('SELECT 1 FROM schools WHERE school_id = ?').get(schoolId) === undefined) {
    throw new ApiError(404, 'ERR_NOT_FOUND', `school ${schoolId} not found`);
  }
}

/**
 * Throws 404 `what not found` unless `principal` may read a resource of school `schoolId`: an
 * operator reads every school, a device or merchant only its own. The answer is the one for an id
 * that does not exist, so another school's ids are not even confirmed.
 */
export function requireOwnSchool(principal: Principal, schoolId: string, what: string): void {
  if (principal.kind !== 'operator' && principal.schoolId !== schoolId) throw notFound(what);
}

function principalExists(state: PlatformState, id: string): boolean {
  return state.db.prepare('SELECT 1 FROM principals WHERE principal_id = ?').get(id) !== undefined;
}

/** Registers an operator principal (a school administrator or the platform back office). */
export function createOperator(
  state: PlatformState,
  id: string,
  jwk: PublicJwk,
  schoolId: string | null,
): void {
  state.db
    .prepare('INSERT INTO principals (principal_id, kind, school_id, jwk, created_at) VALUES (?, ?, ?, ?, ?)')
    .run(id, 'operator', schoolId, checkJwk(jwk), state.clock.now());
}

/** Inserts a device (used by the handler and the demo loader). */
export function insertDevice(state: PlatformState, b: CreateDeviceBody): Device {
  requireSchool(state, b.school_id);
  if (principalExists(state, b.device_id))
    throw new ApiError(409, 'ERR_CONFLICT', `id ${b.device_id} is taken`);
  // A payment is credited to the merchant of the device that takes it: a gate, desk, lock or
  // check-in reader bound to a merchant would take payments for it; a POS of none, none at all.
  if (b.type !== 'pos' && b.merchant_id !== undefined) {
    throw new ApiError(400, 'ERR_VALIDATION', `a ${b.type} has no merchant; only a POS has one`, {
      errors: [{ path: 'body/merchant_id', message: 'only a POS has a merchant' }],
    });
  }
  if (b.type === 'pos' && b.merchant_id === undefined) {
    throw new ApiError(400, 'ERR_VALIDATION', 'a POS is registered with its merchant_id', {
      errors: [{ path: 'body/merchant_id', message: 'a POS needs its merchant' }],
    });
  }
  if (b.merchant_id !== undefined) {
    const m = state.db.prepare('SELECT school_id FROM merchants WHERE merchant_id = ?').get(b.merchant_id) as
      | { school_id: string }
      | undefined;
    if (m === undefined) throw notFound(`merchant ${b.merchant_id}`);
    // a POS takes money for its merchant: both must belong to the same school
    if (m.school_id !== b.school_id) {
      throw new ApiError(
        400,
        'ERR_VALIDATION',
        `merchant ${b.merchant_id} belongs to school ${m.school_id}, not ${b.school_id}`,
        { errors: [{ path: 'body/merchant_id', message: 'must be a merchant of the same school' }] },
      );
    }
  }
  const jwk = checkJwk(b.public_jwk);
  const now = state.clock.now();
  state.db
    .prepare(
      'INSERT INTO devices (device_id, school_id, type, zone, jwk, merchant_id, offline_tx_cap, offline_device_cap, created_at) VALUES (?,?,?,?,?,?,?,?,?)',
    )
    .run(
      b.device_id,
      b.school_id,
      b.type,
      b.zone,
      jwk,
      b.merchant_id ?? null,
      b.offline_tx_cap ?? DEFAULT_OFFLINE_TX_CAP,
      b.offline_device_cap ?? DEFAULT_OFFLINE_DEVICE_CAP,
      now,
    );
  state.db
    .prepare('INSERT INTO principals (principal_id, kind, school_id, jwk, created_at) VALUES (?, ?, ?, ?, ?)')
    .run(b.device_id, 'device', b.school_id, jwk, now);
  return deviceOut(
    state.db.prepare('SELECT * FROM devices WHERE device_id = ?').get(b.device_id) as never,
    state.settings.dayUtcOffset,
  );
}

/**
 * A room is a `room:<dorm>-<room>` group, which only names one room while no other dorm and room of
 * the school spell the same group: dorm `N` room `1-101` and dorm `N-1` room `101` are both
 * `room:N-1-101`, and a reader's rule for the one would admit the other offline (the platform's
 * own zone check tells them apart, readers cannot). So a room needs its dorm, and a room whose
 * group another dorm's room already has is refused (409); the group format stays as readers know it.
 */
function checkRoomGroup(
  state: PlatformState,
  schoolId: string,
  dorm: string | undefined,
  room: string,
): void {
  if (dorm === undefined) {
    throw new ApiError(400, 'ERR_VALIDATION', 'a room is in a dorm: give the dorm too', {
      errors: [{ path: 'body/dorm', message: 'required with room' }],
    });
  }
  const other = state.db
    .prepare(
      "SELECT dorm, room FROM people WHERE school_id = ? AND dorm IS NOT NULL AND dorm <> ? AND room IS NOT NULL AND dorm || '-' || room = ? LIMIT 1",
    )
    .get(schoolId, dorm, `${dorm}-${room}`) as { dorm: string; room: string } | undefined;
  if (other !== undefined) {
    throw new ApiError(
      409,
      'ERR_CONFLICT',
      `dorm ${dorm} room ${room} is the reader group room:${dorm}-${room}, which names dorm ${other.dorm} room ${other.room} already`,
    );
  }
}

/** Directory handlers. */
export const directoryHandlers: Handlers = {
  createSchool: (ctx) =>
    ctx.commit(() => {
      const { db, clock } = ctx.state;
      const b = ctx.body;
      if (db.prepare('SELECT 1 FROM schools WHERE school_id = ?').get(b.school_id) !== undefined) {
        throw new ApiError(409, 'ERR_CONFLICT', `school ${b.school_id} exists`);
      }
      db.prepare('INSERT INTO schools (school_id, name, campuses, created_at) VALUES (?, ?, ?, ?)').run(
        b.school_id,
        b.name,
        JSON.stringify(b.campuses ?? []),
        clock.now(),
      );
      return {
        status: 201,
        body: schoolOut(db.prepare('SELECT * FROM schools WHERE school_id = ?').get(b.school_id) as never),
      };
    }),

  getSchool: (ctx) => {
    requireOwnSchool(requirePrincipal(ctx), ctx.params.school_id, `school ${ctx.params.school_id}`);
    const r = ctx.state.db.prepare('SELECT * FROM schools WHERE school_id = ?').get(ctx.params.school_id);
    if (r === undefined) throw notFound(`school ${ctx.params.school_id}`);
    return { status: 200, body: schoolOut(r as never) };
  },

  createPerson: (ctx) =>
    ctx.commit(() => {
      const { state, body: b } = ctx;
      // A class, a dorm and a room are `class:`, `dorm:` and `room:` groups in the parent's
      // credential and the roster: a reader's class or dorm rule would admit the parent as a student.
      if (b.kind === 'parent') {
        for (const field of ['class_id', 'dorm', 'room'] as const) {
          if (b[field] !== undefined) {
            throw new ApiError(400, 'ERR_VALIDATION', `a parent has no ${field}`, {
              errors: [{ path: `body/${field}`, message: 'not for parents' }],
            });
          }
        }
      }
      requireSchool(state, b.school_id);
      if (getPersonRow(state, b.person_id) !== undefined)
        throw new ApiError(409, 'ERR_CONFLICT', `person ${b.person_id} exists`);
      if (b.room !== undefined) checkRoomGroup(state, b.school_id, b.dorm, b.room);
      for (const sid of b.student_ids ?? []) {
        const s = getPersonRow(state, sid);
        if (s === undefined || s.kind !== 'student' || s.school_id !== b.school_id) {
          throw new ApiError(
            400,
            'ERR_VALIDATION',
            `student_ids: ${sid} is not a student of ${b.school_id}`,
            {
              errors: [{ path: 'body/student_ids', message: `${sid} is not a student of this school` }],
            },
          );
        }
      }
      if ((b.student_ids?.length ?? 0) > 0 && b.kind !== 'parent') {
        throw new ApiError(400, 'ERR_VALIDATION', 'only parents are linked to students');
      }
      // a teacher's classes are `teaches:` groups in the roster, which reader policies trust
      if ((b.class_ids?.length ?? 0) > 0 && b.kind !== 'teacher') {
        throw new ApiError(400, 'ERR_VALIDATION', 'only teachers teach classes', {
          errors: [{ path: 'body/class_ids', message: 'only for teachers' }],
        });
      }
      state.db
        .prepare(
          `INSERT INTO people (person_id, school_id, kind, name, grade, college, major, class_id, campus, dorm, room, student_ids, class_ids, created_at)
           VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
        )
        .run(
          b.person_id,
          b.school_id,
          b.kind,
          b.name,
          b.grade ?? null,
          b.college ?? null,
          b.major ?? null,
          b.class_id ?? null,
          b.campus ?? null,
          b.dorm ?? null,
          b.room ?? null,
          JSON.stringify(b.student_ids ?? []),
          JSON.stringify(b.class_ids ?? []),
          state.clock.now(),
        );
      // The links a push looks up (see migration 8), written once: people are never updated.
      if (b.kind === 'parent') {
        const link = state.db.prepare(
          'INSERT OR IGNORE INTO guardians (student_id, parent_id) VALUES (?, ?)',
        );
        for (const sid of b.student_ids ?? []) link.run(sid, b.person_id);
      }
      if (b.kind === 'teacher') {
        const link = state.db.prepare(
          'INSERT OR IGNORE INTO class_teachers (class_id, teacher_id) VALUES (?, ?)',
        );
        for (const cid of b.class_ids ?? []) link.run(cid, b.person_id);
      }
      return { status: 201, body: personOut(getPersonRow(state, b.person_id) as PersonRow) };
    }),

  getPerson: (ctx) => {
    const r = getPersonRow(ctx.state, ctx.params.person_id);
    if (r === undefined) throw notFound(`person ${ctx.params.person_id}`);
    requireOwnSchool(requirePrincipal(ctx), r.school_id, `person ${ctx.params.person_id}`);
    return { status: 200, body: personOut(r) };
  },

  createDevice: (ctx) => ctx.commit(() => ({ status: 201, body: insertDevice(ctx.state, ctx.body) })),

  getDevice: (ctx) => {
    const r = ctx.state.db.prepare('SELECT * FROM devices WHERE device_id = ?').get(ctx.params.device_id) as
      | Parameters<typeof deviceOut>[0]
      | undefined;
    if (r === undefined) throw notFound(`device ${ctx.params.device_id}`);
    requireOwnSchool(requirePrincipal(ctx), r.school_id, `device ${ctx.params.device_id}`);
    return { status: 200, body: deviceOut(r, ctx.state.settings.dayUtcOffset) };
  },

  deviceHeartbeat: (ctx) =>
    ctx.commit(() => {
      const { state } = ctx;
      const p = requirePrincipal(ctx);
      if (p.id !== ctx.params.device_id) {
        throw new ApiError(403, 'ERR_FORBIDDEN', 'a device reports only its own heartbeat');
      }
      const now = state.clock.now();
      state.db
        .prepare(
          'INSERT INTO device_heartbeats (device_id, body, received_at) VALUES (?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET body = excluded.body, received_at = excluded.received_at',
        )
        .run(p.id, JSON.stringify(ctx.body), now);
      return { status: 200, body: { device_id: p.id, received_at: iso(now) } };
    }),

  createMerchant: (ctx) =>
    ctx.commit(() => {
      const { state, body: b } = ctx;
      requireSchool(state, b.school_id);
      if (principalExists(state, b.merchant_id))
        throw new ApiError(409, 'ERR_CONFLICT', `id ${b.merchant_id} is taken`);
      const jwk = checkJwk(b.public_jwk);
      const now = state.clock.now();
      state.db
        .prepare(
          'INSERT INTO merchants (merchant_id, school_id, name, category, jwk, created_at) VALUES (?,?,?,?,?,?)',
        )
        .run(b.merchant_id, b.school_id, b.name, b.category, jwk, now);
      state.db
        .prepare(
          'INSERT INTO principals (principal_id, kind, school_id, jwk, created_at) VALUES (?, ?, ?, ?, ?)',
        )
        .run(b.merchant_id, 'merchant', b.school_id, jwk, now);
      return {
        status: 201,
        body: merchantOut(
          state.db.prepare('SELECT * FROM merchants WHERE merchant_id = ?').get(b.merchant_id) as never,
        ),
      };
    }),

  getMerchant: (ctx) => {
    const r = ctx.state.db
      .prepare('SELECT * FROM merchants WHERE merchant_id = ?')
      .get(ctx.params.merchant_id) as Parameters<typeof merchantOut>[0] | undefined;
    if (r === undefined) throw notFound(`merchant ${ctx.params.merchant_id}`);
    requireOwnSchool(requirePrincipal(ctx), r.school_id, `merchant ${ctx.params.merchant_id}`);
    return { status: 200, body: merchantOut(r) };
  },
};
