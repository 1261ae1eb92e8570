/**
 * The reference verification of a presentation (spec §5.3, steps 1 to 5): decode, issuer
 * signature, holder signature, time window, status list. Reader policies and the replay window
 * (steps 6 and 7) live in `@campus-card/verifier`, which builds on this.
 *
 * @module
 */
import { decodeSign1, type Sign1, sign1ToBeSigned } from './cose-sign1.js';
import { type CredentialClaims, parseCredentialClaims } from './credential.js';
import { CampusCardError, type CampusCardErrorCode } from './errors.js';
import { type PublicKey, verifyBytes } from './keys.js';
import { CREDENTIAL_LIMITS } from './lib/limits.js';
import { type CredentialParts, type DecodedPresentation, decodePresentation } from './presentation.js';
import { decodeQr } from './qr-text.js';
import type { Role } from './roles.js';
import { KEY_USE } from './roles.js';
import { decodeRoster, indexRoster, type Roster, type RosterIndex } from './roster.js';
import { decodeStatusList, getStatus, type StatusList } from './status-list.js';
import { findKeys, type TrustList, type TrustListEntry } from './trust-list.js';

/**
 * A signature verification backend: WebCrypto, node:crypto or @noble/curves. It must accept
 * ES256 high-S signatures and must return `false` (never throw) for a bad signature.
 */
export interface SignatureBackend {
  /** Verifies a raw 64-byte signature over `data`. */
  verify(key: PublicKey, data: Uint8Array, signature: Uint8Array): boolean | Promise<boolean>;
}

/** The pure-JS backend (@noble/curves); runs everywhere, slowest. */
export const nobleBackend: SignatureBackend = { verify: verifyBytes };

/** What a verified issuer signature established, cached by credential hash. */
export interface VerifiedCredential {
  /** The trust-list entry whose key verified the credential. */
  readonly entry: TrustListEntry;
  /** The credential's claims, with `school` resolved (never undefined here). */
  readonly claims: CredentialClaims & { readonly school: string };
}

/**
 * A cache of credentials whose issuer signature was already verified. The key
 * ({@link credentialCacheKey}) is the exact signed content (protected header and payload), never
 * the signature bytes: once content is known to be authentic, which valid signature (a high-S
 * twin, say) accompanies it adds nothing. A hit is used only if its trust-list entry is still in
 * the current trust list. Bound its size: the verifier package ships an LRU.
 */
export interface CredentialCache {
  get(key: string): VerifiedCredential | undefined;
  set(key: string, value: VerifiedCredential): void;
}

/** The {@link CredentialCache} key of a credential: its signed content, as a binary string. */
export function credentialCacheKey(protectedBytes: Uint8Array, payload: Uint8Array): string {
  // one char per byte; the protected header length comes first so that the split is unambiguous
  return (
    String.fromCharCode(protectedBytes.length) +
    String.fromCharCode.apply(null, protectedBytes as unknown as number[]) +
    String.fromCharCode.apply(null, payload as unknown as number[])
  );
}

/** Options of {@link verifyPresentation}. */
export interface VerifyPresentationOptions {
  /** The verified trust list ({@link verifyTrustList}). */
  trustList: TrustList;
  /** Verified status lists, one per school. A credential of a school with none is rejected. */
  statusLists?: readonly StatusList[];
  /** A verified roster (or its index): required for compact mode. */
  roster?: Roster | RosterIndex;
  /** The reader's clock, unix seconds. Required: there is no hidden clock. */
  now: number;
  /** Oldest accepted code time: `t ≥ now − maxAge`. Seconds, default 90. */
  maxAge?: number;
  /** Newest accepted code time: `t ≤ now + maxFuture`. Seconds, default 30. */
  maxFuture?: number;
  /** Tolerance for a credential `iat` ahead of `now`, seconds. Default 30. */
  clockSkew?: number;
  /** Signature backend. Default {@link nobleBackend}. */
  backend?: SignatureBackend;
  /** Cache of verified credentials. Default none. */
  credentialCache?: CredentialCache;
}

/** The outcome of a successful {@link verifyPresentation}. */
export interface VerifiedPresentation {
  readonly mode: 'full' | 'compact';
  readonly school: string;
  readonly cardId: string;
  readonly role: Role;
  readonly groups: readonly string[];
  readonly linkedCards: readonly string[];
  readonly physicalCard: string | undefined;
  readonly statusIndex: number;
  /** Card expiry, unix seconds. */
  readonly exp: number;
  /** The code's time, unix seconds. */
  readonly t: number;
  readonly nonce: Uint8Array;
  readonly scene: number | undefined;
  /** Key id of the phone key that signed the code. */
  readonly holderKid: Uint8Array;
  /** Key id of the issuer key (full mode) or undefined (compact: the roster is the authority). */
  readonly issuerKid: Uint8Array | undefined;
  /** The decoded presentation. */
  readonly presentation: DecodedPresentation;
}

function fail(code: CampusCardErrorCode, message: string, section: string): never {
  throw new CampusCardError(code, message, { section });
}

async function verifyWith(
  backend: SignatureBackend,
  sign1: Sign1,
  keys: readonly PublicKey[],
): Promise<PublicKey | undefined> {
  const tbs = sign1ToBeSigned(sign1.protectedBytes, sign1.payload);
  for (const key of keys) {
    if (key.alg === sign1.alg && (await backend.verify(key, tbs, sign1.signature))) return key;
  }
  return undefined;
}

/** Checks the issuer signature of a credential and the issuer's limits (spec §3, §5.3 step 2). */
export async function verifyCredentialIssuer(
  credential: Uint8Array,
  trustList: TrustList,
  backend: SignatureBackend = nobleBackend,
  cache?: CredentialCache,
): Promise<VerifiedCredential> {
  return verifyCredentialSign1(
    decodeSign1(credential, CREDENTIAL_LIMITS, 'credential', true),
    trustList,
    backend,
    cache,
  );
}

/** {@link verifyCredentialIssuer} on a credential's signed parts (as a full-mode code carries them). */
export async function verifyCredentialParts(
  parts: CredentialParts,
  trustList: TrustList,
  backend: SignatureBackend = nobleBackend,
  cache?: CredentialCache,
): Promise<VerifiedCredential> {
  let key: string | undefined;
  if (cache) {
    key = credentialCacheKey(parts.protectedBytes, parts.payload);
    const hit = cache.get(key);
    if (hit && trustList.keys.includes(hit.entry)) return hit;
  }
  const sign1 = decodeSign1(
    [parts.protectedBytes, new Map(), parts.payload, parts.signature],
    CREDENTIAL_LIMITS,
    'credential',
    true,
  );
  const verified = await verifyCredentialSign1(sign1, trustList, backend, undefined);
  if (cache && key !== undefined) cache.set(key, verified);
  return verified;
}

async function verifyCredentialSign1(
  sign1: Sign1,
  trustList: TrustList,
  backend: SignatureBackend,
  cache: CredentialCache | undefined,
): Promise<VerifiedCredential> {
  let cacheKey: string | undefined;
  if (cache) {
    cacheKey = credentialCacheKey(sign1.protectedBytes, sign1.payload);
    const hit = cache.get(cacheKey);
    if (hit && trustList.keys.includes(hit.entry)) return hit;
  }
  const entries = findKeys(
    trustList.keys.map((e) => ({ kid: e.key.kid, e })),
    sign1.kid as Uint8Array,
  ).map((x) => x.e);
  const usable = entries.filter((e) => (e.uses & KEY_USE.credentials) !== 0);
  if (usable.length === 0) fail('ERR_UNKNOWN_ISSUER', 'credential: no trusted issuer key has this kid', '3');
  if (!usable.some((e) => e.key.alg === sign1.alg)) {
    fail('ERR_ALG_NOT_ALLOWED', `credential: alg ${sign1.alg} is not the issuer key's algorithm`, '2.2');
  }
  const key = await verifyWith(
    backend,
    sign1,
    usable.map((e) => e.key),
  );
  if (!key) fail('ERR_SIGNATURE_INVALID', 'credential: issuer signature does not verify', '2.2');
  // claims are read only now that the signature covering them is verified
  const claims = parseCredentialClaims(sign1.payload);
  const entry = usable.find((e) => e.key === key) as TrustListEntry;
  if (!entry.roles.includes(claims.role))
    fail('ERR_ISSUER_ROLE_NOT_ALLOWED', `issuer key may not sign ${claims.role} cards`, '3');
  let school = claims.school;
  if (school === undefined) {
    // no iss: only a key limited to exactly one school may leave it out (spec §4.1)
    if (entry.schools.length !== 1) {
      fail('ERR_STRUCTURE', 'credential: no iss, and the issuer key covers several schools', '4.1');
    }
    school = entry.schools[0] as string;
  } else if (entry.schools.length > 0 && !entry.schools.includes(school)) {
    fail('ERR_ISSUER_SCHOOL_NOT_ALLOWED', `issuer key may not sign for school ${school}`, '3');
  }
  if (claims.iat < entry.nbf || claims.iat > entry.exp) {
    fail('ERR_ISSUER_KEY_EXPIRED', 'credential issued outside the issuer key validity', '3');
  }
  const verified: VerifiedCredential = { entry, claims: Object.freeze({ ...claims, school }) };
  if (cache && cacheKey !== undefined) cache.set(cacheKey, verified);
  return verified;
}

/**
 * Verifies a scanned code (QR text or presentation bytes) through steps 1–5 of spec §5.3.
 *
 * @throws {@link CampusCardError} with the code of the first failed check.
 * @example
 * ```ts
 * const trustList = verifyTrustList(tlBytes, [rootPublicKey]);
 * const ok = await verifyPresentation(qrText, { trustList, statusLists: [statusList], now });
 * ```
 */
export async function verifyPresentation(
  input: string | Uint8Array,
  options: VerifyPresentationOptions,
): Promise<VerifiedPresentation> {
  const { now } = options;
  if (!Number.isFinite(now))
    throw new TypeError('verifyPresentation: options.now (unix seconds) is required');
  const backend = options.backend ?? nobleBackend;
  const maxAge = options.maxAge ?? 90;
  const maxFuture = options.maxFuture ?? 30;
  const skew = options.clockSkew ?? 30;

  // 1. decode
  const bytes = typeof input === 'string' ? decodeQr(input) : input;
  const p = decodePresentation(bytes);

  let school: string;
  let cardId: string;
  let role: Role;
  let groups: readonly string[];
  let linkedCards: readonly string[] = [];
  let physicalCard: string | undefined;
  let statusIndex: number;
  let exp: number;
  let iat: number | undefined;
  let holderKeys: readonly PublicKey[];
  let issuerKid: Uint8Array | undefined;

  if (p.mode === 'full') {
    // 2. issuer signature
    const { claims, entry } = await verifyCredentialParts(
      p.credentialParts as CredentialParts,
      options.trustList,
      backend,
      options.credentialCache,
    );
    ({ school, cardId, role, groups, linkedCards, physicalCard, statusIndex, exp, iat } = claims);
    holderKeys = [claims.holderKey];
    issuerKid = entry.key.kid;
  } else {
    // 2. compact mode: the roster, verified when loaded, stands in for the credential
    if (!options.roster) fail('ERR_UNKNOWN_CARD', 'compact code but the reader holds no roster', '5.2');
    const index = 'byCardId' in options.roster ? options.roster : indexRoster(options.roster);
    const card = index.byCardId(p.cardId as string);
    if (!card) fail('ERR_UNKNOWN_CARD', 'compact code: card not in the roster', '5.2');
    holderKeys = findKeys(card.keys, p.holderKid as Uint8Array);
    if (holderKeys.length === 0)
      fail('ERR_UNKNOWN_CARD', 'compact code: phone key not registered for the card', '5.2');
    school = index.roster.school;
    ({ cardId, role, groups, statusIndex, exp } = card);
  }

  // 3. holder signature
  if (!holderKeys.some((k) => k.alg === p.sign1.alg)) {
    fail('ERR_ALG_NOT_ALLOWED', `presentation: alg ${p.sign1.alg} is not the phone key's algorithm`, '2.2');
  }
  const holderKey = await verifyWith(backend, p.sign1, holderKeys);
  if (!holderKey) fail('ERR_SIGNATURE_INVALID', 'presentation: holder signature does not verify', '5');

  // 4. time window
  if (now >= exp) fail('ERR_CREDENTIAL_EXPIRED', 'the card has expired', '4');
  if (iat !== undefined && iat > now + skew)
    fail('ERR_CREDENTIAL_NOT_YET_VALID', 'the card is not valid yet', '4');
  if (p.t < now - maxAge) fail('ERR_PRESENTATION_TOO_OLD', `code is ${now - p.t} s old`, '5');
  if (p.t > now + maxFuture)
    fail('ERR_PRESENTATION_FROM_FUTURE', `code is ${p.t - now} s in the future`, '5');

  // 5. status list
  checkStatus(options.statusLists, school, statusIndex);

  return {
    mode: p.mode,
    school,
    cardId,
    role,
    groups,
    linkedCards,
    physicalCard,
    statusIndex,
    exp,
    t: p.t,
    nonce: p.nonce,
    scene: p.scene,
    holderKid: holderKey.kid,
    issuerKid,
    presentation: p,
  };
}

/** Step 5: the status of `index` in the school's list must be 0 (spec §6.1). Fails closed. */
export function checkStatus(lists: readonly StatusList[] | undefined, school: string, index: number): void {
  const list = lists?.find((l) => l.school === school);
  if (!list) fail('ERR_STATUS_LIST_MISSING', `no status list for school ${school}`, '6.1');
  const status = getStatus(list, index);
  if (status === undefined)
    fail('ERR_STATUS_INDEX_OUT_OF_RANGE', `status index ${index} outside the list`, '6.1');
  if (status !== 0) fail('ERR_REVOKED', `card status is ${status}`, '6.1');
}

function signedMaterialKeys(
  trustList: TrustList,
  kid: Uint8Array,
  use: number,
  school: string,
  iat: number,
): PublicKey[] {
  return trustList.keys
    .filter(
      (e) =>
        (e.uses & use) !== 0 &&
        (e.schools.length === 0 || e.schools.includes(school)) &&
        iat >= e.nbf &&
        iat <= e.exp &&
        e.key.kid.length === kid.length &&
        e.key.kid.every((b, i) => b === kid[i]),
    )
    .map((e) => e.key);
}

/**
 * Verifies a status list against a verified trust list: its key must be a trust-list key that
 * may sign status lists for that school and was valid at the list's `iat` (spec §6.1).
 */
export function verifyStatusList(bytes: Uint8Array, trustList: TrustList): StatusList {
  const { sign1, statusList } = decodeStatusList(bytes);
  const keys = signedMaterialKeys(
    trustList,
    sign1.kid as Uint8Array,
    KEY_USE.statusLists,
    statusList.school,
    statusList.iat,
  );
  if (keys.length === 0) fail('ERR_UNKNOWN_ISSUER', 'status list: no trusted key may sign it', '6.1');
  const tbs = sign1ToBeSigned(sign1.protectedBytes, sign1.payload);
  if (!keys.some((k) => k.alg === sign1.alg && verifyBytes(k, tbs, sign1.signature))) {
    fail('ERR_SIGNATURE_INVALID', 'status list: signature does not verify', '6.1');
  }
  return statusList;
}

/** Verifies a roster against a verified trust list (spec §6.2). */
export function verifyRoster(bytes: Uint8Array, trustList: TrustList): Roster {
  const { sign1, roster } = decodeRoster(bytes);
  const keys = signedMaterialKeys(
    trustList,
    sign1.kid as Uint8Array,
    KEY_USE.rosters,
    roster.school,
    roster.iat,
  );
  if (keys.length === 0) fail('ERR_UNKNOWN_ISSUER', 'roster: no trusted key may sign it', '6.2');
  const tbs = sign1ToBeSigned(sign1.protectedBytes, sign1.payload);
  if (!keys.some((k) => k.alg === sign1.alg && verifyBytes(k, tbs, sign1.signature))) {
    fail('ERR_SIGNATURE_INVALID', 'roster: signature does not verify', '6.2');
  }
  return roster;
}
