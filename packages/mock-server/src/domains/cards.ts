/**
 * Cards domain: issuance (C1), renewal, lost/restore/unlink via the status list, physical-card
 * linking (C5, G1), the signed trust list, status list and roster (with ETags), and the
 * platform-wide resolution of scanned codes and card UIDs.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import {
  CARD_STATUS,
  CampusCardError,
  type CredentialCache,
  computeUidHash,
  decodeCredential,
  decodeStatusList,
  decodeTrustList,
  exportJwk,
  generateKeyPair,
  type IssueCredentialInput,
  importPrivateJwk,
  importPublicJwk,
  issueCredential,
  KEY_USE,
  type PrivateKey,
  type PublicKey,
  type RosterCard,
  type RosterIndex,
  type Signer,
  type StatusList,
  signRoster,
  signStatusList,
  signTrustList,
  type TrustList,
  toBase64Url,
  toHex,
  type VerifiedCredential,
  type VerifiedPresentation,
  verifyPresentation,
} from '@campus-card/core';
import type { Card, PublicJwk } from '@campus-card/core/api';
import {
  type HandlerContext,
  type HandlerResult,
  type Handlers,
  type PlatformState,
  type Principal,
  requirePrincipal,
} from '../context.js';
import { CLOCK_MAX_MS, iso } from '../lib/clock.js';
import type { Batch } from '../lib/group-commit.js';
import { createNodeSignatureBackend } from '../lib/node-verify.js';
import { ApiError, notFound, rolledBack } from '../lib/problem.js';
import { getPersonRow, personGroups, requireOwnSchool } from './directory.js';
import { enqueueEvent } from './webhooks.js';

const DAY = 86_400;
const hexBytes = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'));
type TrustKind = 'trust-list' | 'status-list' | 'roster';

/** A card row. */
export interface CardRow {
  card_id: string;
  school_id: string;
  person_id: string;
  role: Card['role'];
  status: Card['status'];
  status_index: number;
  holder_jwk: string;
  holder_kid: string;
  physical_uid_hash: string | null;
  physical_card_number: string | null;
  issued_at: number;
  expires_at: number;
  credential: Buffer;
  updated_at: number;
}

/** The card columns a scan resolves to: no key material and no credential bytes. */
export type ResolvedCard = Pick<
  CardRow,
  | 'card_id'
  | 'school_id'
  | 'person_id'
  | 'role'
  | 'status'
  | 'holder_kid'
  | 'physical_card_number'
  | 'issued_at'
  | 'expires_at'
>;
const RESOLVED_CARD_COLUMNS =
  'card_id, school_id, person_id, role, status, holder_kid, physical_card_number, issued_at, expires_at';

/** API shape of a card. */
export function cardOut(r: CardRow): Card {
  return {
    card_id: r.card_id,
    school_id: r.school_id,
    person_id: r.person_id,
    role: r.role,
    status: r.status,
    status_index: r.status_index,
    holder_kid: r.holder_kid,
    physical_card_number: r.physical_card_number,
    issued_at: iso(r.issued_at),
    expires_at: iso(r.expires_at),
    credential: toBase64Url(new Uint8Array(r.credential)),
  };
}

/** Reads a card. */
export function getCardRow(state: PlatformState, cardId: string): CardRow | undefined {
  return state.db.prepare('SELECT * FROM cards WHERE card_id = ?').get(cardId) as CardRow | undefined;
}

/** A school's root and issuer keys. */
export interface SchoolKeys {
  root: PrivateKey;
  issuer: PrivateKey;
}
const keyCache = new WeakMap<PlatformState, Map<string, SchoolKeys>>();

/**
 * The root and issuer keys of a school: the stored ones, or, for a school that has none yet, new
 * ones (ES256: `initial`, else random), stored with its trust-material rows.
 */
export function ensureSchoolKeys(
  state: PlatformState,
  schoolId: string,
  initial?: () => SchoolKeys,
): SchoolKeys {
  let cache = keyCache.get(state);
  if (cache === undefined) {
    cache = new Map();
    keyCache.set(state, cache);
  }
  const hit = cache.get(schoolId);
  if (hit !== undefined) return hit;
  const row = state.db
    .prepare('SELECT root_jwk, issuer_jwk FROM school_keys WHERE school_id = ?')
    .get(schoolId) as { root_jwk: string; issuer_jwk: string } | undefined;
  let keys: SchoolKeys;
  if (row === undefined) {
    keys = initial?.() ?? {
      root: generateKeyPair('ES256').privateKey,
      issuer: generateKeyPair('ES256').privateKey,
    };
    state.tx(() => {
      state.db
        .prepare('INSERT INTO school_keys (school_id, root_jwk, issuer_jwk) VALUES (?, ?, ?)')
        .run(
          schoolId,
          JSON.stringify(exportJwk(keys.root, { includePrivate: true })),
          JSON.stringify(exportJwk(keys.issuer, { includePrivate: true })),
        );
      const ins = state.db.prepare(
        'INSERT INTO trust_material (school_id, kind, version, dirty) VALUES (?, ?, 1, 1)',
      );
      for (const k of ['trust-list', 'status-list', 'roster']) ins.run(schoolId, k);
    });
  } else {
    keys = {
      root: importPrivateJwk(JSON.parse(row.root_jwk)),
      issuer: importPrivateJwk(JSON.parse(row.issuer_jwk)),
    };
  }
  cache.set(schoolId, keys);
  return keys;
}

/** The documents a card change can make out of date. */
export type CardMaterial = 'status-list' | 'roster';

/**
 * Marks documents of a school as changed: each gets a new version, signed at its next fetch. Pass
 * only what the change touches, so readers do not download an unchanged document again:
 * - `status-list`: a card's status (report lost, restore, unlink) or a new status index (issue);
 * - `roster`: what the roster lists of a card that is not revoked: its keys and expiry (renew), its
 *   physical card's UID hash (link), its presence (issue, unlink).
 */
export function touchTrustMaterial(
  state: PlatformState,
  schoolId: string,
  kinds: readonly CardMaterial[],
): void {
  const bump = state.db.prepare(
    'UPDATE trust_material SET version = version + 1, dirty = 1 WHERE school_id = ? AND kind = ?',
  );
  for (const kind of kinds) {
    if (kind === 'status-list') forgetStatusList(state, schoolId);
    bump.run(schoolId, kind);
  }
}

/**
 * The validity of the issuer keys the platform makes, in their trust-list entries: from 1970-01-01
 * (the earliest time a token carries) to 9999-12-31T23:59:59Z (the latest the virtual clock can be
 * set to). Credentials, status lists and rosters are signed at the virtual clock's time, which
 * `/admin/clock` moves anywhere: a window tied to it (the school's creation, say) would refuse
 * everything signed once the clock is set back before it. A rotation retires a key by leaving it
 * out of the next trust list, not by its `exp`.
 */
const ISSUER_KEY_NBF = 0;
const ISSUER_KEY_EXP = Date.UTC(9999, 11, 31, 23, 59, 59) / 1000;

/**
 * Whether a stored trust list gives its keys the window of {@link ISSUER_KEY_NBF}: one signed by an
 * earlier version (from the school's creation less a day, for ten years) is signed again. Kept by
 * ETag, so a list is decoded once.
 */
function trustListWindowCurrent(
  state: PlatformState,
  schoolId: string,
  etag: string,
  bytes: Uint8Array,
): boolean {
  const key = `${schoolId}\n${etag}`;
  let checked = windowChecked.get(state);
  if (checked === undefined) {
    checked = new Set();
    windowChecked.set(state, checked);
  }
  if (checked.has(key)) return true;
  const ok = decodeTrustList(bytes).trustList.keys.every(
    (k) => k.nbf === ISSUER_KEY_NBF && k.exp === ISSUER_KEY_EXP,
  );
  if (ok) checked.add(key);
  return ok;
}
const windowChecked = new WeakMap<PlatformState, Set<string>>();

async function sign(
  kind: TrustKind,
  state: PlatformState,
  schoolId: string,
  version: number,
  now: number,
): Promise<Uint8Array> {
  const keys = ensureSchoolKeys(state, schoolId);
  if (kind === 'trust-list') {
    return signTrustList(
      {
        version,
        iat: now,
        authority: schoolId,
        keys: [
          {
            key: keys.issuer.publicKey,
            roles: ['teacher', 'student', 'parent'],
            nbf: ISSUER_KEY_NBF,
            exp: ISSUER_KEY_EXP,
            schools: [schoolId],
            uses: KEY_USE.credentials | KEY_USE.statusLists | KEY_USE.rosters,
          },
        ],
      },
      keys.root,
    );
  }
  const cards = state.db
    .prepare('SELECT * FROM cards WHERE school_id = ? ORDER BY status_index')
    .all(schoolId) as CardRow[];
  if (kind === 'status-list') {
    const next = (
      state.db.prepare('SELECT next_status_index FROM school_keys WHERE school_id = ?').get(schoolId) as {
        next_status_index: number;
      }
    ).next_status_index;
    const statuses = new Array<number>(Math.max(next, 8)).fill(CARD_STATUS.revoked);
    for (const c of cards) {
      statuses[c.status_index] =
        c.status === 'active'
          ? CARD_STATUS.valid
          : c.status === 'suspended'
            ? CARD_STATUS.suspended
            : CARD_STATUS.revoked;
    }
    return signStatusList({ school: schoolId, version, iat: now, bits: 2, statuses }, keys.issuer);
  }
  return signRoster(
    {
      school: schoolId,
      version,
      iat: now,
      cards: cards.filter((c) => c.status !== 'revoked').map((c) => rosterCardOf(state, c)),
    },
    keys.issuer,
  );
}

/** A signed document of a school, as served. */
export interface TrustDocument {
  readonly bytes: Uint8Array;
  readonly etag: string;
  readonly version: number;
}

/**
 * Signings in flight, by platform and `school\nkind`: every reader of one version waits for the
 * same signing. Two signings of one version would give two byte strings (each signs its own
 * `iat`), and a reader that holds one refuses the other as a rollback.
 */
const signings = new WeakMap<
  PlatformState,
  Map<string, { version: number; doc: Promise<TrustDocument | undefined> }>
>();

/** Signs `version` once (joining a signing of it in flight); undefined when it was not stored. */
function signVersion(
  state: PlatformState,
  schoolId: string,
  kind: TrustKind,
  version: number,
): Promise<TrustDocument | undefined> {
  let flights = signings.get(state);
  if (flights === undefined) {
    flights = new Map();
    signings.set(state, flights);
  }
  const key = `${schoolId}\n${kind}`;
  const running = flights.get(key);
  if (running !== undefined && running.version === version) return running.doc;
  const doc = (async (): Promise<TrustDocument | undefined> => {
    const iat = state.clock.nowSeconds();
    const bytes = await sign(kind, state, schoolId, version, iat);
    // A failed batch dropped the flights meanwhile (forgetTrustCaches): the rows signed may have been
    // rolled back, and this version number given to other content since. Not stored: signed again.
    if (signings.get(state) !== flights) return undefined;
    const etag = `"${kind}-v${version}-${createHash('sha256').update(bytes).digest('hex').slice(0, 12)}"`;
    // Only the version still waiting for its bytes: never over bytes already served.
    const stored = state.db
      .prepare(
        'UPDATE trust_material SET dirty = 0, etag = ?, bytes = ?, iat = ? WHERE school_id = ? AND kind = ? AND version = ? AND dirty = 1',
      )
      .run(etag, Buffer.from(bytes), iat, schoolId, kind, version);
    return stored.changes === 1 ? { bytes, etag, version } : undefined;
  })();
  const entry = { version, doc };
  flights.set(key, entry);
  const done = () => {
    if (flights.get(key) === entry) flights.delete(key);
  };
  doc.then(done, done);
  return doc;
}

/** The setting that says when each kind is signed again although unchanged. */
const RESIGN_AFTER = {
  'trust-list': 'trustListResignAfterS',
  'status-list': 'statusListResignAfterS',
  roster: 'rosterResignAfterS',
} as const satisfies Record<TrustKind, keyof PlatformState['settings']>;

/**
 * Returns the current signed document of a kind, signing it when it changed, or when it was signed
 * longer ago than its re-sign age (`statusListResignAfterS`, …): readers deny everything once
 * their copy is older than their limit, even if nothing in it changed. One version is always one
 * byte string: a re-signing is a new version (a reader refuses other bytes under a version it
 * holds, as a rollback), concurrent readers share one signing, and stored bytes are never
 * replaced.
 */
export async function getTrustMaterial(
  state: PlatformState,
  schoolId: string,
  kind: TrustKind,
): Promise<TrustDocument> {
  ensureSchoolKeys(state, schoolId);
  let failed = 0;
  for (;;) {
    const row = state.db
      .prepare('SELECT version, dirty, etag, bytes, iat FROM trust_material WHERE school_id = ? AND kind = ?')
      .get(schoolId, kind) as {
      version: number;
      dirty: number;
      etag: string | null;
      bytes: Buffer | null;
      iat: number | null;
    };
    if (row.dirty === 0 && row.bytes !== null && row.etag !== null) {
      const age = row.iat === null ? Number.POSITIVE_INFINITY : state.clock.nowSeconds() - row.iat;
      const bytes = new Uint8Array(row.bytes);
      if (
        age < state.settings[RESIGN_AFTER[kind]] &&
        (kind !== 'trust-list' || trustListWindowCurrent(state, schoolId, row.etag, bytes))
      ) {
        return { bytes, etag: row.etag, version: row.version };
      }
      // Old (or stored before its iat was kept), or a trust list of an earlier version whose key
      // validity followed the school's creation: the next version, signed now.
      state.db
        .prepare(
          'UPDATE trust_material SET version = version + 1, dirty = 1 WHERE school_id = ? AND kind = ? AND version = ? AND dirty = 0',
        )
        .run(schoolId, kind, row.version);
      continue;
    }
    const doc = await signVersion(state, schoolId, kind, row.version);
    if (doc !== undefined) return doc;
    // Not stored: the document changed again while it was signed (a newer version waits), or
    // another signing stored this version first. Read again, a few times at most.
    if (++failed >= 3) {
      throw new ApiError(503, 'ERR_INTERNAL', `the ${kind} keeps changing; retry`, {
        retryable: true,
        headers: { 'retry-after': '1' },
      });
    }
  }
}

const trustListCache = new WeakMap<PlatformState, Map<string, TrustList>>();
/** Bumped on every change of a trust list (an issuer rotation), so a fetch that raced it is not kept. */
const trustGeneration = new WeakMap<PlatformState, number>();
function forgetTrustList(state: PlatformState, schoolId: string): void {
  trustGeneration.set(state, (trustGeneration.get(state) ?? 0) + 1);
  trustListCache.get(state)?.delete(schoolId);
}
async function trustListOf(state: PlatformState, schoolId: string): Promise<TrustList> {
  let m = trustListCache.get(state);
  if (m === undefined) {
    m = new Map();
    trustListCache.set(state, m);
  }
  const hit = m.get(schoolId);
  if (hit !== undefined) return hit;
  const generation = trustGeneration.get(state) ?? 0;
  const { bytes } = await getTrustMaterial(state, schoolId, 'trust-list');
  const tl = decodeTrustList(bytes).trustList;
  if ((trustGeneration.get(state) ?? 0) === generation) m.set(schoolId, tl);
  return tl;
}

const statusCache = new WeakMap<PlatformState, Map<string, { etag: string; list: StatusList }>>();
/** Bumped on every change of a status list, so a fetch that raced a change is not kept. */
const statusGeneration = new WeakMap<PlatformState, number>();
function forgetStatusList(state: PlatformState, schoolId: string): void {
  statusGeneration.set(state, (statusGeneration.get(state) ?? 0) + 1);
  statusCache.get(state)?.delete(schoolId);
}
async function statusListOf(state: PlatformState, schoolId: string): Promise<StatusList> {
  let m = statusCache.get(state);
  if (m === undefined) {
    m = new Map();
    statusCache.set(state, m);
  }
  // Kept until touchTrustMaterial (or an issuer rotation) drops it: no read per payment.
  const hit = m.get(schoolId);
  if (hit !== undefined) return hit.list;
  const generation = statusGeneration.get(state) ?? 0;
  const doc = await getTrustMaterial(state, schoolId, 'status-list');
  const list = decodeStatusList(doc.bytes).statusList;
  if ((statusGeneration.get(state) ?? 0) === generation) m.set(schoolId, { etag: doc.etag, list });
  return list;
}

/**
 * Drops what is kept in memory of every school's keys and trust material (and the signings in
 * flight): a failed group-commit batch may have rolled back rows it was read from (keys made, an
 * issuer rotated, a card's status changed). The next use reads the database again.
 */
export function forgetTrustCaches(state: PlatformState): void {
  keyCache.delete(state);
  trustListCache.delete(state);
  trustGeneration.set(state, (trustGeneration.get(state) ?? 0) + 1);
  statusCache.delete(state);
  statusGeneration.set(state, (statusGeneration.get(state) ?? 0) + 1);
  signings.delete(state);
}

/** Whether resolving a code of this school reads only cached trust material (writes nothing). */
export function trustMaterialCached(state: PlatformState, schoolId: string): boolean {
  return trustListCache.get(state)?.has(schoolId) === true && statusCache.get(state)?.has(schoolId) === true;
}

/** node:crypto in the thread pool (see lib/node-verify.ts). */
const signatureBackend = createNodeSignatureBackend();

/** Credentials whose issuer signature was verified, by credential hash (bounded; core checks the entry is still trusted). */
const credentialCaches = new WeakMap<PlatformState, CredentialCache>();
const CREDENTIAL_CACHE_SIZE = 4096;
function credentialCacheOf(state: PlatformState): CredentialCache {
  let c = credentialCaches.get(state);
  if (c === undefined) {
    const m = new Map<string, VerifiedCredential>();
    c = {
      get: (hash) => m.get(hash),
      set(hash, value) {
        if (m.size >= CREDENTIAL_CACHE_SIZE) m.delete(m.keys().next().value as string);
        m.set(hash, value);
      },
    };
    credentialCaches.set(state, c);
  }
  return c;
}

/** The columns of a card its roster entry is made of. */
type RosterCardRow = Pick<
  CardRow,
  'card_id' | 'person_id' | 'role' | 'status_index' | 'holder_jwk' | 'physical_uid_hash' | 'expires_at'
>;

/**
 * A card's roster entry (spec §6.2): its phone key, status index, UID hash, groups and expiry.
 * `keys`: the phone keys to list; default the card's current one.
 */
function rosterCardOf(
  state: PlatformState,
  c: RosterCardRow,
  keys: readonly PublicKey[] = [importPublicJwk(JSON.parse(c.holder_jwk))],
): RosterCard {
  const person = getPersonRow(state, c.person_id);
  return {
    cardId: c.card_id,
    role: c.role,
    statusIndex: c.status_index,
    keys,
    uidHashes: c.physical_uid_hash === null ? [] : [hexBytes(c.physical_uid_hash)],
    groups: person === undefined ? [] : personGroups(person),
    exp: Math.floor(c.expires_at / 1000),
  };
}

/**
 * The school's cards as the verifier looks up a compact-mode code's card (spec §5.2), read from
 * the cards table as it asks: the platform holds every card, so it needs no signed roster, and a
 * full-mode code (which never asks) costs nothing. Each card is listed as the roster lists it (its
 * phone key, status index, groups, expiry), revoked cards too: the status list then refuses their
 * codes (`ERR_REVOKED`) as it refuses a full-mode code of theirs, and a status-blind resolution
 * (events) names them alike. Cards of other schools are not in it.
 *
 * Options (see {@link RosterIndexOptions}) list a card as a reader's roster listed it at a past
 * time, for a code captured then: by default, as it is now.
 */
function cardsRosterIndex(
  state: PlatformState,
  schoolId: string,
  options: RosterIndexOptions = {},
): RosterIndex {
  const byCardId = (cardId: string): RosterCard | undefined => {
    const c = state.db
      .prepare(
        'SELECT card_id, person_id, role, status_index, holder_jwk, holder_kid, physical_uid_hash, expires_at FROM cards WHERE card_id = ? AND school_id = ?',
      )
      .get(cardId, schoolId) as (RosterCardRow & Pick<CardRow, 'holder_kid'>) | undefined;
    if (c === undefined) return undefined;
    const { expiryAt } = options;
    const row =
      expiryAt === undefined
        ? c
        : { ...c, expires_at: cardAt(state, c.card_id, expiryAt)?.expires_at ?? c.expires_at };
    return options.everyKey === true
      ? rosterCardOf(state, row, phoneKeysOf(state, c))
      : rosterCardOf(state, row);
  };
  return {
    roster: { school: schoolId, version: 0, iat: 0, cards: [] },
    byCardId,
    byUidHash: () => undefined,
  };
}

/** Options of {@link cardsRosterIndex}. */
interface RosterIndexOptions {
  /**
   * List every phone key each card has had ({@link phoneKeysOf}), not only its current one (a
   * resolution with `statusAt`): a compact code made with a key a renewal replaced since then
   * verifies, as a full-mode code of that key does, and which key was the card's at the capture is
   * decided by `card_history`, for both modes alike (the caller's `holder_kid` check). Default
   * false: the current key only.
   */
  readonly everyKey?: boolean;
  /**
   * List each card's expiry as it was at this time, unix ms (`card_history`), as a full-mode code
   * carries the expiry of its credential of then: a compact code of a card that had expired then
   * is `ERR_CREDENTIAL_EXPIRED`, renewed since or not. Default: the current expiry.
   */
  readonly expiryAt?: number;
}

/**
 * Every phone key `card` has had, by its public key as kept in `card_keys` (migration 18), the
 * current one first: each key the card was issued or renewed with since, and for a card from a
 * database of before, the key it had then (the keys it had before that are not known).
 */
function phoneKeysOf(
  state: PlatformState,
  card: Pick<CardRow, 'card_id' | 'holder_jwk' | 'holder_kid'>,
): PublicKey[] {
  const keys = [importPublicJwk(JSON.parse(card.holder_jwk))];
  const earlier = state.db
    .prepare('SELECT holder_jwk FROM card_keys WHERE card_id = ? AND holder_kid <> ?')
    .pluck()
    .all(card.card_id, card.holder_kid) as string[];
  for (const jwk of earlier) keys.push(importPublicJwk(JSON.parse(jwk)));
  return keys;
}

/** A scanned code or card tap, resolved to a card. */
export interface Resolution {
  readonly card: ResolvedCard;
  readonly source: 'qr' | 'physical_card';
  /** One-use registry key, for codes. */
  readonly replayKey: string | undefined;
  readonly codeTime: number | undefined;
  readonly presentation: VerifiedPresentation | undefined;
}

/**
 * A scan refused for its card, once the card is known (the code's signatures checked, or the UID
 * found): a card not active, expired, or a superseded phone key. Names the card, for incidents;
 * answered as the `ApiError` it is.
 */
export class CardRefusedError extends ApiError {
  /** The card refused. */
  readonly cardId: string;

  constructor(status: number, code: string, message: string, card: Pick<ResolvedCard, 'card_id'>) {
    super(status, code, message);
    this.cardId = card.card_id;
  }
}

/** Options of {@link resolveCredentialInput}. */
export interface ResolveOptions {
  /**
   * The time the code and the card's validity are judged at, unix seconds. Default: now. A
   * compact-mode code's card is then judged by the expiry it had at this time (`card_history`), as
   * a full-mode code is by the expiry in its credential: a card that had expired then does not
   * resolve, renewed since or not.
   */
  readonly nowSeconds?: number;
  /**
   * Resolve the card whatever its current status (reported lost, suspended, revoked): for events
   * that report what a reader did (attendance, access), not for money. Default false: a card that
   * is not active is 403 `ERR_CARD_NOT_ACTIVE`, and a code of a card revoked in the status list 422.
   */
  readonly anyStatus?: boolean;
  /**
   * Judge the card's status and phone key as they were at this time, unix ms, from the card's
   * history, instead of as they are now: for an offline payment, which the POS accepted at its
   * capture time. A sale captured before the card was reported lost, or before its phone key was
   * replaced, resolves, in either mode (a compact-mode code is checked against every phone key
   * the card has had, then judged by the one it had at this time); one captured after is 403
   * `ERR_CARD_NOT_ACTIVE` or 422 `ERR_CODE_INVALID`, as a scan now would be, and so is a code
   * made with a key the card got only after this time. Default: judged as of now, by the current
   * status (and status list) and the current phone key only.
   */
  readonly statusAt?: number;
}

/**
 * Verifies a scanned code (signatures, time window) against the school's trust list, or looks
 * up a card UID; then checks the card is the current, active card. Does not consume the code.
 * A code of either mode resolves (spec §5): a full-mode code carries its credential, a
 * compact-mode one is judged by the card's roster entry as the platform has it. Without
 * `statusAt` that entry lists the card's current phone key only: a compact code of a superseded
 * phone key is 422 `ERR_UNKNOWN_CARD`. With `statusAt` it lists every phone key the card has had
 * (kept since migration 18; a card from a database of before has its key of then), and the key the
 * card had at `statusAt` (`card_history`) decides, as for a full-mode code: a code of the key of
 * then resolves even once a renewal replaced it, and a code of any other key of the card is 422
 * `ERR_CODE_INVALID` naming the card. A compact code of a key replaced before migration 18 is
 * still 422 `ERR_UNKNOWN_CARD`: that key is not known.
 *
 * `nowSeconds` (an offline capture's time) is when the code's time window and the card's validity
 * are judged (a compact code's card by its expiry then, from `card_history`, as a full-mode code
 * by its credential's: `ERR_CREDENTIAL_EXPIRED`); `statusAt`, when its status and phone key are. Without `statusAt` the card's status
 * is the current one: a code of a card suspended or revoked now is refused by the current status
 * list (`ERR_REVOKED`), a UID with `ERR_CARD_NOT_ACTIVE`; unless `anyStatus` (events, not money),
 * where it resolves. A UID resolves to the card it is linked to now; with `statusAt`, to the card
 * it was linked to then (`card_history`), as that card was then (status, expiry), or 422
 * `ERR_UNKNOWN_CARD` when none was (a tap more than the signature clock tolerance before the card
 * was issued and linked).
 */
export async function resolveCredentialInput(
  state: PlatformState,
  principal: Principal,
  input: { qr_text?: string | undefined; uid_hex?: string | undefined },
  options: ResolveOptions = {},
): Promise<Resolution> {
  const schoolId = principal.schoolId;
  if (schoolId === null) throw new ApiError(403, 'ERR_FORBIDDEN', 'the caller belongs to no school');
  if ((input.qr_text === undefined) === (input.uid_hex === undefined)) {
    throw new ApiError(400, 'ERR_VALIDATION', 'give exactly one of qr_text and uid_hex', {
      errors: [{ path: 'body', message: 'exactly one of qr_text, uid_hex' }],
    });
  }
  let card: ResolvedCard | undefined;
  let resolution: Omit<Resolution, 'card'>;
  if (input.qr_text !== undefined) {
    const trustList = await trustListOf(state, schoolId);
    const current = await statusListOf(state, schoolId);
    // status-blind: the same list (school, size) with every card valid, so that verifyPresentation
    // judges the code's signatures and time window and not its card's status
    const statusList =
      options.anyStatus === true || options.statusAt !== undefined
        ? { ...current, lst: new Uint8Array(current.lst.length) }
        : current;
    let v: VerifiedPresentation;
    try {
      v = await verifyPresentation(input.qr_text, {
        trustList,
        statusLists: [statusList],
        // a compact-mode code names its card and phone key instead of carrying its credential:
        // its card's entry as of the code's time (expiry); with statusAt, with every key the card
        // has had (the one it had then is checked below)
        roster: cardsRosterIndex(state, schoolId, {
          everyKey: options.statusAt !== undefined,
          ...(options.nowSeconds === undefined ? {} : { expiryAt: options.nowSeconds * 1000 }),
        }),
        now: options.nowSeconds ?? state.clock.nowSeconds(),
        maxAge: state.settings.codeMaxAgeS,
        maxFuture: state.settings.codeMaxFutureS,
        backend: signatureBackend,
        credentialCache: credentialCacheOf(state),
      });
    } catch (e) {
      const code = (e as CampusCardError).code;
      throw new ApiError(422, typeof code === 'string' ? code : 'ERR_CODE_INVALID', (e as Error).message);
    }
    card = state.db
      .prepare(`SELECT ${RESOLVED_CARD_COLUMNS} FROM cards WHERE card_id = ? AND school_id = ?`)
      .get(v.cardId, v.school) as ResolvedCard | undefined;
    if (card === undefined) throw new ApiError(422, 'ERR_UNKNOWN_CARD', 'no such card');
    if (options.statusAt !== undefined) card = asOf(state, card, options.statusAt);
    if (card.holder_kid !== toBase64Url(v.holderKid)) {
      throw new CardRefusedError(
        422,
        'ERR_CODE_INVALID',
        'the code was made with a superseded phone key',
        card,
      );
    }
    resolution = {
      source: 'qr',
      replayKey: `${toHex(v.holderKid)}:${v.cardId}:${v.t}:${toHex(v.nonce)}`,
      codeTime: v.t,
      presentation: v,
    };
  } else {
    const hash = toHex(computeUidHash(schoolId, hexBytes(input.uid_hex as string)));
    // the hash is salted with the school; the school_id test keeps the lookup in it regardless
    if (options.statusAt === undefined) {
      card = state.db
        .prepare(`SELECT ${RESOLVED_CARD_COLUMNS} FROM cards WHERE physical_uid_hash = ? AND school_id = ?`)
        .get(hash, schoolId) as ResolvedCard | undefined;
      if (card === undefined) throw new ApiError(422, 'ERR_UNKNOWN_CARD', 'no card is linked to this UID');
    } else {
      // the card the UID named at the capture (unlinked and relinked since, it names another now),
      // as it was then: its status and expiry
      card = cardOfUidAt(state, schoolId, hash, options.statusAt);
      if (card === undefined) {
        throw new ApiError(422, 'ERR_UNKNOWN_CARD', 'no card was linked to this UID at its capture time');
      }
    }
    resolution = {
      source: 'physical_card',
      replayKey: undefined,
      codeTime: undefined,
      presentation: undefined,
    };
  }
  if (card.status !== 'active' && options.anyStatus !== true)
    throw new CardRefusedError(403, 'ERR_CARD_NOT_ACTIVE', `card is ${card.status}`, card);
  const at = options.nowSeconds === undefined ? state.clock.now() : options.nowSeconds * 1000;
  if (card.expires_at <= at) throw new CardRefusedError(403, 'ERR_CARD_NOT_ACTIVE', 'card expired', card);
  return { card, ...resolution };
}

/** `card` with the status and phone key it had at `at` (unix ms). */
function asOf(state: PlatformState, card: ResolvedCard, at: number): ResolvedCard {
  const then = cardAt(state, card.card_id, at);
  if (then === undefined)
    throw new CardRefusedError(403, 'ERR_CARD_NOT_ACTIVE', 'the card has no history', card);
  return withThen(card, then);
}

/**
 * What a code was used for (`used_codes.purpose`): an online identity resolve, a payment (online
 * or offline) or an attendance event. Rows written before migration 14 have none (NULL), taken as
 * not a resolve.
 */
export type CodePurpose = 'resolve' | 'payment' | 'attendance';

/**
 * Records a code as used, platform-wide. Returns `undefined` when the use is recorded, or the
 * principal that used the code first when it is refused. A code is used once, except that a code
 * a principal resolved (`'resolve'`) may then be used once by the same principal for a
 * `'payment'`: the POS resolves the holder, then charges the same code, which is one use (the row
 * becomes `'payment'`, so the code never pays twice). A first use costs one statement; only a
 * second one reads the row it met.
 */
export function useCode(
  state: PlatformState,
  r: Resolution,
  principalId: string,
  purpose: CodePurpose,
): string | undefined {
  if (r.replayKey === undefined) return undefined;
  const ins = state.db
    .prepare(
      'INSERT OR IGNORE INTO used_codes (replay_key, card_id, principal_id, used_at, expires_at, purpose) VALUES (?, ?, ?, ?, ?, ?)',
    )
    .run(
      r.replayKey,
      r.card.card_id,
      principalId,
      state.clock.now(),
      ((r.codeTime ?? 0) + state.settings.codeMaxAgeS + 60) * 1000,
      purpose,
    );
  if (ins.changes !== 0) return undefined;
  const first = state.db
    .prepare('SELECT principal_id, purpose FROM used_codes WHERE replay_key = ?')
    .get(r.replayKey) as { principal_id: string; purpose: CodePurpose | null };
  if (purpose === 'payment' && first.purpose === 'resolve' && first.principal_id === principalId) {
    state.db.prepare("UPDATE used_codes SET purpose = 'payment' WHERE replay_key = ?").run(r.replayKey);
    return undefined;
  }
  return first.principal_id;
}

/**
 * Records a code as used, platform-wide, as {@link useCode} does; throws 409
 * `ERR_CODE_ALREADY_USED` when it is refused (another read came first, and was not this
 * principal's resolve of a code it now pays with).
 */
export function consumeCode(
  state: PlatformState,
  r: Resolution,
  principalId: string,
  purpose: CodePurpose,
): void {
  const first = useCode(state, r, principalId, purpose);
  if (first !== undefined)
    throw new ApiError(409, 'ERR_CODE_ALREADY_USED', `this code was already used (by ${first})`);
}

/**
 * A parent's linked cards: the live (not revoked) card of each linked student, in the order of
 * `student_ids`, as a credential's `linkedCards` and the online identity list them. With `after`,
 * as they will be once that student's live card is `after.cardId` (undefined: none).
 */
export function linkedCardIds(
  state: PlatformState,
  person: { student_ids: string },
  after?: { readonly studentId: string; readonly cardId: string | undefined },
): string[] {
  const linked: string[] = [];
  const live = state.db.prepare("SELECT card_id FROM cards WHERE person_id = ? AND status <> 'revoked'");
  for (const sid of JSON.parse(person.student_ids) as string[]) {
    const id =
      sid === after?.studentId ? after.cardId : (live.get(sid) as { card_id: string } | undefined)?.card_id;
    if (id !== undefined) linked.push(id);
  }
  return linked;
}

/** The `linkedCards` of a card's stored credential. */
function credentialLinks(card: Pick<CardRow, 'credential'>): readonly string[] {
  return decodeCredential(new Uint8Array(card.credential)).claims.linkedCards;
}

const sameIds = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((id, i) => id === b[i]);

const sameKid = (a: PrivateKey, b: PrivateKey): boolean =>
  Buffer.from(a.publicKey.kid).equals(Buffer.from(b.publicKey.kid));

/**
 * Where a credential the token format cannot carry is blamed: the request field (`errors[].path`)
 * and whose credential it is, for the message.
 */
interface Blame {
  readonly path: string;
  readonly whose: string;
}

/** Options of {@link buildCredential}. */
interface BuildOptions {
  /** Default: the school's issuer key. */
  readonly issuer?: PrivateKey;
  /** Issued at, unix seconds. Default: now. */
  readonly iat?: number;
  /** The linked cards. Default: the person's, now ({@link linkedCardIds}). */
  readonly linked?: readonly string[];
  /**
   * A credential over the format's limits (spec §2.1) is a 422 `ERR_VALIDATION` naming this (see
   * {@link overLimit}). Without it, core's error is thrown as it is.
   */
  readonly blame?: Blame;
}

/** The format's limits a platform credential can meet (spec §2.1), besides its 600 bytes. */
const MAX_TEXT_CHARS = 64;
const MAX_ITEMS = 64;
const chars = (s: string): number => [...s].length;

/** An ES256 public key for {@link credentialFits}' signer: its header has the size of every issuer key's. */
let fitKey: PublicKey | undefined;

/** The person's field a group of {@link personGroups} comes from, by its prefix. */
function groupSource(group: string, teachesIndex: number): string {
  if (group.startsWith('class:')) return 'class_id';
  if (group.startsWith('dorm:')) return 'dorm';
  if (group.startsWith('room:')) return 'dorm and room';
  if (group.startsWith('campus:')) return 'campus';
  if (group.startsWith('teaches:')) return `class_ids/${teachesIndex}`;
  return 'groups';
}

/**
 * The 422 `ERR_VALIDATION` for a credential core refused to sign because the token format cannot
 * carry it (a text over 64 characters, over 64 groups or linked cards, over 600 bytes: spec §2.1),
 * with one `errors[]` entry per cause, each naming the field it comes from; undefined for any other
 * error. Directory data that makes such a card is valid input: the answer is a 4xx, never a 5xx that
 * a client would retry.
 */
function overLimit(
  e: unknown,
  claims: {
    readonly cardId: string;
    readonly groups: readonly string[];
    readonly linked: readonly string[];
    readonly physicalCard: string | null;
  },
  blame: Blame,
): ApiError | undefined {
  if (!(e instanceof CampusCardError)) return undefined;
  if (!['ERR_STRUCTURE', 'ERR_INPUT_TOO_LARGE', 'ERR_CBOR_TOO_DEEP'].includes(e.code)) return undefined;
  const messages: string[] = [];
  const limit = `the token format allows ${MAX_TEXT_CHARS}`;
  if (chars(claims.cardId) > MAX_TEXT_CHARS)
    messages.push(`the card id ${claims.cardId} is ${chars(claims.cardId)} characters; ${limit}`);
  let teaches = 0;
  for (const g of claims.groups) {
    const source = groupSource(g, teaches);
    if (g.startsWith('teaches:')) teaches++;
    if (chars(g) > MAX_TEXT_CHARS)
      messages.push(`${source} makes the group "${g}" ${chars(g)} characters; ${limit}`);
  }
  if (claims.groups.length > MAX_ITEMS) {
    messages.push(
      `${claims.groups.length} groups (class_id, dorm, room, campus and each of class_ids); a credential carries at most ${MAX_ITEMS}`,
    );
  }
  for (const id of claims.linked) {
    if (chars(id) > MAX_TEXT_CHARS)
      messages.push(`the linked card id ${id} is ${chars(id)} characters; ${limit}`);
  }
  if (claims.linked.length > MAX_ITEMS) {
    messages.push(
      `${claims.linked.length} linked cards (one per student in student_ids); a credential carries at most ${MAX_ITEMS}`,
    );
  }
  if (claims.physicalCard !== null && chars(claims.physicalCard) > MAX_TEXT_CHARS) {
    messages.push(`the physical card number is ${chars(claims.physicalCard)} characters; ${limit}`);
  }
  if (messages.length === 0) {
    // the credential as a whole: its groups and linked cards together are too long
    messages.push(
      `${e.message}: its groups (class_id, dorm, room, campus, class_ids) and linked cards (one per linked student with a card) take too much room`,
    );
  }
  const detail = messages.map((m) => `${blame.whose}: ${m}`);
  return new ApiError(
    422,
    'ERR_VALIDATION',
    `the token format cannot carry a credential this needs (spec §2.1): ${detail.join('; ')}`,
    { errors: detail.map((message) => ({ path: blame.path, message })) },
  );
}

type CredentialCard = Pick<
  CardRow,
  'card_id' | 'school_id' | 'person_id' | 'role' | 'status_index' | 'physical_card_number'
>;

/** What a card's credential says ({@link buildCredential}, {@link credentialFits}). */
function credentialInput(
  state: PlatformState,
  card: CredentialCard,
  holder: PublicKey,
  validityDays: number,
  options: Pick<BuildOptions, 'iat' | 'linked'>,
) {
  const person = getPersonRow(state, card.person_id);
  if (person === undefined) throw notFound(`person ${card.person_id}`);
  const iat = options.iat ?? state.clock.nowSeconds();
  const linked = options.linked ?? linkedCardIds(state, person);
  const groups = personGroups(person);
  const input: IssueCredentialInput = {
    school: card.school_id,
    cardId: card.card_id,
    role: card.role,
    iat,
    validityDays,
    holderKey: holder,
    statusIndex: card.status_index,
    ...(card.physical_card_number === null ? {} : { physicalCard: card.physical_card_number }),
    ...(groups.length > 0 ? { groups } : {}),
    ...(linked.length > 0 ? { linkedCards: linked } : {}),
  };
  /** The 422 for core's refusal of this credential, when it is a format limit ({@link overLimit}). */
  const refusal = (e: unknown, blame: Blame | undefined): unknown =>
    (blame === undefined
      ? undefined
      : overLimit(
          e,
          { cardId: card.card_id, groups, linked, physicalCard: card.physical_card_number },
          blame,
        )) ?? e;
  return { input, iat, linked, refusal };
}

async function buildCredential(
  state: PlatformState,
  card: CredentialCard,
  holder: PublicKey,
  validityDays: number,
  options: BuildOptions = {},
): Promise<{ credential: Uint8Array; iat: number; linked: readonly string[] }> {
  const { input, iat, linked, refusal } = credentialInput(state, card, holder, validityDays, options);
  const issuer = options.issuer ?? ensureSchoolKeys(state, card.school_id).issuer;
  try {
    return { credential: await issueCredential(input, issuer), iat, linked };
  } catch (e) {
    throw refusal(e, options.blame);
  }
}

/**
 * Checks, signing nothing and writing nothing, that the token format can carry a card's credential
 * (spec §2.1), so that a request refuses it before it takes a status index. Undefined when it can;
 * otherwise a promise that rejects with the 422 of {@link overLimit}. The check does not await:
 * core checks every limit before it asks its signer to sign, so a signer that only notes the call
 * tells at once (the header and signature sizes are those of any ES256 issuer key), and the caller
 * goes on in the same turn, as it did before the check.
 */
function credentialFits(
  state: PlatformState,
  card: CredentialCard,
  holder: PublicKey,
  validityDays: number,
  options: Pick<BuildOptions, 'iat' | 'linked'> & { readonly blame: Blame },
): Promise<void> | undefined {
  const { input, refusal } = credentialInput(state, card, holder, validityDays, options);
  fitKey ??= generateKeyPair('ES256').publicKey;
  let signed = false;
  const signer: Signer = {
    alg: 'ES256',
    kid: fitKey.kid,
    publicKey: fitKey,
    sign: () => {
      signed = true;
      return new Uint8Array(64);
    },
  };
  const done = issueCredential(input, signer).then(
    () => undefined,
    (e: unknown) => {
      throw refusal(e, options.blame);
    },
  );
  if (!signed) return done; // refused (or checked later by another core): the caller awaits it
  done.catch(() => undefined);
  return undefined;
}

/** The days a card's credential is valid for (its expiry minus its issue). */
const validityDaysOf = (card: Pick<CardRow, 'issued_at' | 'expires_at'>): number =>
  Math.max(1, Math.round((card.expires_at - card.issued_at) / 1000 / DAY));

/**
 * Throws a 422 naming `body/validity_days` when a card issued at `iat` (unix seconds) for `days`
 * days would expire after the last time the contract's timestamps can write (9999-12-31T23:59:59Z,
 * a four-digit year), which the virtual clock can be set near. Its `expires_at` could not be
 * answered, so the request would end in a 500 after taking a status index; it is refused first,
 * writing nothing. The days (the request's, or the card's own on a renewal without them) are
 * what the caller can change.
 */
function checkExpiry(iat: number, days: number): void {
  if ((iat + days * DAY) * 1000 <= CLOCK_MAX_MS) return;
  const message = `a card valid ${days} days from ${iso(iat * 1000)} would expire after 9999-12-31T23:59:59Z, the last time the contract can write; give fewer days`;
  throw new ApiError(422, 'ERR_VALIDATION', message, {
    errors: [{ path: 'body/validity_days', message }],
  });
}

/** Whether a card row changed since `before` was read (by content: a frozen clock hides times). */
function cardChanged(before: CardRow, now: CardRow): boolean {
  return (
    now.updated_at !== before.updated_at ||
    now.status !== before.status ||
    now.status_index !== before.status_index ||
    now.holder_kid !== before.holder_kid ||
    now.physical_uid_hash !== before.physical_uid_hash ||
    now.physical_card_number !== before.physical_card_number ||
    !Buffer.from(now.credential).equals(Buffer.from(before.credential))
  );
}

/** The live parent cards linked to a student. */
function parentCardsOf(state: PlatformState, studentId: string): CardRow[] {
  return state.db
    .prepare(
      "SELECT c.* FROM guardians g JOIN cards c ON c.person_id = g.parent_id WHERE g.student_id = ? AND c.role = 'parent' AND c.status <> 'revoked' ORDER BY c.card_id",
    )
    .all(studentId) as CardRow[];
}

/** A parent's credential signed again for a change of its linked cards (see {@link signLinkRefreshes}). */
interface LinkRefresh {
  /** The parent's card as read before the signing. */
  readonly card: CardRow;
  readonly linked: readonly string[];
  readonly statusIndex: number;
  /** The new index's reservation; undefined when the index stays. */
  readonly reserved: StatusIndex | undefined;
  readonly credential: Uint8Array;
}

/**
 * Signs again the credential of each parent of `studentId` whose `linkedCards` change once the
 * student's live card is `cardId` (undefined: none), before the change is committed. A parent
 * whose credential names a card it will no longer be linked to gets a new status index: its
 * current credential (and any earlier one under that index) is published revoked, so readers
 * stop taking its linked cards at once. A credential that only gains a card keeps its index: the
 * one it replaces names fewer cards, which grants no more than the parent has. The card's phone
 * key and validity (`iat`, expiry) stay: only the linked cards (and the index) change.
 */
async function signLinkRefreshes(
  state: PlatformState,
  studentId: string,
  cardId: string | undefined,
  blamePath: string,
): Promise<LinkRefresh[]> {
  const refreshes: LinkRefresh[] = [];
  for (const { card, linked, narrowed } of linkChanges(state, studentId, cardId)) {
    const reserved = narrowed ? reserveStatusIndex(state, card.school_id) : undefined;
    const statusIndex = reserved?.index ?? card.status_index;
    const { credential } = await buildCredential(
      state,
      { ...card, status_index: statusIndex },
      importPublicJwk(JSON.parse(card.holder_jwk)),
      validityDaysOf(card),
      { iat: Math.floor(card.issued_at / 1000), linked, blame: parentBlame(card, blamePath) },
    );
    refreshes.push({ card, linked, statusIndex, reserved, credential });
  }
  return refreshes;
}

/** The parents' cards whose `linkedCards` change once the student's live card is `cardId`. */
function linkChanges(
  state: PlatformState,
  studentId: string,
  cardId: string | undefined,
): { card: CardRow; linked: string[]; narrowed: boolean }[] {
  const changes: { card: CardRow; linked: string[]; narrowed: boolean }[] = [];
  for (const card of parentCardsOf(state, studentId)) {
    const person = getPersonRow(state, card.person_id);
    if (person === undefined) throw notFound(`person ${card.person_id}`);
    const linked = linkedCardIds(state, person, { studentId, cardId });
    const held = credentialLinks(card);
    if (sameIds(held, linked)) continue;
    changes.push({ card, linked, narrowed: held.some((id) => !linked.includes(id)) });
  }
  return changes;
}

const parentBlame = (card: CardRow, path: string): Blame => ({
  path,
  whose: `parent card ${card.card_id} (person ${card.person_id}), whose credential names its students' cards`,
});

/**
 * {@link credentialFits} for the credentials {@link signLinkRefreshes} would sign (with the index
 * the school's next card would take, for one that needs a new index): undefined when the format
 * can carry each; otherwise a promise that rejects with the 422 naming the first parent card.
 */
function linkRefreshesFit(
  state: PlatformState,
  studentId: string,
  cardId: string | undefined,
  blamePath: string,
): Promise<void> | undefined {
  for (const { card, linked, narrowed } of linkChanges(state, studentId, cardId)) {
    const refused = credentialFits(
      state,
      { ...card, status_index: narrowed ? peekStatusIndex(state, card.school_id) : card.status_index },
      importPublicJwk(JSON.parse(card.holder_jwk)),
      validityDaysOf(card),
      { iat: Math.floor(card.issued_at / 1000), linked, blame: parentBlame(card, blamePath) },
    );
    if (refused !== undefined) return refused;
  }
  return undefined;
}

/**
 * Writes the parents' credentials signed by {@link signLinkRefreshes}, in the caller's
 * transaction and after the student's change they were signed for. Throws a retryable 409 when a
 * parent's card or linked cards moved since (a concurrent change: the retry signs again).
 * Returns the documents to give a new version: the status list and roster when an index changed.
 */
function writeLinkRefreshes(
  state: PlatformState,
  studentId: string,
  refreshes: readonly LinkRefresh[],
): CardMaterial[] {
  const planned = new Map(refreshes.map((r) => [r.card.card_id, r]));
  const update = state.db.prepare(
    'UPDATE cards SET status_index = ?, credential = ?, updated_at = ? WHERE card_id = ?',
  );
  let moved = false;
  for (const now of parentCardsOf(state, studentId)) {
    const person = getPersonRow(state, now.person_id);
    const want = person === undefined ? [] : linkedCardIds(state, person);
    const r = planned.get(now.card_id);
    if (
      r === undefined
        ? !sameIds(credentialLinks(now), want)
        : cardChanged(r.card, now) || !sameIds(r.linked, want)
    ) {
      throw new ApiError(409, 'ERR_CONFLICT', "a parent's card changed during the change; retry", {
        retryable: true,
      });
    }
    if (r === undefined) continue;
    checkReserved(r.reserved);
    update.run(r.statusIndex, Buffer.from(r.credential), state.clock.now(), now.card_id);
    if (r.statusIndex !== now.status_index) moved = true;
  }
  return moved ? ['status-list', 'roster'] : [];
}

function holderKeyOf(jwk: PublicJwk): PublicKey {
  // An OKP key has no y (RFC 8037 §2). Core would drop it and register the key that x names, so
  // the caller's key would not be the one it sent: refused, as every other malformed key is (each
  // key has one encoding, spec §2.4).
  if (jwk.kty === 'OKP' && jwk.y !== undefined) {
    throw new ApiError(400, 'ERR_VALIDATION', 'holder_jwk: an OKP (Ed25519) key has no y', {
      errors: [{ path: 'body/holder_jwk', message: 'an OKP key has no y' }],
    });
  }
  try {
    return importPublicJwk(jwk);
  } catch (e) {
    throw new ApiError(400, 'ERR_VALIDATION', `holder_jwk: ${(e as Error).message}`, {
      errors: [{ path: 'body/holder_jwk', message: 'invalid key' }],
    });
  }
}

/**
 * Appends the card's current status and phone key to its history, from now (in the caller's
 * transaction), so that an offline capture is judged by the card as it was then; and keeps the
 * phone key's public key in `card_keys` (once per key), so that a compact-mode code of it, which
 * names only its kid, can still be verified once a renewal has replaced it. Every writer of a
 * card's phone key (issue, renewal) calls it in the same transaction.
 */
function recordCardHistory(state: PlatformState, cardId: string): void {
  state.db
    .prepare(
      'INSERT INTO card_history (card_id, since, status, holder_kid, uid_hash, expires_at) SELECT card_id, ?, status, holder_kid, physical_uid_hash, expires_at FROM cards WHERE card_id = ?',
    )
    .run(state.clock.now(), cardId);
  state.db
    .prepare(
      'INSERT OR IGNORE INTO card_keys (card_id, holder_kid, holder_jwk) SELECT card_id, holder_kid, holder_jwk FROM cards WHERE card_id = ?',
    )
    .run(cardId);
}

/** What `card_history` says of a card from a time on. */
interface CardThen {
  readonly status: Card['status'];
  readonly holder_kid: string;
  readonly uid_hash: string | null;
  readonly expires_at: number | null;
}

/**
 * The card's status, phone key, physical card and expiry at `at` (unix ms). Before the card was
 * issued, by no more than `before` ms (a capture clock behind the platform's), the card as issued;
 * earlier, undefined. Undefined too for a card without history.
 */
function cardAt(
  state: PlatformState,
  cardId: string,
  at: number,
  before = Number.POSITIVE_INFINITY,
): CardThen | undefined {
  const cols = 'status, holder_kid, uid_hash, expires_at, since';
  const then = state.db
    .prepare(
      `SELECT ${cols} FROM card_history WHERE card_id = ? AND since <= ? ORDER BY since DESC, rowid DESC LIMIT 1`,
    )
    .get(cardId, at) as (CardThen & { since: number }) | undefined;
  if (then !== undefined) return then;
  const first = state.db
    .prepare(`SELECT ${cols} FROM card_history WHERE card_id = ? ORDER BY since, rowid LIMIT 1`)
    .get(cardId) as (CardThen & { since: number }) | undefined;
  return first !== undefined && at >= first.since - before ? first : undefined;
}

/**
 * The card a physical card's UID hash named at `at` (unix ms), in `schoolId`, as it was then:
 * the card whose history links that UID then (within the signature clock tolerance before its
 * issue). Undefined when none did.
 */
function cardOfUidAt(
  state: PlatformState,
  schoolId: string,
  hash: string,
  at: number,
): ResolvedCard | undefined {
  const tolerance = state.settings.signatureToleranceS * 1000;
  const candidates = state.db
    .prepare('SELECT DISTINCT card_id FROM card_history WHERE uid_hash = ?')
    .all(hash) as { card_id: string }[];
  for (const { card_id } of candidates) {
    let then = cardAt(state, card_id, at, tolerance);
    if (then?.uid_hash !== hash) {
      // linked within the tolerance after the capture (a capture clock behind the platform's):
      // the card as it was once linked
      then = state.db
        .prepare(
          'SELECT status, holder_kid, uid_hash, expires_at FROM card_history WHERE card_id = ? AND since > ? AND since <= ? ORDER BY since DESC, rowid DESC LIMIT 1',
        )
        .get(card_id, at, at + tolerance) as CardThen | undefined;
      if (then?.uid_hash !== hash) continue;
    }
    const card = state.db
      .prepare(`SELECT ${RESOLVED_CARD_COLUMNS} FROM cards WHERE card_id = ? AND school_id = ?`)
      .get(card_id, schoolId) as ResolvedCard | undefined;
    if (card !== undefined) return withThen(card, then);
  }
  return undefined;
}

/** `card` with what its history says of it then. */
function withThen(card: ResolvedCard, then: CardThen): ResolvedCard {
  return {
    ...card,
    status: then.status,
    holder_kid: then.holder_kid,
    expires_at: then.expires_at ?? card.expires_at,
  };
}

/**
 * Changes a card's status. `refreshes`: for a student's card being revoked, its parents'
 * credentials signed again without it ({@link signLinkRefreshes}), written in the same commit.
 */
function statusChange(
  ctx: HandlerContext,
  cardId: string,
  allowed: readonly Card['status'][],
  next: Card['status'],
  refreshes?: readonly LinkRefresh[],
): HandlerResult {
  return ctx.commit(() => {
    const card = getCardRow(ctx.state, cardId);
    if (card === undefined) throw notFound(`card ${cardId}`);
    if (!allowed.includes(card.status)) {
      throw new ApiError(409, 'ERR_CARD_NOT_ACTIVE', `card is ${card.status}; cannot become ${next}`);
    }
    if (next === 'revoked') {
      // An unlinked card lets go of its physical card (the UID may be linked to the holder's next
      // card); it keeps physical_card_number, for history.
      ctx.state.db
        .prepare(
          "UPDATE cards SET status = 'revoked', physical_uid_hash = NULL, updated_at = ? WHERE card_id = ?",
        )
        .run(ctx.state.clock.now(), cardId);
    } else {
      ctx.state.db
        .prepare('UPDATE cards SET status = ?, updated_at = ? WHERE card_id = ?')
        .run(next, ctx.state.clock.now(), cardId);
    }
    recordCardHistory(ctx.state, cardId);
    const kinds = new Set<CardMaterial>(
      // the roster holds no statuses, only the cards not revoked: it changes when a card leaves it
      next === 'revoked' ? ['status-list', 'roster'] : ['status-list'],
    );
    if (refreshes !== undefined) {
      for (const k of writeLinkRefreshes(ctx.state, card.person_id, refreshes)) kinds.add(k);
    }
    touchTrustMaterial(ctx.state, card.school_id, [...kinds]);
    const out = cardOut(getCardRow(ctx.state, cardId) as CardRow);
    enqueueEvent(ctx.state, 'card.status_changed', out, { personIds: [card.person_id] });
    return { status: 200, body: out };
  });
}

async function trustHandler(ctx: HandlerContext, schoolId: string, kind: TrustKind): Promise<HandlerResult> {
  // the roster names every card's groups (class, dorm, room) and the status list every status
  requireOwnSchool(requirePrincipal(ctx), schoolId, `school ${schoolId}`);
  if (ctx.state.db.prepare('SELECT 1 FROM schools WHERE school_id = ?').get(schoolId) === undefined) {
    throw notFound(`school ${schoolId}`);
  }
  const doc = await getTrustMaterial(ctx.state, schoolId, kind);
  // private: the roster names every card's groups (class, dorm, room), the status list every card's
  // status, and a signed request carries no Authorization header that would keep a shared cache
  // (a proxy) from storing them (RFC 9111 §3.5)
  const headers = { etag: doc.etag, 'cache-control': 'private, no-cache' };
  if (ifNoneMatchMatches(ctx.headers['if-none-match'], doc.etag)) return { status: 304, headers };
  return { status: 200, binary: doc.bytes, headers };
}

/** The opaque-tag of an entity-tag (`W/"x"` and `"x"` both give `"x"`). */
const opaqueTag = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);

/**
 * Whether an `If-None-Match` field matches the current entity-tag `etag` (RFC 9110 §13.1.2), so
 * that a GET answers 304: the value `*`, or a list of entity-tags one of which equals `etag` by
 * the weak comparison (`W/"x"` matches `"x"`). Several field lines are one list. A value that
 * does not parse as `*` or `#entity-tag` matches nothing: the full document is sent, never a
 * wrong 304.
 */
export function ifNoneMatchMatches(field: string | readonly string[] | undefined, etag: string): boolean {
  if (field === undefined) return false;
  const s = typeof field === 'string' ? field : field.join(',');
  if (s.trim() === '*') return true;
  const want = opaqueTag(etag);
  const ows = (c: string | undefined) => c === ' ' || c === '\t';
  let i = 0;
  let matched = false;
  while (i < s.length) {
    while (ows(s[i]) || s[i] === ',') i++;
    if (i >= s.length) break;
    if (s.startsWith('W/', i)) i += 2;
    if (s[i] !== '"') return false;
    const end = s.indexOf('"', i + 1);
    if (end < 0) return false;
    for (let k = i + 1; k < end; k++) {
      const c = s.charCodeAt(k); // etagc = %x21 / %x23-7E / obs-text
      if (!(c === 0x21 || (c >= 0x23 && c <= 0x7e) || (c >= 0x80 && c <= 0xff))) return false;
    }
    if (s.slice(i, end + 1) === want) matched = true;
    i = end + 1;
    while (ows(s[i])) i++;
    if (i < s.length && s[i] !== ',') return false;
  }
  return matched;
}

/** What {@link rotateIssuerKey} did. */
export interface IssuerRotation {
  readonly schoolId: string;
  /** The new trust list's version (it lists the new issuer key only). */
  readonly trustListVersion: number;
  /** The new issuer key's kid, base64url. */
  readonly issuerKid: string;
  /** The retired issuer key's kid, base64url. */
  readonly retiredKid: string;
  /** Cards whose credential was re-issued under the new key (every card not revoked). */
  readonly reissued: number;
}

/**
 * Rounds of signing {@link rotateIssuerKey} makes before it gives up on a school whose cards keep
 * changing while it signs.
 */
const ROTATION_ROUNDS = 4;

/**
 * Rotates a school's issuer key: a new key pair; the next trust list version lists it alone (the
 * old key is retired: credentials it signed stop verifying); every card that is not revoked gets
 * a new credential under it (same card, status index, holder key, `iat` and expiry: a rotation
 * neither extends a card nor brings an expired one back); the status list and roster are re-signed
 * with it at their next version.
 *
 * The credentials are signed first (async), then the key is installed and they are written in one
 * transaction. A card that changed while they were signed (renewed, its status changed, its
 * physical card linked, a parent's linked cards refreshed) or was issued meanwhile is signed again
 * from its row as it is now, until a round finds none changed: nothing a concurrent request
 * committed is written over, and the callers (the admin route, the conformance suite) get the
 * rotation done without a retry. A card revoked meanwhile is left as it is. A request that signed
 * under the old key and commits after the rotation finds the card changed (or, an issue, the key
 * changed) and answers a retryable 409.
 *
 * @throws {@link ApiError} 404 for an unknown school; 503 `ERR_INTERNAL` (`retryable`) when the
 *   cards still change after a few rounds (nothing is rotated).
 */
export async function rotateIssuerKey(state: PlatformState, schoolId: string): Promise<IssuerRotation> {
  if (state.db.prepare('SELECT 1 FROM schools WHERE school_id = ?').get(schoolId) === undefined) {
    throw notFound(`school ${schoolId}`);
  }
  const old = ensureSchoolKeys(state, schoolId);
  const keys: SchoolKeys = { root: old.root, issuer: generateKeyPair('ES256').privateKey };
  const liveCards = () =>
    state.db
      .prepare("SELECT * FROM cards WHERE school_id = ? AND status <> 'revoked' ORDER BY status_index")
      .all(schoolId) as CardRow[];
  /** The credentials signed so far, by card, with the row each was signed from. */
  const signed = new Map<string, { card: CardRow; credential: Uint8Array }>();
  let stale = liveCards();
  for (let round = 1; ; round++) {
    for (const card of stale) {
      const days = validityDaysOf(card);
      const holder = importPublicJwk(JSON.parse(card.holder_jwk));
      // the card's own validity: issued when it was, expiring when it does (an expired card stays so)
      signed.set(card.card_id, {
        card,
        ...(await buildCredential(state, card, holder, days, {
          issuer: keys.issuer,
          iat: Math.floor(card.issued_at / 1000),
        })),
      });
    }
    const done = state.tx((): { changed: CardRow[] } | { version: number; reissued: number } => {
      // by content, as a renewal checks: a card changed or issued since its row was read is signed again
      const cards = liveCards();
      const changed = cards.filter((c) => {
        const s = signed.get(c.card_id);
        return s === undefined || cardChanged(s.card, c);
      });
      if (changed.length > 0) return { changed };
      state.db
        .prepare('UPDATE school_keys SET issuer_jwk = ? WHERE school_id = ?')
        .run(JSON.stringify(exportJwk(keys.issuer, { includePrivate: true })), schoolId);
      // only the credential changes: issued_at, expires_at and what the history holds stay
      const upd = state.db.prepare('UPDATE cards SET credential = ?, updated_at = ? WHERE card_id = ?');
      for (const c of cards) {
        const r = signed.get(c.card_id) as { credential: Uint8Array };
        upd.run(Buffer.from(r.credential), state.clock.now(), c.card_id);
      }
      state.db
        .prepare(
          "UPDATE trust_material SET version = version + 1, dirty = 1 WHERE school_id = ? AND kind = 'trust-list'",
        )
        .run(schoolId);
      // both are signed by the issuer key: both need a version signed by the new one
      touchTrustMaterial(state, schoolId, ['status-list', 'roster']);
      const version = (
        state.db
          .prepare("SELECT version FROM trust_material WHERE school_id = ? AND kind = 'trust-list'")
          .get(schoolId) as { version: number }
      ).version;
      return { version, reissued: cards.length };
    });
    if ('version' in done) {
      keyCache.get(state)?.set(schoolId, keys);
      forgetTrustList(state, schoolId);
      forgetStatusList(state, schoolId);
      return {
        schoolId,
        trustListVersion: done.version,
        issuerKid: toBase64Url(keys.issuer.publicKey.kid),
        retiredKid: toBase64Url(old.issuer.publicKey.kid),
        reissued: done.reissued,
      };
    }
    if (round >= ROTATION_ROUNDS) {
      throw new ApiError(503, 'ERR_INTERNAL', `the cards of school ${schoolId} keep changing; retry`, {
        retryable: true,
        headers: { 'retry-after': '1' },
      });
    }
    stale = done.changed;
  }
}

/** A status index taken by {@link reserveStatusIndex}. */
interface StatusIndex {
  readonly index: number;
  /** The group-commit batch the reservation was written in; undefined when it committed at once. */
  readonly batch: Batch | undefined;
}

/**
 * The status index the school's next reservation would take, without taking it: for
 * {@link credentialFits}. 0 for a school without keys yet.
 */
function peekStatusIndex(state: PlatformState, schoolId: string): number {
  const r = state.db.prepare('SELECT next_status_index FROM school_keys WHERE school_id = ?').get(schoolId) as
    | { next_status_index: number }
    | undefined;
  return r?.next_status_index ?? 0;
}

/**
 * A new card's id, unique platform-wide: `<school>-<index, 6 digits or more>`
 * (`sch-demo-000004`). When that would be over the token format's 64 characters (a school id of
 * 58 characters or more), `<the school id's first characters>.<16 hex digits of its SHA-256>:<index>`,
 * exactly 64 characters: the hash keeps two long school ids with one prefix apart, and the `:` keeps
 * these ids apart from the first form's, whose index follows a `-`. Ids of the first form, the only
 * ones a school id that fits ever had, stay as they are.
 */
export function newCardId(schoolId: string, index: number): string {
  const n = String(index).padStart(6, '0');
  const plain = `${schoolId}-${n}`;
  if (plain.length <= MAX_TEXT_CHARS) return plain;
  const hash = createHash('sha256').update(schoolId).digest('hex').slice(0, 16);
  return `${schoolId.slice(0, MAX_TEXT_CHARS - 18 - n.length)}.${hash}:${n}`;
}

/**
 * Takes the school's next status index, before the (async) signing of a credential that names it:
 * committed at once, or with the group-commit batch open then (another request's, maybe). An index
 * reserved by a request that then fails stays unused, and unused indexes are published revoked.
 * When that batch fails, the index is free again and may be given to another card: the request
 * must not write it ({@link checkReserved}).
 */
function reserveStatusIndex(state: PlatformState, schoolId: string): StatusIndex {
  const index = state.tx(() => {
    const r = state.db
      .prepare('SELECT next_status_index FROM school_keys WHERE school_id = ?')
      .get(schoolId) as {
      next_status_index: number;
    };
    state.db
      .prepare('UPDATE school_keys SET next_status_index = next_status_index + 1 WHERE school_id = ?')
      .run(schoolId);
    return r.next_status_index;
  });
  return { index, batch: state.groupCommit.current() };
}

/**
 * Throws a retryable 503, in the transaction that writes a reserved status index, when the batch
 * the reservation was written in failed: the counter went back, so the index may be (or have been)
 * given to another credential. Written anyway, two cards would share it, and a credential published
 * revoked under it (an old phone's) would verify again. A batch still open is the one this
 * transaction writes in: they commit or fail together.
 */
function checkReserved(reserved: StatusIndex | undefined): void {
  if (reserved?.batch?.failed === true)
    throw rolledBack('the status index reservation was rolled back; retry');
}

/** Throws unless the physical card whose UID hashes to `hash` may be linked to `card` (C5, G1). */
function checkLinkable(state: PlatformState, card: CardRow, hash: string): void {
  if (card.status === 'revoked') throw new ApiError(409, 'ERR_CARD_NOT_ACTIVE', 'card is revoked');
  const other = state.db.prepare('SELECT card_id FROM cards WHERE physical_uid_hash = ?').get(hash) as
    | { card_id: string }
    | undefined;
  if (other !== undefined && other.card_id !== card.card_id) {
    throw new ApiError(409, 'ERR_CONFLICT', 'this physical card is linked to another card');
  }
}

/** Card handlers. */
export const cardHandlers: Handlers = {
  issueCard: async (ctx) => {
    const { state, body: b } = ctx;
    const person = getPersonRow(state, b.person_id);
    if (person === undefined) throw notFound(`person ${b.person_id}`);
    if (person.kind !== b.role) {
      throw new ApiError(400, 'ERR_VALIDATION', `a ${person.kind} cannot hold a ${b.role} card`, {
        errors: [
          {
            path: 'body/role',
            message: `person ${person.person_id} is a ${person.kind}: must be ${person.kind}`,
          },
        ],
      });
    }
    const live = () =>
      state.db
        .prepare(
          "SELECT card_id FROM cards WHERE school_id = ? AND person_id = ? AND role = ? AND status <> 'revoked'",
        )
        .get(person.school_id, person.person_id, b.role);
    if (live() !== undefined)
      throw new ApiError(409, 'ERR_CARD_EXISTS', 'this person already has a live card of this role (C1)');
    const holder = holderKeyOf(b.holder_jwk);
    const days = b.validity_days ?? 30;
    // one issue time for every check and for the credential
    const iat = state.clock.nowSeconds();
    checkExpiry(iat, days);
    const draft = (index: number) => ({
      card_id: newCardId(person.school_id, index),
      school_id: person.school_id,
      person_id: person.person_id,
      role: b.role,
      status_index: index,
      physical_card_number: null,
    });
    const blame = { path: 'body/person_id', whose: `person ${person.person_id}` };
    // First a check that writes nothing: a card the token format cannot carry (its groups, its
    // linked cards, or a parent's credential once it names this card) is a 422 that takes no status
    // index and makes no key. It does not await when the card fits: the issuer key is then taken
    // and the index reserved in the same turn (a rotation that retires the key before the commit
    // makes the issue a retryable 409).
    const next = draft(peekStatusIndex(state, person.school_id));
    const refused =
      credentialFits(state, next, holder, days, { iat, blame }) ??
      (b.role === 'student'
        ? linkRefreshesFit(state, person.person_id, next.card_id, 'body/person_id')
        : undefined);
    if (refused !== undefined) await refused;
    const { issuer } = ensureSchoolKeys(state, person.school_id);
    // Reserve a status index before the (async) signing.
    const reserved = reserveStatusIndex(state, person.school_id);
    const { index } = reserved;
    const cardId = newCardId(person.school_id, index);
    const { credential, linked } = await buildCredential(state, draft(index), holder, days, {
      issuer,
      iat,
      blame,
    });
    // a student's new card is linked to their parents: their credentials gain it
    const refreshes =
      b.role === 'student'
        ? await signLinkRefreshes(state, person.person_id, cardId, 'body/person_id')
        : undefined;
    return ctx.commit(() => {
      checkReserved(reserved);
      if (live() !== undefined)
        throw new ApiError(409, 'ERR_CARD_EXISTS', 'this person already has a live card of this role (C1)');
      // a linked student's card issued or unlinked while this credential was signed
      if (!sameIds(linkedCardIds(state, person), linked)) {
        throw new ApiError(409, 'ERR_CONFLICT', 'the linked cards changed during the issue; retry', {
          retryable: true,
        });
      }
      // the issuer key rotated while this credential was signed: under the retired key, it would
      // not verify (a card already in the school is signed again by the rotation instead)
      if (!sameKid(ensureSchoolKeys(state, person.school_id).issuer, issuer)) {
        throw new ApiError(409, 'ERR_CONFLICT', "the school's issuer key changed during the issue; retry", {
          retryable: true,
        });
      }
      state.db
        .prepare(
          `INSERT INTO cards (card_id, school_id, person_id, role, status, status_index, holder_jwk, holder_kid, issued_at, expires_at, credential, updated_at)
           VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          cardId,
          person.school_id,
          person.person_id,
          b.role,
          index,
          JSON.stringify(exportJwk(holder)),
          toBase64Url(holder.kid),
          iat * 1000,
          (iat + days * DAY) * 1000,
          Buffer.from(credential),
          state.clock.now(),
        );
      recordCardHistory(state, cardId);
      // a parent's new index is in both documents, as the new card is
      if (refreshes !== undefined) writeLinkRefreshes(state, person.person_id, refreshes);
      touchTrustMaterial(state, person.school_id, ['status-list', 'roster']);
      return { status: 201, body: cardOut(getCardRow(state, cardId) as CardRow) };
    });
  },

  getCard: (ctx) => {
    const c = getCardRow(ctx.state, ctx.params.card_id);
    if (c === undefined) throw notFound(`card ${ctx.params.card_id}`);
    requireOwnSchool(requirePrincipal(ctx), c.school_id, `card ${ctx.params.card_id}`);
    return { status: 200, body: cardOut(c) };
  },

  renewCard: async (ctx) => {
    const { state } = ctx;
    const card = getCardRow(state, ctx.params.card_id);
    if (card === undefined) throw notFound(`card ${ctx.params.card_id}`);
    if (card.status === 'revoked') throw new ApiError(409, 'ERR_CARD_NOT_ACTIVE', 'card is revoked');
    const holder =
      ctx.body.holder_jwk === undefined
        ? importPublicJwk(JSON.parse(card.holder_jwk))
        : holderKeyOf(ctx.body.holder_jwk);
    const days = ctx.body.validity_days ?? validityDaysOf(card);
    // one issue time for every check and for the credential
    const iat = state.clock.nowSeconds();
    checkExpiry(iat, days);
    const person = getPersonRow(state, card.person_id);
    if (person === undefined) throw notFound(`person ${card.person_id}`);
    const linked = linkedCardIds(state, person);
    // A new phone key gets a new status index. A reader checks a full code against the key inside
    // its credential, not the roster's: the old phone's credential would verify offline until it
    // expired. Its index, no longer any card's, is published revoked from the next status list.
    // So does a parent's credential naming a card the parent is no longer linked to (one kept
    // from before the platform signed parents' credentials again on such a change), and a renewal
    // that ends the card sooner than its current credential: a reader judges a full code by the
    // validity inside its credential, so the previous one would pass every reader until its own,
    // later expiry, while the platform refuses the card online from the new one. A renewal that
    // ends it as late or later keeps the index: the previous credential grants no more.
    const newKey = toBase64Url(holder.kid) !== card.holder_kid;
    const shortened = (iat + days * DAY) * 1000 < card.expires_at;
    const newIndex = newKey || shortened || credentialLinks(card).some((id) => !linked.includes(id));
    const blame = { path: 'params/card_id', whose: `card ${card.card_id} (person ${card.person_id})` };
    // a credential the format cannot carry is refused before an index is taken
    const refused = newIndex
      ? credentialFits(
          state,
          { ...card, status_index: peekStatusIndex(state, card.school_id) },
          holder,
          days,
          {
            iat,
            linked,
            blame,
          },
        )
      : undefined;
    if (refused !== undefined) await refused;
    const reserved = newIndex ? reserveStatusIndex(state, card.school_id) : undefined;
    const statusIndex = reserved?.index ?? card.status_index;
    const { credential } = await buildCredential(
      state,
      { ...card, status_index: statusIndex },
      holder,
      days,
      { iat, linked, blame },
    );
    return ctx.commit(() => {
      checkReserved(reserved);
      // the card may have changed while the credential was signed: never write over that
      const now = getCardRow(state, card.card_id) as CardRow;
      if (now.status === 'revoked') throw new ApiError(409, 'ERR_CARD_NOT_ACTIVE', 'card is revoked');
      // (by content, not only its time: two changes in one millisecond, or on a frozen clock,
      // would look like none; a change of a parent's linked cards signs its credential again)
      if (cardChanged(card, now)) {
        throw new ApiError(409, 'ERR_CONFLICT', 'the card changed during the renewal; retry', {
          retryable: true,
        });
      }
      state.db
        .prepare(
          'UPDATE cards SET holder_jwk = ?, holder_kid = ?, status_index = ?, issued_at = ?, expires_at = ?, credential = ?, updated_at = ? WHERE card_id = ?',
        )
        .run(
          JSON.stringify(exportJwk(holder)),
          toBase64Url(holder.kid),
          statusIndex,
          iat * 1000,
          (iat + days * DAY) * 1000,
          Buffer.from(credential),
          state.clock.now(),
          card.card_id,
        );
      recordCardHistory(state, card.card_id);
      // the roster always (keys, expiry); the status list when the old index was let go
      touchTrustMaterial(state, card.school_id, newIndex ? ['status-list', 'roster'] : ['roster']);
      return { status: 200, body: cardOut(getCardRow(state, card.card_id) as CardRow) };
    });
  },

  reportCardLost: (ctx) => statusChange(ctx as HandlerContext, ctx.params.card_id, ['active'], 'suspended'),
  restoreCard: (ctx) => statusChange(ctx as HandlerContext, ctx.params.card_id, ['suspended'], 'active'),
  unlinkCard: async (ctx) => {
    const card = getCardRow(ctx.state, ctx.params.card_id);
    // a student's card leaves their parents' credentials: signed again without it, each under a
    // new status index (the credential naming it is revoked with the card)
    let refreshes: LinkRefresh[] | undefined;
    if (card?.role === 'student' && card.status !== 'revoked') {
      // checked first, taking no status index: a parent's credential the format cannot carry
      const refused = linkRefreshesFit(ctx.state, card.person_id, undefined, 'params/card_id');
      if (refused !== undefined) await refused;
      refreshes = await signLinkRefreshes(ctx.state, card.person_id, undefined, 'params/card_id');
    }
    return statusChange(
      ctx as HandlerContext,
      ctx.params.card_id,
      ['active', 'suspended'],
      'revoked',
      refreshes,
    );
  },

  linkPhysicalCard: async (ctx) => {
    const { state } = ctx;
    const card = getCardRow(state, ctx.params.card_id);
    if (card === undefined) throw notFound(`card ${ctx.params.card_id}`);
    const hash = toHex(computeUidHash(card.school_id, hexBytes(ctx.body.uid_hex)));
    const number = ctx.body.card_number;
    checkLinkable(state, card, hash);
    // The physical card the card already has, under the same number: nothing to change. Signing
    // the credential again and giving the roster a new version would make every reader download
    // an unchanged roster and every phone fetch an equivalent credential (a vendor's sync that
    // links its cards again each night would churn the whole school). Checked again in the commit,
    // which stores the idempotency outcome: a change meanwhile is a retryable 409.
    if (card.physical_uid_hash === hash && card.physical_card_number === number) {
      return ctx.commit(() => {
        const now = getCardRow(state, card.card_id) as CardRow;
        checkLinkable(state, now, hash);
        if (now.physical_uid_hash !== hash || now.physical_card_number !== number) {
          throw new ApiError(409, 'ERR_CONFLICT', 'the card changed during the link; retry', {
            retryable: true,
          });
        }
        return { status: 200, body: cardOut(now) };
      });
    }
    // The credential names the physical card (`physicalCard`): signed again with the new number,
    // with the same phone key, status index, linked cards, `iat` and expiry. The index stays even
    // when the card replaces another physical card: the previous credential's `physicalCard` is a
    // label a reader shows (a decision's `physicalCard`), never what admits a tap (the roster's UID
    // hashes, which drop the old card's now) nor what a payment books to (the card and wallet);
    // revoking it would refuse the phone offline until it fetches the new one, for no gain.
    const { credential } = await buildCredential(
      state,
      { ...card, physical_card_number: number },
      importPublicJwk(JSON.parse(card.holder_jwk)),
      validityDaysOf(card),
      {
        iat: Math.floor(card.issued_at / 1000),
        linked: credentialLinks(card),
        blame: { path: 'body/card_number', whose: `card ${card.card_id} (person ${card.person_id})` },
      },
    );
    return ctx.commit(() => {
      const now = getCardRow(state, card.card_id) as CardRow;
      checkLinkable(state, now, hash);
      // the card may have changed while the credential was signed: never write over that
      if (cardChanged(card, now)) {
        throw new ApiError(409, 'ERR_CONFLICT', 'the card changed during the link; retry', {
          retryable: true,
        });
      }
      state.db
        .prepare(
          'UPDATE cards SET physical_uid_hash = ?, physical_card_number = ?, credential = ?, updated_at = ? WHERE card_id = ?',
        )
        .run(hash, number, Buffer.from(credential), state.clock.now(), card.card_id);
      recordCardHistory(state, card.card_id);
      // the roster carries the UID hashes, not the numbers: a new number for the same physical
      // card changes only the credential
      if (now.physical_uid_hash !== hash) touchTrustMaterial(state, card.school_id, ['roster']);
      return { status: 200, body: cardOut(getCardRow(state, card.card_id) as CardRow) };
    });
  },

  getTrustList: (ctx) => trustHandler(ctx as HandlerContext, ctx.params.school_id, 'trust-list'),
  getStatusList: (ctx) => trustHandler(ctx as HandlerContext, ctx.params.school_id, 'status-list'),
  getRoster: (ctx) => trustHandler(ctx as HandlerContext, ctx.params.school_id, 'roster'),

  getRootKey: (ctx) => {
    requireOwnSchool(requirePrincipal(ctx), ctx.params.school_id, `school ${ctx.params.school_id}`);
    if (
      ctx.state.db.prepare('SELECT 1 FROM schools WHERE school_id = ?').get(ctx.params.school_id) ===
      undefined
    ) {
      throw notFound(`school ${ctx.params.school_id}`);
    }
    const keys = ensureSchoolKeys(ctx.state, ctx.params.school_id);
    return {
      status: 200,
      body: { school_id: ctx.params.school_id, jwk: exportJwk(keys.root.publicKey) as PublicJwk },
    };
  },
};
