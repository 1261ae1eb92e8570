/**
 * Directory domain: schools, people (teachers, students, parents linked to students),
 * devices with zones and keys, and merchants.
 *
 * @module
 */
import { type Static, Type } from '@sinclair/typebox';
import {
  describedId,
  Id,
  OWN_SCHOOL_ONLY,
  POST_ERRORS,
  PublicJwk,
  type RouteDef,
  SIGNED_ERRORS,
  strictObject,
  Timestamp,
} from './common.js';

/** No C0 or C1 control character (a NUL cuts a `dorm:` group short in a reader's C string). */
const PLAIN = '[^\\u0000-\\u001f\\u007f-\\u009f]';
/** Free text of 1 to `max` characters, none of them a control character. */
const Text = (max = 128, description?: string) =>
  Type.String({
    minLength: 1,
    maxLength: max,
    pattern: `^${PLAIN}*$`,
    ...(description === undefined ? {} : { description }),
  });
/** A name: {@link Text} that is not blank (something other than white space). */
const Name = (max = 128) =>
  Type.String({ minLength: 1, maxLength: max, pattern: `^${PLAIN}*(?=\\S)${PLAIN}+$` });

/** Request body: create a school. */
export const CreateSchoolBody = strictObject({
  school_id: Id,
  name: Name(),
  campuses: Type.Optional(
    Type.Array(Text(64), { maxItems: 32, uniqueItems: true, description: 'Each campus once.' }),
  ),
});
/** Create-school body. */
export type CreateSchoolBody = Static<typeof CreateSchoolBody>;

/** A school. */
export const School = strictObject({
  school_id: Id,
  name: Type.String(),
  campuses: Type.Array(Type.String()),
  created_at: Timestamp,
});
/** A school. */
export type School = Static<typeof School>;

/** Kinds of people (the same names as card roles, C1). */
export const PersonKind = Type.Union([
  Type.Literal('teacher'),
  Type.Literal('student'),
  Type.Literal('parent'),
]);

/** Request body: create a person. */
export const CreatePersonBody = strictObject({
  person_id: Id,
  school_id: Id,
  kind: PersonKind,
  name: Name(),
  grade: Type.Optional(Text(32)),
  college: Type.Optional(Text(64)),
  major: Type.Optional(Text(64)),
  class_id: Type.Optional(describedId('Not for parents (a class is a group readers admit).')),
  campus: Type.Optional(Text(64)),
  dorm: Type.Optional(Text(32, 'Not for parents (a dorm is a group readers admit).')),
  room: Type.Optional(
    Text(
      32,
      'Not for parents; needs `dorm`. Readers see it as the group `room:<dorm>-<room>`: a dorm and room whose group another dorm and room of the school already spell (dorm `N` room `1-101` beside dorm `N-1` room `101`) is refused, 409 `ERR_CONFLICT`.',
    ),
  ),
  student_ids: Type.Optional(
    Type.Array(Id, {
      maxItems: 16,
      uniqueItems: true,
      description: 'For parents only: the linked students, each once.',
    }),
  ),
  class_ids: Type.Optional(
    Type.Array(Id, {
      maxItems: 64,
      uniqueItems: true,
      description: 'For teachers only: the classes they teach, each once.',
    }),
  ),
});
/** Create-person body. */
export type CreatePersonBody = Static<typeof CreatePersonBody>;

/** A person of a school. */
export const Person = strictObject({
  person_id: Id,
  school_id: Id,
  kind: PersonKind,
  name: Type.String(),
  grade: Type.Union([Type.String(), Type.Null()]),
  college: Type.Union([Type.String(), Type.Null()]),
  major: Type.Union([Type.String(), Type.Null()]),
  class_id: Type.Union([Type.String(), Type.Null()]),
  campus: Type.Union([Type.String(), Type.Null()]),
  dorm: Type.Union([Type.String(), Type.Null()]),
  room: Type.Union([Type.String(), Type.Null()]),
  student_ids: Type.Array(Id),
  class_ids: Type.Array(Id),
  created_at: Timestamp,
});
/** A person. */
export type Person = Static<typeof Person>;

/** Device types. */
export const DeviceType = Type.Union([
  Type.Literal('gate'),
  Type.Literal('pos'),
  Type.Literal('library_desk'),
  Type.Literal('lock_controller'),
  Type.Literal('checkin'),
]);
/** A device type. */
export type DeviceType = Static<typeof DeviceType>;

/** Request body: register a device with its public key. */
export const CreateDeviceBody = strictObject({
  device_id: Id,
  school_id: Id,
  type: DeviceType,
  zone: Text(64),
  public_jwk: PublicJwk,
  merchant_id: Type.Optional(
    describedId(
      'The merchant a POS takes payments for: required for a POS, refused for any other type (400 `ERR_VALIDATION`).',
    ),
  ),
  offline_tx_cap: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'fen per offline payment' }),
  ),
  offline_device_cap: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 100_000_000,
      description:
        "fen of offline payments per device per business day (00:00 to 24:00 at the platform's UTC offset, `offline_day_utc_offset`)",
    }),
  ),
});
/** Create-device body. */
export type CreateDeviceBody = Static<typeof CreateDeviceBody>;

const UTC_OFFSET_PATTERN = '^(?:[+-](?:0\\d|1[0-3]):[0-5]\\d|[+-]14:00)$';

/**
 * A fixed offset from UTC, `±HH:MM`, from `-14:00` to `+14:00` (no daylight saving): the offset of
 * the platform's business day, e.g. `+08:00` (China Standard Time). `-00:00` is not written
 * (`+00:00` is).
 */
export const UtcOffset = Type.String({
  pattern: UTC_OFFSET_PATTERN,
  description: 'A fixed UTC offset, ±HH:MM, -14:00 to +14:00, e.g. +08:00 (no daylight saving).',
});
/** {@link UtcOffset} with another description. */
const utcOffset = (description: string) => Type.String({ pattern: UTC_OFFSET_PATTERN, description });

/** A device. */
export const Device = strictObject({
  device_id: Id,
  school_id: Id,
  type: DeviceType,
  zone: Type.String(),
  public_jwk: PublicJwk,
  merchant_id: Type.Union([Id, Type.Null()]),
  offline_tx_cap: Type.Integer({ description: 'Largest single offline payment, fen.' }),
  offline_device_cap: Type.Integer({
    description:
      "Largest total of this device's accepted offline payments per business day of their `captured_at`, fen: the day from 00:00 to 24:00 at `offline_day_utc_offset`.",
  }),
  offline_day_utc_offset: utcOffset(
    "The UTC offset of the business day `offline_device_cap` counts by (the platform's, `+08:00` by default): a day runs from 00:00 to 24:00 at this offset. A POS configures its own day count with it (`dayUtcOffset` of the POS client's offline caps).",
  ),
  created_at: Timestamp,
});
/** A device. */
export type Device = Static<typeof Device>;

const MaterialHealth = strictObject({
  version: Type.Integer({ minimum: 0 }),
  signed_at: Timestamp,
  age_s: Type.Number({ description: 'Seconds since the material was signed, by the device clock.' }),
  max_age_s: Type.Number({ description: 'Seconds after signing past which the reader denies.' }),
  state: Type.Union([Type.Literal('fresh'), Type.Literal('grace'), Type.Literal('stale')]),
});

/** Request body: a device heartbeat (its health as it sees it). */
export const DeviceHeartbeatBody = strictObject({
  clock: Timestamp,
  trust_list: Type.Union([MaterialHealth, Type.Null()]),
  status_list: Type.Union([MaterialHealth, Type.Null()]),
  roster: Type.Union([MaterialHealth, Type.Null()]),
  last_sync_at: Type.Union([Timestamp, Type.Null()]),
  floor: Type.Union([Timestamp, Type.Null()]),
  clock_before_floor: Type.Boolean(),
  outbox_depth: Type.Integer({ minimum: 0, description: 'Events recorded but not yet acknowledged.' }),
  last_seq: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  software: Type.Optional(Type.String({ maxLength: 64 })),
});
/** Device-heartbeat body. */
export type DeviceHeartbeatBody = Static<typeof DeviceHeartbeatBody>;

/** The platform's answer to a heartbeat: its own clock, for a skew check. */
export const DeviceHeartbeatResult = strictObject({
  device_id: Id,
  received_at: Timestamp,
});
/** Device-heartbeat result. */
export type DeviceHeartbeatResult = Static<typeof DeviceHeartbeatResult>;

/** Merchant categories (S1, S7). */
export const MerchantCategory = Type.Union([
  Type.Literal('canteen_teacher'),
  Type.Literal('canteen_student'),
  Type.Literal('shop'),
  Type.Literal('clinic'),
  Type.Literal('bookshop'),
  Type.Literal('bank'),
]);

/** Request body: create a merchant. */
export const CreateMerchantBody = strictObject({
  merchant_id: Id,
  school_id: Id,
  name: Name(),
  category: MerchantCategory,
  public_jwk: PublicJwk,
});
/** Create-merchant body. */
export type CreateMerchantBody = Static<typeof CreateMerchantBody>;

/** A merchant. */
export const Merchant = strictObject({
  merchant_id: Id,
  school_id: Id,
  name: Type.String(),
  category: MerchantCategory,
  public_jwk: PublicJwk,
  created_at: Timestamp,
});
/** A merchant. */
export type Merchant = Static<typeof Merchant>;

const op = ['operator'] as const;
const anySigned = ['operator', 'device', 'merchant'] as const;

/** Directory routes. */
export const directoryRoutes = [
  {
    method: 'POST',
    path: '/v1/schools',
    operationId: 'createSchool',
    summary: 'Create a school',
    tag: 'directory',
    auth: op,
    body: CreateSchoolBody,
    responses: { 201: School, ...POST_ERRORS },
    capabilities: ['M2'],
  },
  {
    method: 'GET',
    path: '/v1/schools/{school_id}',
    operationId: 'getSchool',
    summary: 'Get a school',
    description: OWN_SCHOOL_ONLY,
    tag: 'directory',
    auth: anySigned,
    params: strictObject({ school_id: Id }),
    responses: { 200: School, ...SIGNED_ERRORS },
  },
  {
    method: 'POST',
    path: '/v1/people',
    operationId: 'createPerson',
    summary: 'Create a teacher, student or parent (parents are linked to students)',
    tag: 'directory',
    auth: op,
    body: CreatePersonBody,
    responses: { 201: Person, ...POST_ERRORS },
    capabilities: ['C1'],
  },
  {
    method: 'GET',
    path: '/v1/people/{person_id}',
    operationId: 'getPerson',
    summary: 'Get a person',
    description: OWN_SCHOOL_ONLY,
    tag: 'directory',
    auth: anySigned,
    params: strictObject({ person_id: Id }),
    responses: { 200: Person, ...SIGNED_ERRORS },
  },
  {
    method: 'POST',
    path: '/v1/devices',
    operationId: 'createDevice',
    summary: 'Register a device (gate, POS, library desk, lock controller) with its zone and public key',
    tag: 'directory',
    auth: op,
    body: CreateDeviceBody,
    responses: { 201: Device, ...POST_ERRORS },
  },
  {
    method: 'GET',
    path: '/v1/devices/{device_id}',
    operationId: 'getDevice',
    summary: 'Get a device',
    description: OWN_SCHOOL_ONLY,
    tag: 'directory',
    auth: anySigned,
    params: strictObject({ device_id: Id }),
    responses: { 200: Device, ...SIGNED_ERRORS },
  },
  {
    method: 'POST',
    path: '/v1/devices/{device_id}/heartbeat',
    operationId: 'deviceHeartbeat',
    summary: "Report a device's health: trust material versions and ages, outbox depth, clock",
    tag: 'directory',
    auth: ['device'],
    params: strictObject({ device_id: Id }),
    body: DeviceHeartbeatBody,
    responses: { 200: DeviceHeartbeatResult, ...POST_ERRORS },
  },
  {
    method: 'POST',
    path: '/v1/merchants',
    operationId: 'createMerchant',
    summary: 'Create a merchant (canteen, shop, clinic, bookshop, bank)',
    tag: 'directory',
    auth: op,
    body: CreateMerchantBody,
    responses: { 201: Merchant, ...POST_ERRORS },
  },
  {
    method: 'GET',
    path: '/v1/merchants/{merchant_id}',
    operationId: 'getMerchant',
    summary: 'Get a merchant',
    description: OWN_SCHOOL_ONLY,
    tag: 'directory',
    auth: anySigned,
    params: strictObject({ merchant_id: Id }),
    responses: { 200: Merchant, ...SIGNED_ERRORS },
  },
] as const satisfies readonly RouteDef[];
