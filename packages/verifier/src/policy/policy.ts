/**
 * Reader policies: plain, JSON-serialisable data that a reader evaluates offline.
 *
 * @module
 */

/** A card holder's role (token format §4.1: 1 teacher, 2 student, 3 parent). */
export type { Role } from '@campus-card/core';

import type { Role } from '@campus-card/core';

/** The direction a reader faces: `'in'` admits into a zone, `'out'` lets out of it. */
export type Direction = 'in' | 'out';

/** Only these roles pass. Example: a teachers' canteen allows `['teacher']`. */
export interface RolesRule {
  kind: 'roles';
  /** Rule id, named by a denial. */
  id: string;
  /** Allowed roles; not empty. */
  allow: Role[];
}

/** Only cards of these schools pass (campus members vs cards of another school). */
export interface SchoolsRule {
  kind: 'schools';
  /** Rule id, named by a denial. */
  id: string;
  /** Allowed school ids (the credential's `iss`); not empty. */
  allow: string[];
}

/**
 * Group memberships (`'dorm:B3'`, `'room:B3-204'`, `'lab:chem-1'`, `'class:7-2'`): the subject must
 * hold at least one of `anyOf` and every one of `allOf`. At least one of the two lists is given.
 */
export interface GroupsRule {
  kind: 'groups';
  /** Rule id, named by a denial. */
  id: string;
  /** At least one of these must match. */
  anyOf?: string[];
  /** All of these must match. */
  allOf?: string[];
  /**
   * When `true`, a pattern matches every group that starts with it (`'room:B3-'` matches
   * `'room:B3-204'`); end patterns with a separator, as `'dorm:B3'` would also match `'dorm:B30'`.
   * Default `false`: exact match.
   */
  prefix?: boolean;
}

/** A weekly time window in the reader's local time. */
export interface TimeWindow {
  /** Days the window **starts** on: 0 = Sunday … 6 = Saturday; not empty. */
  days: number[];
  /** Start, `'HH:MM'` (00:00–23:59), inclusive. */
  start: string;
  /**
   * End, `'HH:MM'` (00:00–24:00), exclusive. An end earlier than the start crosses midnight: the window
   * runs from `start` on a listed day to `end` on the next day. `end` may not equal `start`.
   */
  end: string;
}

/** The scan time (`ctx.now`) must fall in one of the windows (lesson time, opening hours). */
export interface TimeWindowsRule {
  kind: 'timeWindows';
  /** Rule id, named by a denial. */
  id: string;
  /** Local time = UTC + this many minutes (e.g. 480 for UTC+8); integer in [−840, 840]. No DST rules. */
  utcOffsetMinutes: number;
  /** The windows; not empty. */
  windows: TimeWindow[];
}

/**
 * Anti-passback for a zone (library, dorm): a card cannot enter twice without leaving, nor re-enter
 * within `minReentrySeconds` after leaving. Needs `ctx.direction` and `ctx.passback`.
 */
export interface AntiPassbackRule {
  kind: 'antiPassback';
  /** Rule id, named by a denial. */
  id: string;
  /** Zone name; readers of the same zone share one passback state. */
  zone: string;
  /** Seconds after an exit before the same card may enter again; ≥ 0. */
  minReentrySeconds: number;
  /** When `true`, leaving a zone the card is not inside is denied. Default `false`: allowed. */
  strictExit?: boolean;
}

/**
 * The QR's scene hint (0 other, 1 access, 2 payment, 3 check-in, 4 library, 5 dorm) must be one of
 * `require` (spec §5: a reader that requires a scene denies a code whose scene differs). A QR code
 * that carries no scene is denied too, unless `allowMissing`: a code shown for no stated purpose
 * must not pay at a POS that asks for payment codes. A physical card tap has no scene and passes.
 */
export interface SceneRule {
  kind: 'scene';
  /** Rule id, named by a denial. */
  id: string;
  /** Accepted scene numbers; not empty. */
  require: number[];
  /** When `true`, a QR code without a scene passes (phone apps that set none). Default `false`: denied. */
  allowMissing?: boolean;
}

/** One rule of a {@link ReaderPolicy}. */
export type PolicyRule =
  | RolesRule
  | SchoolsRule
  | GroupsRule
  | TimeWindowsRule
  | AntiPassbackRule
  | SceneRule;

/** The kind names of {@link PolicyRule}. */
export type PolicyRuleKind = PolicyRule['kind'];

/**
 * A reader's policy: every rule must pass, checked in order; the first failure is the denial.
 * Load untrusted JSON with `validatePolicy`.
 */
export interface ReaderPolicy {
  /** Policy id (for logs). */
  id: string;
  /** The rules, evaluated in order. Rule ids are unique within a policy. */
  rules: PolicyRule[];
}

/** Who is scanning: from the verified credential (or roster entry). */
export interface PolicySubject {
  /** School id (the credential's `iss`). */
  school: string;
  /** Role. */
  role: Role;
  /** Card id (the credential's `sub`), unique within the school. */
  cardId: string;
  /** Group memberships, e.g. `'dorm:B3'`. */
  groups: readonly string[];
  /** The QR's scene hint; absent for physical cards and codes without one. */
  scene?: number | undefined;
  /**
   * How the card was presented: `full` or `compact` QR code, or a `physical` card tap. A tap has
   * no scene and passes `scene` rules; any other subject without a scene (this field absent
   * included) is a code without one.
   */
  mode?: 'full' | 'compact' | 'physical' | undefined;
}
