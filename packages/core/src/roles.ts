/**
 * Card roles (C1) and scene hints (spec §4.1, §5).
 *
 * @module
 */

/** The three card kinds: one school, one role, one card (C1). */
export type Role = 'teacher' | 'student' | 'parent';

/** All roles, in code order. */
export const ROLES: readonly Role[] = ['teacher', 'student', 'parent'];

/** CBOR code of each role (spec §4.1). */
export const ROLE_CODE: Readonly<Record<Role, number>> = { teacher: 1, student: 2, parent: 3 };

/** The role of a CBOR code, or `undefined`. */
export function roleFromCode(code: unknown): Role | undefined {
  return code === 1 ? 'teacher' : code === 2 ? 'student' : code === 3 ? 'parent' : undefined;
}

/** Scene hints a presentation may carry (spec §5). */
export const SCENES = { other: 0, access: 1, payment: 2, checkIn: 3, library: 4, dorm: 5 } as const;

/** A scene name. */
export type Scene = keyof typeof SCENES;

/** Key uses in a trust list entry (spec §3): a bit set. */
export const KEY_USE = { credentials: 1, statusLists: 2, rosters: 4 } as const;
