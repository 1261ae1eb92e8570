/**
 * Identity domain (I1, C2): online resolution of codes and card UIDs, and permission checks.
 *
 * @module
 */
import type { Identity, PermissionDecision } from '@campus-card/core/api';
import type { Handlers, PlatformState } from '../context.js';
import { requirePrincipal } from '../context.js';
import { iso } from '../lib/clock.js';
import { ApiError, notFound } from '../lib/problem.js';
import {
  consumeCode,
  getCardRow,
  linkedCardIds,
  type Resolution,
  type ResolvedCard,
  resolveCredentialInput,
} from './cards.js';
import { getPersonRow, personGroups } from './directory.js';

/** The identity of a card: the same fields at every device (C2). */
export function identityOf(state: PlatformState, card: ResolvedCard): Identity {
  const p = getPersonRow(state, card.person_id);
  if (p === undefined) throw notFound(`person ${card.person_id}`);
  const school = state.db.prepare('SELECT name FROM schools WHERE school_id = ?').get(card.school_id) as {
    name: string;
  };
  return {
    school_id: card.school_id,
    school_name: school.name,
    role: card.role,
    person_id: p.person_id,
    card_id: card.card_id,
    card_number: card.card_id,
    name: p.name,
    identity_type: card.role,
    grade: p.grade,
    college: p.college,
    major: p.major,
    class_id: p.class_id,
    campus: p.campus,
    dorm: p.dorm,
    room: p.room,
    physical_card_number: card.physical_card_number,
    card_status: card.status,
    valid_from: iso(card.issued_at),
    valid_until: iso(card.expires_at),
    student_ids: JSON.parse(p.student_ids) as string[],
    linked_card_ids: linkedCardIds(state, p),
    groups: personGroups(p),
  };
}

/** The building a `dorm:` zone is in: the longest building of the school whose name it starts with. */
function buildingOf(state: PlatformState, schoolId: string, zone: string): string | undefined {
  const rows = state.db
    .prepare('SELECT DISTINCT dorm FROM people WHERE school_id = ? AND dorm IS NOT NULL')
    .all(schoolId) as { dorm: string }[];
  let best: string | undefined;
  for (const { dorm } of rows) {
    if (zone !== `dorm:${dorm}` && !zone.startsWith(`dorm:${dorm}-`)) continue;
    if (best === undefined || dorm.length > best.length) best = dorm;
  }
  return best;
}

/** Decides a permission at a zone for a scene (C4 policies, simplified). */
export function decide(
  state: PlatformState,
  card: ResolvedCard,
  zone: string,
  scene: PermissionDecision['scene'],
): PermissionDecision {
  const base = { card_id: card.card_id, zone, scene };
  if (card.status !== 'active' || card.expires_at <= state.clock.now())
    return { ...base, allowed: false, reason: 'CARD_NOT_ACTIVE' };
  const p = getPersonRow(state, card.person_id);
  if (zone.startsWith('dorm:')) {
    // `dorm:<building>` or a door inside it, `dorm:<building>-<room or wing>`; the building's own
    // name may hold a hyphen (`dorm:N-1`), as its `dorm:` group does at an offline reader. So the
    // zone's building is the longest building of the school that names it: with buildings `N` and
    // `N-1`, `dorm:N-1-101` is in `N-1`, and a resident of `N` is not admitted there.
    const dorm = p?.dorm ?? null;
    if (dorm === null || buildingOf(state, card.school_id, zone) !== dorm)
      return { ...base, allowed: false, reason: 'NOT_RESIDENT' };
  }
  if (zone === 'canteen:teacher' && card.role !== 'teacher')
    return { ...base, allowed: false, reason: 'ROLE_NOT_ALLOWED' };
  if (zone === 'canteen:student' && card.role === 'parent')
    return { ...base, allowed: false, reason: 'ROLE_NOT_ALLOWED' };
  if (zone.startsWith('lab:') && card.role !== 'teacher')
    return { ...base, allowed: false, reason: 'NEEDS_AUTHORISATION' };
  return { ...base, allowed: true, reason: 'OK' };
}

/**
 * Throws 409 `ERR_CODE_ALREADY_USED` when the code of `r` is in the one-use registry: a code is
 * dead once read (C3), so a resolve that does not consume it (`consume: false`) still does not
 * resolve a code read or paid with before, by any device, not even the one that read it (its own
 * second read is refused too). A physical card tap has no code and is not affected.
 */
function refuseUsedCode(state: PlatformState, r: Resolution): void {
  if (r.replayKey === undefined) return;
  const first = state.db
    .prepare('SELECT principal_id FROM used_codes WHERE replay_key = ?')
    .get(r.replayKey) as { principal_id: string } | undefined;
  if (first !== undefined)
    throw new ApiError(409, 'ERR_CODE_ALREADY_USED', `this code was already used (by ${first.principal_id})`);
}

/** Identity handlers. */
export const identityHandlers: Handlers = {
  resolveIdentity: async (ctx) => {
    const principal = requirePrincipal(ctx);
    const r = await resolveCredentialInput(ctx.state, principal, ctx.body);
    return ctx.commit(() => {
      if (ctx.body.consume !== false) consumeCode(ctx.state, r, principal.id, 'resolve');
      else refuseUsedCode(ctx.state, r);
      return {
        status: 200,
        body: {
          source: r.source,
          offline_generated: r.source === 'qr',
          code_time: r.codeTime === undefined ? null : iso(r.codeTime * 1000),
          identity: identityOf(ctx.state, r.card),
        },
      };
    });
  },

  checkPermission: (ctx) =>
    ctx.commit(() => {
      const principal = requirePrincipal(ctx);
      const card = getCardRow(ctx.state, ctx.body.card_id);
      if (card === undefined || card.school_id !== principal.schoolId)
        throw notFound(`card ${ctx.body.card_id}`);
      const zone = ctx.body.zone ?? principal.zone;
      if (zone === null) throw new ApiError(400, 'ERR_VALIDATION', 'zone is required for this device');
      return { status: 200, body: decide(ctx.state, card, zone, ctx.body.scene) };
    }),
};
