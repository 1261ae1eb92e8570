/**
 * Identity domain (I1, C2): resolve a scanned code or a physical card UID online to school, role
 * and person, and decide a permission for a device and a scene.
 *
 * @module
 */
import { type Static, Type } from '@sinclair/typebox';
import { CardStatus } from './cards.js';
import {
  Id,
  PhysicalUidHex,
  POST_ERRORS,
  QrText,
  Role,
  type RouteDef,
  Scene,
  strictObject,
  Timestamp,
} from './common.js';

/** Request body: resolve a code or a physical card. Exactly one of `qr_text` and `uid_hex`. */
export const ResolveIdentityBody = strictObject({
  qr_text: Type.Optional(QrText),
  uid_hex: Type.Optional(PhysicalUidHex),
  scene: Scene,
  location: Type.Optional(Type.String({ maxLength: 128 })),
  consume: Type.Optional(
    Type.Boolean({
      default: true,
      description:
        'Record the code as used (one use, platform-wide). The device that resolved it may still pay with it once: that payment is the same use. With `false` nothing is recorded, but a code already used (read or paid with, by any device) is refused all the same: 409 `ERR_CODE_ALREADY_USED`, no identity.',
    }),
  ),
});
/** Resolve-identity body. */
export type ResolveIdentityBody = Static<typeof ResolveIdentityBody>;

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

/** The identity a code or card resolves to: the same fields at every device (C2). */
export const Identity = strictObject({
  school_id: Id,
  school_name: Type.String(),
  role: Role,
  person_id: Id,
  card_id: Id,
  card_number: Type.String({ description: 'The card number shown to people (the card id).' }),
  name: Type.String(),
  identity_type: Role,
  grade: Nullable(Type.String()),
  college: Nullable(Type.String()),
  major: Nullable(Type.String()),
  class_id: Nullable(Type.String()),
  campus: Nullable(Type.String()),
  dorm: Nullable(Type.String()),
  room: Nullable(Type.String()),
  physical_card_number: Nullable(Type.String()),
  card_status: CardStatus,
  valid_from: Timestamp,
  valid_until: Timestamp,
  student_ids: Type.Array(Id, { description: 'Parents: the linked students.' }),
  linked_card_ids: Type.Array(Id, {
    description:
      "Parents: the live card of each linked student, as the credential's linked cards (`linkedCards` of an offline decision).",
  }),
  groups: Type.Array(Type.String(), {
    description:
      "The card's groups, as its credential and the roster list them (`class:7-2`, `dorm:B3`, `room:B3-204`, `campus:Main`, `teaches:7-2`): what a reader policy's `groups` rules decide on, so a card resolved online is judged on the same data as offline (C2).",
  }),
});
/** A resolved identity. */
export type Identity = Static<typeof Identity>;

/** The answer of an identity resolution. */
export const ResolveIdentityResult = strictObject({
  source: Type.Union([Type.Literal('qr'), Type.Literal('physical_card')]),
  offline_generated: Type.Boolean({
    description: 'The code was made by the phone without the network (always, in CC1).',
  }),
  code_time: Type.Union([Timestamp, Type.Null()]),
  identity: Identity,
});
/** Resolve-identity result. */
export type ResolveIdentityResult = Static<typeof ResolveIdentityResult>;

/** Request body: check a permission of a card at the calling device for a scene. */
export const CheckPermissionBody = strictObject({
  card_id: Id,
  scene: Scene,
  zone: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'Defaults to the device zone. An empty zone names none (it would match no rule): refused.',
    }),
  ),
});
/** Check-permission body. */
export type CheckPermissionBody = Static<typeof CheckPermissionBody>;

/** A permission decision. */
export const PermissionDecision = strictObject({
  allowed: Type.Boolean(),
  reason: Type.String({
    description: 'A stable reason code, e.g. OK, CARD_NOT_ACTIVE, NOT_RESIDENT, ROLE_NOT_ALLOWED.',
  }),
  card_id: Id,
  zone: Type.String(),
  scene: Scene,
});
/** A permission decision. */
export type PermissionDecision = Static<typeof PermissionDecision>;

/** Identity routes. */
export const identityRoutes = [
  {
    method: 'POST',
    path: '/v1/identity/resolve',
    operationId: 'resolveIdentity',
    summary: 'Resolve a scanned code or a physical card UID online to school, role and person',
    description:
      "The code, of either mode (full, or compact: its card and phone key as the platform has them now; token format §5), is verified (signatures, time window, status list) and, unless `consume` is false, recorded as used platform-wide (the same device may then pay with it once, as the same use). Only the caller's school's cards resolve: a code or UID of another school's card is a 422, as an unknown one is.",
    tag: 'identity',
    auth: ['device', 'merchant'],
    body: ResolveIdentityBody,
    responses: { 200: ResolveIdentityResult, ...POST_ERRORS },
    capabilities: ['I1', 'C2', 'C3'],
  },
  {
    method: 'POST',
    path: '/v1/identity/permissions/check',
    operationId: 'checkPermission',
    summary: 'Decide whether a card may do a scene at the calling device',
    tag: 'identity',
    auth: ['device'],
    body: CheckPermissionBody,
    responses: { 200: PermissionDecision, ...POST_ERRORS },
    capabilities: ['I1', 'C4'],
  },
] as const satisfies readonly RouteDef[];
