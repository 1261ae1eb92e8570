/**
 * The reference verification of a presentation (spec §5.3, steps 1 to 5): decode, issuer
 * signature, holder signature, time window, status list. Reader policies and the replay window
 * (steps 6 and 7) live in `@campus-card/verifier`, which builds on this.
 *
 * @module
 */
import {
  decodeSign1,
  SIGN1_HEADROOM,
  type Sign1,
  sign1ToBeSigned,
  sign1ToBeSignedInPlace,
} from './cose-sign1.js';
import { type CredentialClaims, parseCredentialClaims } from './credential.js';
import { CampusCardError, type CampusCardErrorCode } from './errors.js';
import { type PublicKey, verifyBytes } from './keys.js';
import { allocSlab, bytesEqual } from './lib/bytes.js';
import { CREDENTIAL_LIMITS, PRESENTATION_LIMITS } from './lib/limits.js';
import {
  type CredentialParts,
  type DecodedPresentation,
  decodePresentation,
  decodePresentationOwned,
  ReadPresentation,
} from './presentation.js';
import { decodeQrAt } from './qr-text.js';
import type { Role } from './roles.js';
import { KEY_USE } from './roles.js';
import { decodeRoster, indexRoster, type Roster, type RosterCard, type RosterIndex } from './roster.js';
import { decodeStatusList, getStatus, type StatusList } from './status-list.js';
import {
  assertBytes,
  entryCoversSchool,
  findKeys,
  type TrustList,
  type TrustListEntry,
  type TrustLists,
} from './trust-list.js';

/**
 * A signature verification backend: WebCrypto, node:crypto or @noble/curves. It must accept
 * ES256 high-S signatures and must return `false` (never throw) for a bad signature. Only the
 * boolean `true` (or a promise of it) verifies: any other answer, truthy or not, is a refusal.
 */
export interface SignatureBackend {
  /** Verifies a raw 64-byte signature over `data`. */
  verify(key: PublicKey, data: Uint8Array, signature: Uint8Array): boolean | Promise<boolean>;
}

/** The pure-JS backend (@noble/curves); runs everywhere, slowest. */
export const nobleBackend: SignatureBackend = { verify: verifyBytes };

/** What a verified issuer signature established, cached by credential hash. */
export interface VerifiedCredential {
  /**
   * The trust-list entry that admitted the credential: its key verified the signature and its
   * roles, schools and validity allow the credential. When the key is listed in several entries
   * (of one list, or of several lists held at once), the first that allows it, the lists taken in
   * the order given.
   */
  readonly entry: TrustListEntry;
  /**
   * The trust list {@link entry} belongs to (the one given, or one of several held at once: spec
   * §3); its `authority` says whose list admitted the credential.
   */
  readonly trustList: TrustList;
  /** The credential's claims, with `school` resolved (never undefined here). */
  readonly claims: CredentialClaims & { readonly school: string };
}

/**
 * A cache of credentials whose issuer signature was already verified. The key
 * ({@link credentialCacheKey}) is a 64-bit hash of the exact signed content (protected header and
 * payload) and its lengths, never of the signature bytes (spec §2.3: nothing is keyed on them).
 * Core remembers the signed content and the signature of each value it stores and uses a hit only
 * if both are byte for byte the ones being checked (so a hash collision is a miss, never a wrong
 * hit), and only while the trust list (or lists) checked with are the very ones it was verified
 * with, in the same order: a list loaded, replaced or dropped since makes every value a miss. A credential carried
 * with any other signature, valid (a high-S twin) or not (a flipped bit), is a miss and has its
 * issuer signature checked: a hit never admits a signature that was not verified. Bound its size: the
 * verifier package ships an LRU.
 */
export interface CredentialCache {
  get(key: string): VerifiedCredential | undefined;
  set(key: string, value: VerifiedCredential): void;
}

/**
 * The signed content and signature (protected header ‖ payload ‖ signature) of each value core put
 * in a cache, and the trust lists it was verified with (a hit needs the very same lists, in order).
 */
const cachedContent = new WeakMap<
  VerifiedCredential,
  { readonly content: Uint8Array; readonly lists: readonly TrustList[] }
>();

/** The array of one list, per list (a scan with one list allocates none). */
const singleLists = new WeakMap<TrustList, readonly TrustList[]>();

/** `trustList` as an array: several lists as given (spec §3), one as a list of one. */
function listsOf(trustList: TrustLists): readonly TrustList[] {
  if (Array.isArray(trustList)) return trustList;
  const one = trustList as TrustList;
  let lists = singleLists.get(one);
  if (lists === undefined) {
    lists = Object.freeze([one]);
    singleLists.set(one, lists);
  }
  return lists;
}

/** Whether `a` and `b` hold the same trust list objects in the same order. */
function sameLists(a: readonly TrustList[], b: readonly TrustList[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The two 32-bit lanes of the content hash, as {@link hashLanes} leaves them (reused, never shared). */
const lanes = new Int32Array(2);

/**
 * Mixes `bytes` into both 32-bit lanes of the content hash in one pass: lane 0 murmur3-style, lane 1
 * with its own multipliers and rotations, so the two lanes do not collide together.
 */
function hashLanes(bytes: Uint8Array, start: number, end: number): void {
  let h1 = lanes[0] as number;
  let h2 = lanes[1] as number;
  const n = end;
  let i = start;
  for (; i + 4 <= n; i += 4) {
    const w =
      (bytes[i] as number) |
      ((bytes[i + 1] as number) << 8) |
      ((bytes[i + 2] as number) << 16) |
      ((bytes[i + 3] as number) << 24);
    let k = Math.imul(w, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h1 ^= Math.imul(k, 0x1b873593);
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
    let j = Math.imul(w, 0x85ebca6b);
    j = (j << 17) | (j >>> 15);
    h2 ^= Math.imul(j, 0xc2b2ae35);
    h2 = (h2 << 11) | (h2 >>> 21);
    h2 = (Math.imul(h2, 9) + 0x38495ab5) | 0;
  }
  let w = 0;
  for (let s = 0; i < n; i++, s += 8) w |= (bytes[i] as number) << s;
  const k = Math.imul(w, 0xcc9e2d51);
  lanes[0] = h1 ^ Math.imul((k << 15) | (k >>> 17), 0x1b873593);
  const j = Math.imul(w, 0x85ebca6b);
  lanes[1] = h2 ^ Math.imul((j << 17) | (j >>> 15), 0xc2b2ae35);
}

/** murmur3's finalizer. */
function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The {@link CredentialCache} key of a credential: a 64-bit non-cryptographic hash of its signed
 * content (protected header, then payload) with both lengths, as a short string. Core confirms
 * every hit against the stored content and signature, so a collision only costs a signature check.
 */
export function credentialCacheKey(protectedBytes: Uint8Array, payload: Uint8Array): string {
  return contentKey(protectedBytes, 0, protectedBytes.length, payload, 0, payload.length);
}

/**
 * {@link credentialCacheKey} of the protected header `a[a0, a1)` and the payload `b[b0, b1)`, read in
 * place (the scan fast path hashes a code's credential without making views of it).
 */
export function contentKey(
  a: Uint8Array,
  a0: number,
  a1: number,
  b: Uint8Array,
  b0: number,
  b1: number,
): string {
  lanes[0] = 0x3c6ef372 ^ (a1 - a0);
  lanes[1] = 0xa54ff53a ^ (b1 - b0);
  hashLanes(a, a0, a1);
  hashLanes(b, b0, b1);
  const h1 = fmix(lanes[0] as number);
  const h2 = fmix((lanes[1] as number) ^ 0x5be0cd19);
  return String.fromCharCode(
    h1 & 0xffff,
    h1 >>> 16,
    h2 & 0xffff,
    h2 >>> 16,
    (a1 - a0) & 0xffff,
    (b1 - b0) & 0xffff,
  );
}

/** Length of a credential's signature (spec §2.3): the last part of the cached content. */
const SIGNATURE_BYTES = 64;

/**
 * A cache hit whose stored content is exactly `a[a0, a1) ‖ b[b0, b1) ‖ s[s0, s0 + 64)` (protected
 * header ‖ payload ‖ the signature that was verified), still trusted; else undefined. The signature
 * is compared too: content cached under one signature never admits another one unchecked.
 */
function cacheHit(
  cache: CredentialCache,
  key: string,
  a: Uint8Array,
  a0: number,
  a1: number,
  b: Uint8Array,
  b0: number,
  b1: number,
  s: Uint8Array,
  s0: number,
  lists: readonly TrustList[],
): VerifiedCredential | undefined {
  const hit = cache.get(key);
  if (hit === undefined) return undefined;
  const stored = cachedContent.get(hit);
  // verified with other trust lists (one loaded, dropped or replaced since): checked again
  if (stored === undefined || !sameLists(stored.lists, lists)) return undefined;
  const content = stored.content;
  const p = a1 - a0;
  const q = p + (b1 - b0);
  if (content === undefined || content.length !== q + SIGNATURE_BYTES || s.length < s0 + SIGNATURE_BYTES)
    return undefined;
  for (let i = 0; i < p; i++) if (content[i] !== a[a0 + i]) return undefined;
  for (let i = p, j = b0; j < b1; i++, j++) if (content[i] !== b[j]) return undefined;
  for (let i = 0; i < SIGNATURE_BYTES; i++) if (content[q + i] !== s[s0 + i]) return undefined;
  return lists.includes(hit.trustList) && hit.trustList.keys.includes(hit.entry) ? hit : undefined;
}

/** Stores `value` under `key`, remembering the exact signed content and signature it was verified for. */
function cacheStore(
  cache: CredentialCache,
  key: string,
  protectedBytes: Uint8Array,
  payload: Uint8Array,
  signature: Uint8Array,
  value: VerifiedCredential,
  lists: readonly TrustList[],
): void {
  const content = new Uint8Array(protectedBytes.length + payload.length + SIGNATURE_BYTES);
  content.set(protectedBytes);
  content.set(payload, protectedBytes.length);
  content.set(signature.subarray(0, SIGNATURE_BYTES), protectedBytes.length + payload.length);
  cachedContent.set(value, { content, lists: Object.freeze([...lists]) });
  cache.set(key, value);
}

/** Options of {@link verifyPresentation}. */
export interface VerifyPresentationOptions {
  /**
   * The verified trust list ({@link verifyTrustList}), or the lists of several authorities held at
   * once (spec §3: the platform's and a school's, two schools'), in the order their entries are
   * tried: a credential is admitted when an entry of any of them allows it, and when none does
   * the error is the first limit broken by the first entry with the verifying key, in that order.
   * (The array form is an addition: a single list works as before.)
   */
  trustList: TrustLists;
  /** Verified status lists, one per school. A credential of a school with none is rejected. */
  statusLists?: readonly StatusList[];
  /** A verified roster (or its index): required for compact mode. */
  roster?: Roster | RosterIndex | undefined;
  /** The reader's clock, unix seconds. Required: there is no hidden clock. */
  now: number;
  /** Oldest accepted code time: `t ≥ now − maxAge`. Seconds, finite and ≥ 0, default 90. */
  maxAge?: number;
  /** Newest accepted code time: `t ≤ now + maxFuture`. Seconds, finite and ≥ 0, default 30. */
  maxFuture?: number;
  /** Tolerance for a credential `iat` ahead of `now`, seconds, finite and ≥ 0. Default 30. */
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
  /**
   * The `authority` of the trust list whose entry admitted the credential (full mode), or
   * undefined (compact: the roster is the authority). With several lists, it tells which one
   * vouched for the card (spec §3).
   */
  readonly issuerAuthority: string | undefined;
  /** The decoded presentation. */
  readonly presentation: DecodedPresentation;
}

function fail(code: CampusCardErrorCode, message: string, section: string): never {
  throw new CampusCardError(code, message, { section });
}

/** A value or a promise of it: the verification path stays synchronous while the backend is. */
type MaybePromise<T> = T | Promise<T>;

/** Whether a backend answer must be awaited (anything but a primitive, as `await` would treat it). */
function isDeferred(r: unknown): boolean {
  return (typeof r === 'object' && r !== null) || typeof r === 'function';
}

/**
 * Tries each candidate key of the right algorithm. Synchronous while the backend answers
 * synchronously; from the first deferred answer on, the rest runs asynchronously.
 */
function verifyWith(
  backend: SignatureBackend,
  alg: PublicKey['alg'],
  tbs: Uint8Array,
  signature: Uint8Array,
  keys: readonly PublicKey[],
): MaybePromise<PublicKey | undefined> {
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as PublicKey;
    if (key.alg !== alg) continue;
    const r = backend.verify(key, tbs, signature);
    if (isDeferred(r)) return verifyWithAsync(backend, alg, tbs, signature, keys, i, r);
    // only `true` verifies: a truthy non-boolean (say -1, OpenSSL's "error" from ECDSA_verify
    // passed through a native binding) is a refusal, never an accept
    if (r === true) return key;
  }
  return undefined;
}

async function verifyWithAsync(
  backend: SignatureBackend,
  alg: PublicKey['alg'],
  tbs: Uint8Array,
  signature: Uint8Array,
  keys: readonly PublicKey[],
  at: number,
  pending: boolean | Promise<boolean>,
): Promise<PublicKey | undefined> {
  if ((await pending) === true) return keys[at];
  for (let i = at + 1; i < keys.length; i++) {
    const key = keys[i] as PublicKey;
    if (key.alg === alg && (await backend.verify(key, tbs, signature)) === true) return key;
  }
  return undefined;
}

/** Runs `f` and turns a synchronous throw into a rejection, as an async function would. */
function promised<T>(f: () => MaybePromise<T>): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Checks the issuer signature of a credential and the issuer's limits (spec §3, §5.3 step 2).
 *
 * @param trustList - The verified trust list, or several held at once (one per authority), in
 *   the order their entries are tried (see {@link VerifyPresentationOptions.trustList}).
 * @throws {@link CampusCardError} (as a rejection): `ERR_INPUT_TYPE` unless `credential` is a
 *   `Uint8Array`, else the code of the first failed check.
 */
export function verifyCredentialIssuer(
  credential: Uint8Array,
  trustList: TrustLists,
  backend: SignatureBackend = nobleBackend,
  cache?: CredentialCache,
): Promise<VerifiedCredential> {
  return promised(() => {
    // bytes only: decodeSign1 would take any other value for an already decoded COSE_Sign1
    assertBytes(credential);
    return verifyCredentialSign1(
      decodeSign1(credential, CREDENTIAL_LIMITS, 'credential', true),
      listsOf(trustList),
      backend,
      cache,
    );
  });
}

/** {@link verifyCredentialIssuer} on a credential's signed parts (as a full-mode code carries them). */
export function verifyCredentialParts(
  parts: CredentialParts,
  trustList: TrustLists,
  backend: SignatureBackend = nobleBackend,
  cache?: CredentialCache,
): Promise<VerifiedCredential> {
  return promised(() => credentialFromParts(parts, listsOf(trustList), backend, cache));
}

/** A cache hit for the credential a {@link ReadPresentation} carries, hashed and compared in place. */
function cachedCredential(
  cache: CredentialCache,
  p: ReadPresentation,
  lists: readonly TrustList[],
): VerifiedCredential | undefined {
  const at = p.credentialAt;
  if (at === undefined) return undefined;
  const b = p.bytes;
  return cacheHit(
    cache,
    contentKey(b, at[0], at[1], b, at[2], at[3]),
    b,
    at[0],
    at[1],
    b,
    at[2],
    at[3],
    b,
    at[4],
    lists,
  );
}

function credentialFromParts(
  parts: CredentialParts,
  lists: readonly TrustList[],
  backend: SignatureBackend,
  cache: CredentialCache | undefined,
): MaybePromise<VerifiedCredential> {
  let key: string | undefined;
  if (cache) {
    key = credentialCacheKey(parts.protectedBytes, parts.payload);
    const { protectedBytes: a, payload: b, signature: sig } = parts;
    // a signature of another length is the decoder's to refuse, never a hit on its first 64 bytes
    const hit =
      sig.length === SIGNATURE_BYTES
        ? cacheHit(cache, key, a, 0, a.length, b, 0, b.length, sig, 0, lists)
        : undefined;
    if (hit) return hit;
  }
  const sign1 = decodeSign1(
    [parts.protectedBytes, new Map(), parts.payload, parts.signature],
    CREDENTIAL_LIMITS,
    'credential',
    true,
  );
  const verified = verifyCredentialSign1(sign1, lists, backend, undefined);
  if (!cache || key === undefined) return verified;
  const cacheKey = key;
  if (verified instanceof Promise) {
    return verified.then((v) => {
      cacheStore(cache, cacheKey, parts.protectedBytes, parts.payload, parts.signature, v, lists);
      return v;
    });
  }
  cacheStore(cache, cacheKey, parts.protectedBytes, parts.payload, parts.signature, verified, lists);
  return verified;
}

/** A trust-list entry and the list it belongs to (its `authority` decides the schools it covers). */
interface ListedEntry {
  readonly e: TrustListEntry;
  readonly list: TrustList;
}

function verifyCredentialSign1(
  sign1: Sign1,
  lists: readonly TrustList[],
  backend: SignatureBackend,
  cache: CredentialCache | undefined,
): MaybePromise<VerifiedCredential> {
  let cacheKey: string | undefined;
  if (cache) {
    cacheKey = credentialCacheKey(sign1.protectedBytes, sign1.payload);
    const { protectedBytes: a, payload: b, signature: sig } = sign1;
    const hit =
      sig.length === SIGNATURE_BYTES
        ? cacheHit(cache, cacheKey, a, 0, a.length, b, 0, b.length, sig, 0, lists)
        : undefined;
    if (hit) return hit;
  }
  // every entry of every list with this kid, lists in the order given (two keys may share a kid,
  // one key may be listed by several lists: spec §2.4, §3)
  const usable: ListedEntry[] = [];
  for (const list of lists) {
    for (const x of findKeys(
      list.keys.map((e) => ({ kid: e.key.kid, e })),
      sign1.kid as Uint8Array,
    )) {
      if ((x.e.uses & KEY_USE.credentials) !== 0) usable.push({ e: x.e, list });
    }
  }
  if (usable.length === 0) fail('ERR_UNKNOWN_ISSUER', 'credential: no trusted issuer key has this kid', '3');
  if (!usable.some((u) => u.e.key.alg === sign1.alg)) {
    fail('ERR_ALG_NOT_ALLOWED', `credential: alg ${sign1.alg} is not the issuer key's algorithm`, '2.2');
  }
  const key = verifyWith(
    backend,
    sign1.alg,
    sign1ToBeSigned(sign1.protectedBytes, sign1.payload),
    sign1.signature,
    distinctKeys(usable),
  );
  return key instanceof Promise
    ? key.then((k) => issuerVerified(k, sign1, usable, lists, cache, cacheKey))
    : issuerVerified(key, sign1, usable, lists, cache, cacheKey);
}

/** Whether two public keys are the same key (the same object, or the same algorithm and bytes). */
function sameKey(a: PublicKey, b: PublicKey): boolean {
  return a === b || (a.alg === b.alg && bytesEqual(a.raw, b.raw));
}

/** The keys of `entries`, each once (a key listed in several entries is tried once). */
function distinctKeys(entries: readonly ListedEntry[]): PublicKey[] {
  const out: PublicKey[] = [];
  for (const { e } of entries) if (!out.some((k) => sameKey(k, e.key))) out.push(e.key);
  return out;
}

/** Why an entry does not admit a credential: error code, message, spec section. */
type Refusal = readonly [CampusCardErrorCode, string, string];

/**
 * The first limit of `entry` the credential breaks, in the order role, school, validity (spec §3,
 * §4.1), or `undefined` when the entry admits it.
 */
function entryRefusal(
  entry: TrustListEntry,
  trustList: TrustList,
  claims: CredentialClaims,
): Refusal | undefined {
  if (!entry.roles.includes(claims.role)) {
    return ['ERR_ISSUER_ROLE_NOT_ALLOWED', `issuer key may not sign ${claims.role} cards`, '3'];
  }
  if (claims.school === undefined) {
    // no iss: only a key limited to exactly one school may leave it out (spec §4.1)
    if (entry.schools.length !== 1) {
      return ['ERR_STRUCTURE', 'credential: no iss, and the issuer key covers several schools', '4.1'];
    }
  } else if (!entryCoversSchool(entry, trustList, claims.school)) {
    return ['ERR_ISSUER_SCHOOL_NOT_ALLOWED', `issuer key may not sign for school ${claims.school}`, '3'];
  }
  if (claims.iat < entry.nbf || claims.iat > entry.exp) {
    return ['ERR_ISSUER_KEY_EXPIRED', 'credential issued outside the issuer key validity', '3'];
  }
  return undefined;
}

/** The rest of {@link verifyCredentialSign1}, once the issuer signature check answered. */
function issuerVerified(
  key: PublicKey | undefined,
  sign1: Sign1,
  usable: readonly ListedEntry[],
  lists: readonly TrustList[],
  cache: CredentialCache | undefined,
  cacheKey: string | undefined,
): VerifiedCredential {
  if (!key) fail('ERR_SIGNATURE_INVALID', 'credential: issuer signature does not verify', '2.2');
  // claims are read only now that the signature covering them is verified
  const claims = parseCredentialClaims(sign1.payload);
  // A key may be listed in several entries (student cards for one school, teacher cards for
  // another): any entry of the key that admits the credential will do. Without iss, every entry
  // whose role and validity admit it must name the same single school, or the school is ambiguous.
  let entry: TrustListEntry | undefined;
  let entryList: TrustList | undefined;
  let refusal: Refusal | undefined;
  let ambiguous = false;
  for (const { e, list } of usable) {
    if (!sameKey(e.key, key)) continue;
    const r = entryRefusal(e, list, claims);
    if (claims.school !== undefined) {
      if (r === undefined) {
        entry = e;
        entryList = list;
        break;
      }
      refusal ??= r;
      continue;
    }
    if (!e.roles.includes(claims.role) || claims.iat < e.nbf || claims.iat > e.exp) {
      refusal ??= r;
      continue;
    }
    if (e.schools.length !== 1 || (entry !== undefined && entry.schools[0] !== e.schools[0]))
      ambiguous = true;
    if (entry === undefined) {
      entry = e;
      entryList = list;
    }
  }
  if (ambiguous)
    fail('ERR_STRUCTURE', 'credential: no iss, and the issuer key covers several schools', '4.1');
  if (entry === undefined) {
    // (an entry always has the verifying key: it came from `usable`; fail closed all the same)
    const [code, message, section] = refusal ?? [
      'ERR_UNKNOWN_ISSUER',
      'credential: no trust-list entry has the verifying key',
      '3',
    ];
    fail(code, message, section);
  }
  const school = claims.school ?? (entry.schools[0] as string);
  const verified: VerifiedCredential = {
    entry,
    trustList: entryList as TrustList,
    claims: Object.freeze({ ...claims, school }),
  };
  if (cache && cacheKey !== undefined)
    cacheStore(cache, cacheKey, sign1.protectedBytes, sign1.payload, sign1.signature, verified, lists);
  return verified;
}

/**
 * Verifies a scanned code (QR text or presentation bytes) through steps 1–5 of spec §5.3.
 *
 * @throws {@link CampusCardError} with the code of the first failed check; `TypeError` or
 *   `RangeError` (as a rejection) without a finite `options.now`, or for a `maxAge`, `maxFuture` or
 *   `clockSkew` that is not a finite number of seconds ≥ 0.
 * @example
 * ```ts
 * const trustList = verifyTrustList(tlBytes, [rootPublicKey]);
 * const ok = await verifyPresentation(qrText, { trustList, statusLists: [statusList], now });
 * ```
 */
export function verifyPresentation(
  input: string | Uint8Array,
  options: VerifyPresentationOptions,
): Promise<VerifiedPresentation> {
  return promised(() => verifyPresentationEager(input, options));
}

/**
 * {@link verifyPresentation}, but synchronous while the backend is: it returns the result itself
 * (and throws the {@link CampusCardError}) when every signature check answered synchronously (as
 * node:crypto and @noble/curves do), and a Promise only once a check answered with one (WebCrypto).
 * For readers on a hot path, where each `await` costs; the checks and their order are the same.
 *
 * @throws {@link CampusCardError} with the code of the first failed check (or a rejected Promise);
 *   `TypeError` or `RangeError` for bad options, as {@link verifyPresentation}.
 */
export function verifyPresentationEager(
  input: string | Uint8Array,
  options: VerifyPresentationOptions,
): VerifiedPresentation | Promise<VerifiedPresentation> {
  const { now } = options;
  if (!Number.isFinite(now))
    throw new TypeError('verifyPresentation: options.now (unix seconds) is required');
  // a NaN window would make every comparison false, and so accept any time: fail loudly instead
  checkSeconds('maxAge', options.maxAge);
  checkSeconds('maxFuture', options.maxFuture);
  checkSeconds('clockSkew', options.clockSkew);
  const backend = options.backend ?? nobleBackend;

  // 1. decode, into a buffer of our own with room in front for the holder signature's
  // to-be-signed bytes (built in place, see sign1ToBeSignedInPlace)
  let buf: Uint8Array | undefined;
  if (typeof input === 'string') buf = decodeQrAt(input, SIGN1_HEADROOM);
  else if (input instanceof Uint8Array && input.length <= PRESENTATION_LIMITS.maxBytes) {
    buf = allocSlab(SIGN1_HEADROOM + input.length);
    buf.set(input, SIGN1_HEADROOM);
  }
  const p =
    buf === undefined
      ? decodePresentation(input as Uint8Array)
      : decodePresentationOwned(buf.subarray(SIGN1_HEADROOM));

  if (p.mode === 'full') {
    const lists = listsOf(options.trustList);
    // 2. issuer signature (a credential seen before: a cache hit found without views of it)
    const cache = options.credentialCache;
    const issuer =
      (cache !== undefined && p instanceof ReadPresentation
        ? cachedCredential(cache, p, lists)
        : undefined) ?? credentialFromParts(p.credentialParts as CredentialParts, lists, backend, cache);
    return issuer instanceof Promise
      ? issuer.then((c) => holderStep(options, backend, p, buf, c))
      : holderStep(options, backend, p, buf, issuer);
  }
  return holderStep(options, backend, p, buf, undefined);
}

/**
 * Throws unless a time-window option is absent or a finite number of seconds ≥ 0: the time checks
 * compare with it, and a NaN (or an infinite window) would admit codes and cards of any time.
 */
function checkSeconds(name: string, value: number | undefined): void {
  if (value === undefined) return;
  if (typeof value !== 'number') throw new TypeError(`verifyPresentation: options.${name} must be a number`);
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`verifyPresentation: options.${name} must be a finite number of seconds ≥ 0`);
  }
}

/** Steps 2 (compact mode) and 3 of {@link verifyPresentationEager}. */
function holderStep(
  options: VerifyPresentationOptions,
  backend: SignatureBackend,
  p: DecodedPresentation,
  buf: Uint8Array | undefined,
  issuer: VerifiedCredential | undefined,
): MaybePromise<VerifiedPresentation> {
  let holderKeys: readonly PublicKey[];
  let card: RosterCard | undefined;
  let school: string;
  if (issuer !== undefined) {
    holderKeys = [issuer.claims.holderKey];
    school = issuer.claims.school;
  } else {
    // 2. compact mode: the roster, verified when loaded, stands in for the credential
    if (!options.roster) fail('ERR_UNKNOWN_CARD', 'compact code but the reader holds no roster', '5.2');
    const index = 'byCardId' in options.roster ? options.roster : indexRoster(options.roster);
    card = index.byCardId(p.cardId as string);
    if (!card) fail('ERR_UNKNOWN_CARD', 'compact code: card not in the roster', '5.2');
    holderKeys = findKeys(card.keys, p.holderKid as Uint8Array);
    if (holderKeys.length === 0)
      fail('ERR_UNKNOWN_CARD', 'compact code: phone key not registered for the card', '5.2');
    school = index.roster.school;
  }

  // 3. holder signature
  const read = p instanceof ReadPresentation ? p : undefined;
  const alg = read === undefined ? p.sign1.alg : read.alg;
  let algOk = false;
  for (const k of holderKeys) if (k.alg === alg) algOk = true;
  if (!algOk) {
    fail('ERR_ALG_NOT_ALLOWED', `presentation: alg ${alg} is not the phone key's algorithm`, '2.2');
  }
  let tbs: Uint8Array | undefined;
  if (buf !== undefined) {
    tbs = read === undefined ? sign1ToBeSignedInPlace(buf, p.sign1) : read.toBeSignedIn(buf);
  }
  tbs ??= sign1ToBeSigned(p.sign1.protectedBytes, p.sign1.payload);
  const signature = read === undefined ? p.sign1.signature : read.signature;
  const holderKey = verifyWith(backend, alg, tbs, signature, holderKeys);
  return holderKey instanceof Promise
    ? holderKey.then((k) => finalSteps(options, p, issuer, card, school, k))
    : finalSteps(options, p, issuer, card, school, holderKey);
}

/** Steps 4 and 5 of {@link verifyPresentationEager}, once the holder signature check answered. */
function finalSteps(
  options: VerifyPresentationOptions,
  p: DecodedPresentation,
  issuer: VerifiedCredential | undefined,
  card: RosterCard | undefined,
  school: string,
  holderKey: PublicKey | undefined,
): VerifiedPresentation {
  if (!holderKey) fail('ERR_SIGNATURE_INVALID', 'presentation: holder signature does not verify', '5');
  try {
    return checkedPresentation(options, p, issuer, card, school, holderKey);
  } catch (e) {
    // both signatures verified: a denial from here on may name the card it was about
    if (!(e instanceof CampusCardError) || e.subject !== undefined) throw e;
    const c = issuer === undefined ? (card as RosterCard) : issuer.claims;
    throw new CampusCardError(e.code, e.message, {
      section: e.section as string,
      subject: {
        school,
        cardId: c.cardId,
        ...(issuer === undefined ? {} : { issuerAuthority: issuer.trustList.authority }),
      },
    });
  }
}

/** Steps 4 and 5 of {@link verifyPresentationEager}, after both signatures verified. */
function checkedPresentation(
  options: VerifyPresentationOptions,
  p: DecodedPresentation,
  issuer: VerifiedCredential | undefined,
  card: RosterCard | undefined,
  school: string,
  holderKey: PublicKey,
): VerifiedPresentation {
  const { now } = options;
  const maxAge = options.maxAge ?? 90;
  const maxFuture = options.maxFuture ?? 30;
  const skew = options.clockSkew ?? 30;
  const c = issuer === undefined ? (card as RosterCard) : issuer.claims;
  const exp = c.exp;
  const iat = issuer === undefined ? undefined : issuer.claims.iat;

  // 4. time window
  if (now >= exp) fail('ERR_CREDENTIAL_EXPIRED', 'the card has expired', '4');
  if (iat !== undefined && iat > now + skew)
    fail('ERR_CREDENTIAL_NOT_YET_VALID', 'the card is not valid yet', '4');
  if (p.t < now - maxAge) fail('ERR_PRESENTATION_TOO_OLD', `code is ${now - p.t} s old`, '5');
  if (p.t > now + maxFuture)
    fail('ERR_PRESENTATION_FROM_FUTURE', `code is ${p.t - now} s in the future`, '5');

  // 5. status list
  checkStatus(options.statusLists, school, c.statusIndex);

  return {
    mode: p.mode,
    school,
    cardId: c.cardId,
    role: c.role,
    groups: c.groups,
    linkedCards: issuer === undefined ? [] : issuer.claims.linkedCards,
    physicalCard: issuer === undefined ? undefined : issuer.claims.physicalCard,
    statusIndex: c.statusIndex,
    exp,
    t: p.t,
    nonce: p.nonce,
    scene: p.scene,
    holderKid: holderKey.kid,
    issuerKid: issuer === undefined ? undefined : issuer.entry.key.kid,
    issuerAuthority: issuer === undefined ? undefined : issuer.trustList.authority,
    presentation: p,
  };
}

/** Step 5: the status of `index` in the school's list must be 0 (spec §6.1). Fails closed. */
export function checkStatus(lists: readonly StatusList[] | undefined, school: string, index: number): void {
  let list: StatusList | undefined;
  if (lists) {
    for (let i = 0; i < lists.length; i++) {
      const l = lists[i] as StatusList;
      if (l.school === school) {
        list = l;
        break;
      }
    }
  }
  if (!list) fail('ERR_STATUS_LIST_MISSING', `no status list for school ${school}`, '6.1');
  const status = getStatus(list, index);
  if (status === undefined)
    fail('ERR_STATUS_INDEX_OUT_OF_RANGE', `status index ${index} outside the list`, '6.1');
  if (status !== 0) fail('ERR_REVOKED', `card status is ${status} (${statusName(status)})`, '6.1');
}

/** A non-zero card status as the spec names it (§6.1): every one of them denies. */
function statusName(status: number): string {
  if (status === 1) return 'revoked';
  if (status === 2) return 'suspended: reported lost';
  return 'reserved: denied';
}

/** The keys of every entry, of every list, that may sign `use` material of `school` at `iat` with this kid. */
function signedMaterialKeys(
  lists: readonly TrustList[],
  kid: Uint8Array,
  use: number,
  school: string,
  iat: number,
): PublicKey[] {
  return lists.flatMap((trustList) =>
    trustList.keys
      .filter(
        (e) =>
          (e.uses & use) !== 0 &&
          entryCoversSchool(e, trustList, school) &&
          iat >= e.nbf &&
          iat <= e.exp &&
          e.key.kid.length === kid.length &&
          e.key.kid.every((b, i) => b === kid[i]),
      )
      .map((e) => e.key),
  );
}

/**
 * Verifies a status list against a verified trust list: its key must be a trust-list key that
 * may sign status lists for that school and was valid at the list's `iat` (spec §6.1).
 *
 * @param trustList - The verified trust list, or several held at once (one per authority, spec
 *   §3): any entry of any of them may admit the signing key (an addition: one list works as before).
 */
export function verifyStatusList(bytes: Uint8Array, trustList: TrustLists): StatusList {
  const { sign1, statusList } = decodeStatusList(bytes);
  const keys = signedMaterialKeys(
    listsOf(trustList),
    sign1.kid as Uint8Array,
    KEY_USE.statusLists,
    statusList.school,
    statusList.iat,
  );
  if (keys.length === 0) fail('ERR_UNKNOWN_ISSUER', 'status list: no trusted key may sign it', '6.1');
  if (!keys.some((k) => k.alg === sign1.alg)) {
    fail('ERR_ALG_NOT_ALLOWED', `status list: alg ${sign1.alg} is not the signing key's algorithm`, '2.2');
  }
  const tbs = sign1ToBeSigned(sign1.protectedBytes, sign1.payload);
  if (!keys.some((k) => k.alg === sign1.alg && verifyBytes(k, tbs, sign1.signature))) {
    fail('ERR_SIGNATURE_INVALID', 'status list: signature does not verify', '6.1');
  }
  return statusList;
}

/**
 * Verifies a roster against a verified trust list (spec §6.2).
 *
 * @param trustList - The verified trust list, or several held at once (one per authority, spec
 *   §3), as for {@link verifyStatusList}.
 */
export function verifyRoster(bytes: Uint8Array, trustList: TrustLists): Roster {
  const { sign1, roster } = decodeRoster(bytes);
  const keys = signedMaterialKeys(
    listsOf(trustList),
    sign1.kid as Uint8Array,
    KEY_USE.rosters,
    roster.school,
    roster.iat,
  );
  if (keys.length === 0) fail('ERR_UNKNOWN_ISSUER', 'roster: no trusted key may sign it', '6.2');
  if (!keys.some((k) => k.alg === sign1.alg)) {
    fail('ERR_ALG_NOT_ALLOWED', `roster: alg ${sign1.alg} is not the signing key's algorithm`, '2.2');
  }
  const tbs = sign1ToBeSigned(sign1.protectedBytes, sign1.payload);
  if (!keys.some((k) => k.alg === sign1.alg && verifyBytes(k, tbs, sign1.signature))) {
    fail('ERR_SIGNATURE_INVALID', 'roster: signature does not verify', '6.2');
  }
  return roster;
}
