/**
 * Incidents domain: what the platform detected and reports to the operator, such as one code used
 * on two devices (C3) or an offline payment refused after the POS let it through.
 *
 * @module
 */
import { type Static, Type } from '@sinclair/typebox';
import {
  Id,
  Page,
  PageQuery,
  type RouteDef,
  SIGNED_ERRORS,
  strictObject,
  TimeRangeQuery,
  Timestamp,
} from './common.js';

/** Kinds of incident. */
export const IncidentKind = Type.Union([
  Type.Literal('code_used_twice', {
    description:
      'A scanned code came back from a second device after one had used it (offline payment or attendance upload).',
  }),
  Type.Literal('offline_cap_exceeded', {
    description:
      'An offline payment the POS accepted was refused at upload for a per-payment or per-device daily cap.',
  }),
  Type.Literal('out_trade_no_conflict', {
    description:
      "An offline payment the POS accepted was refused at upload because its out_trade_no already names another order of the merchant, or another sale under the item's very seq (a POS numbering again: reported once however often it is sent), or this sale's own online attempt, which took no money (failed, closed or reversed).",
  }),
  Type.Literal('offline_payment_refused', {
    description:
      'An offline payment the POS accepted was refused at upload for its code or card (`code` says why): a code that does not verify as of its capture time, an unknown card, or a card not active (reported lost, revoked, expired) at its capture time.',
  }),
]);
/** An incident kind. */
export type IncidentKind = Static<typeof IncidentKind>;

/** One incident. */
export const Incident = strictObject({
  incident_id: Type.String({
    description: 'Increasing: a later incident has a larger id (as a decimal string).',
  }),
  kind: IncidentKind,
  created_at: Timestamp,
  card_id: Type.Union([Id, Type.Null()]),
  device_id: Type.Union([Id, Type.Null()], { description: 'The device whose upload raised it.' }),
  first_device_id: Type.Union([Id, Type.Null()], {
    description: 'code_used_twice: the device that used the code first.',
  }),
  seq: Type.Union([Type.Integer(), Type.Null()], { description: "The item's or event's per-device seq." }),
  amount: Type.Union([Type.Integer(), Type.Null()], {
    description: 'offline_cap_exceeded, out_trade_no_conflict, offline_payment_refused: the amount, fen.',
  }),
  code: Type.Union([Type.String(), Type.Null()], {
    description:
      'offline_payment_refused: why, as the item result says (`ERR_CARD_NOT_ACTIVE`, `ERR_UNKNOWN_CARD`, `ERR_CODE_INVALID`, `ERR_CAPTURED_AT`, a token-format code such as `ERR_SIGNATURE_INVALID`).',
  }),
  source: Type.Union([Type.Literal('offline_payment'), Type.Literal('attendance')]),
});
/** An incident. */
export type Incident = Static<typeof Incident>;

/** Query: incidents by kind, card, device and time. */
export const ListIncidentsQuery = strictObject({
  kind: Type.Optional(IncidentKind),
  card_id: Type.Optional(Id),
  device_id: Type.Optional(Id),
  ...TimeRangeQuery,
  ...PageQuery,
});
/** List-incidents query. */
export type ListIncidentsQuery = Static<typeof ListIncidentsQuery>;

/** Incident routes. */
export const incidentRoutes = [
  {
    method: 'GET',
    path: '/v1/incidents',
    operationId: 'listIncidents',
    summary:
      'List detected incidents: codes used twice, offline payments refused for a cap, an out_trade_no already used, their code or their card',
    description:
      'Oldest first. `device_id` matches the uploading device or the first user of the code; `from` is inclusive, `to` exclusive.',
    tag: 'incidents',
    auth: ['operator'],
    query: ListIncidentsQuery,
    responses: {
      200: Page(Incident),
      ...SIGNED_ERRORS,
    },
    capabilities: ['C3', 'I2', 'I3'],
  },
] as const satisfies readonly RouteDef[];
