/**
 * Cards domain: phone keys, credential issuance and renewal (C1), lost / unlinked cards through
 * the status list, physical-card linking (C5, G1), and the signed trust material readers sync.
 *
 * @module
 */
import { type Static, Type } from '@sinclair/typebox';
import {
  BinaryBody,
  Id,
  OWN_SCHOOL_ONLY,
  PhysicalUidHex,
  POST_ERRORS,
  PublicJwk,
  Role,
  type RouteDef,
  SIGNED_ERRORS,
  strictObject,
  Timestamp,
} from './common.js';

/** Card states: active, suspended (reported lost, may be restored), revoked (unlinked). */
export const CardStatus = Type.Union([
  Type.Literal('active'),
  Type.Literal('suspended'),
  Type.Literal('revoked'),
]);
/** A card state. */
export type CardStatus = Static<typeof CardStatus>;

/** Request body: issue a card with the holder's phone key (C1: one school, one role, one card). */
export const IssueCardBody = strictObject({
  person_id: Id,
  role: Role,
  holder_jwk: PublicJwk,
  validity_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 400, default: 30 })),
});
/** Issue-card body. */
export type IssueCardBody = Static<typeof IssueCardBody>;

/** Request body: renew a card, optionally with a new phone key. */
export const RenewCardBody = strictObject({
  holder_jwk: Type.Optional(PublicJwk),
  validity_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 400 })),
});
/** Renew-card body. */
export type RenewCardBody = Static<typeof RenewCardBody>;

/** Request body: link a physical card as the secondary card of the same account (C5, G1). */
export const LinkPhysicalCardBody = strictObject({
  uid_hex: PhysicalUidHex,
  card_number: Type.String({ minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9-]+$' }),
});
/** Link-physical-card body. */
export type LinkPhysicalCardBody = Static<typeof LinkPhysicalCardBody>;

/** Request body: report lost, restore or unlink. */
export const CardActionBody = strictObject({ reason: Type.Optional(Type.String({ maxLength: 256 })) });
/** Card-action body. */
export type CardActionBody = Static<typeof CardActionBody>;

/** A card. */
export const Card = strictObject({
  card_id: Id,
  school_id: Id,
  person_id: Id,
  role: Role,
  status: CardStatus,
  status_index: Type.Integer({ minimum: 0 }),
  holder_kid: Type.String({ description: 'Key id of the phone key, base64url (8 bytes).' }),
  physical_card_number: Type.Union([Type.String(), Type.Null()]),
  issued_at: Timestamp,
  expires_at: Timestamp,
  credential: Type.String({ description: 'The signed credential (COSE_Sign1) as base64url.' }),
});
/** A card. */
export type Card = Static<typeof Card>;

const schoolParams = strictObject({ school_id: Id });
const cardParams = strictObject({ card_id: Id });
const anySigned = ['operator', 'device', 'merchant'] as const;

/**
 * A card must expire by 9999-12-31T23:59:59Z, the last time a `Timestamp` can write (the virtual
 * clock of the mock platform can be set near it).
 */
const LATEST_EXPIRY =
  'A card that would expire after 9999-12-31T23:59:59Z (the last time a timestamp can write) is a 422 `ERR_VALIDATION` naming `body/validity_days`, and nothing is written.';

/** Card routes. */
export const cardRoutes = [
  {
    method: 'POST',
    path: '/v1/cards',
    operationId: 'issueCard',
    summary: "Issue a card bound to the holder's phone key (one school, one role, one card per person)",
    description: LATEST_EXPIRY,
    tag: 'cards',
    auth: ['operator'],
    body: IssueCardBody,
    responses: { 201: Card, ...POST_ERRORS },
    capabilities: ['C1', 'C3'],
  },
  {
    method: 'GET',
    path: '/v1/cards/{card_id}',
    operationId: 'getCard',
    summary: 'Get a card',
    description: OWN_SCHOOL_ONLY,
    tag: 'cards',
    auth: anySigned,
    params: cardParams,
    responses: { 200: Card, ...SIGNED_ERRORS },
  },
  {
    method: 'POST',
    path: '/v1/cards/{card_id}/renew',
    operationId: 'renewCard',
    summary: 'Renew the credential, optionally registering a new phone key; the card id stays',
    description: `The card gets a new status index, and its previous one is published revoked, when the renewal registers a new phone key or ends the card sooner than its current credential does (a reader judges a full code by the validity inside its credential): the previous credential then stops passing at readers as online. A renewal that ends the card as late or later keeps the index. Without \`validity_days\`, the card keeps its number of days. ${LATEST_EXPIRY}`,
    tag: 'cards',
    auth: ['operator'],
    params: cardParams,
    body: RenewCardBody,
    responses: { 200: Card, ...POST_ERRORS },
  },
  {
    method: 'POST',
    path: '/v1/cards/{card_id}/report-lost',
    operationId: 'reportCardLost',
    summary: 'Report the card lost: status "suspended" in the status list, refused everywhere',
    tag: 'cards',
    auth: ['operator'],
    params: cardParams,
    body: CardActionBody,
    responses: { 200: Card, ...POST_ERRORS },
    capabilities: ['C5'],
  },
  {
    method: 'POST',
    path: '/v1/cards/{card_id}/restore',
    operationId: 'restoreCard',
    summary: 'Restore a card reported lost',
    tag: 'cards',
    auth: ['operator'],
    params: cardParams,
    body: CardActionBody,
    responses: { 200: Card, ...POST_ERRORS },
  },
  {
    method: 'POST',
    path: '/v1/cards/{card_id}/unlink',
    operationId: 'unlinkCard',
    summary: 'Unlink (revoke) the card for good',
    tag: 'cards',
    auth: ['operator'],
    params: cardParams,
    body: CardActionBody,
    responses: { 200: Card, ...POST_ERRORS },
  },
  {
    method: 'POST',
    path: '/v1/cards/{card_id}/physical-card',
    operationId: 'linkPhysicalCard',
    summary: 'Link a physical card as the secondary card of the same account (same wallet, same records)',
    description:
      'The credential is signed again naming `card_number`, with the same phone key, status index and validity; a new UID gives the roster a new version, a new number alone does not (the roster carries UID hashes). Linking the physical card the card already has, under the same number, changes nothing: 200 with the card as it is. A UID linked to another card is a 409 `ERR_CONFLICT`.',
    tag: 'cards',
    auth: ['operator'],
    params: cardParams,
    body: LinkPhysicalCardBody,
    responses: { 200: Card, ...POST_ERRORS },
    capabilities: ['C5', 'G1'],
  },
  {
    method: 'GET',
    path: '/v1/schools/{school_id}/trust-list',
    operationId: 'getTrustList',
    summary: 'The signed trust list (token format §3), with ETag',
    description: OWN_SCHOOL_ONLY,
    tag: 'cards',
    auth: anySigned,
    params: schoolParams,
    responses: { 200: BinaryBody, 304: Type.Null(), ...SIGNED_ERRORS },
    etag: true,
  },
  {
    method: 'GET',
    path: '/v1/schools/{school_id}/status-list',
    operationId: 'getStatusList',
    summary: 'The signed status list (token format §6.1), with ETag',
    description: OWN_SCHOOL_ONLY,
    tag: 'cards',
    auth: anySigned,
    params: schoolParams,
    responses: { 200: BinaryBody, 304: Type.Null(), ...SIGNED_ERRORS },
    etag: true,
  },
  {
    method: 'GET',
    path: '/v1/schools/{school_id}/roster',
    operationId: 'getRoster',
    summary: 'The signed reader roster (token format §6.2), with ETag',
    description: OWN_SCHOOL_ONLY,
    tag: 'cards',
    auth: anySigned,
    params: schoolParams,
    responses: { 200: BinaryBody, 304: Type.Null(), ...SIGNED_ERRORS },
    etag: true,
  },
  {
    method: 'GET',
    path: '/v1/schools/{school_id}/root-key',
    operationId: 'getRootKey',
    summary: "The school's root public key (configure it in readers out of band; served here for the mock)",
    description: OWN_SCHOOL_ONLY,
    tag: 'cards',
    auth: anySigned,
    params: schoolParams,
    responses: { 200: strictObject({ school_id: Id, jwk: PublicJwk }), ...SIGNED_ERRORS },
  },
] as const satisfies readonly RouteDef[];
