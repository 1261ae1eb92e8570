/**
 * `@campus-card/core`: the campus card token format. Trust lists, card credentials (COSE/CWT),
 * dynamic QR presentations, Base45 QR text, status lists and rosters: issue, create, decode and
 * verify, in pure TypeScript that runs in Node, browsers, Deno, Bun and React Native.
 *
 * See `docs/spec/token-format.md` for the format.
 *
 * @module
 */
export { decodeBase45, encodeBase45 } from './base45.js';
export {
  businessDay,
  businessDayBounds,
  businessDayOf,
  DAY_MS,
  type DayBounds,
  DEFAULT_DAY_UTC_OFFSET,
  formatUtcOffset,
  parseUtcOffset,
} from './business-day.js';
export { decodeSign1, type Sign1, sign1ToBeSigned, verifySign1 } from './cose-sign1.js';
export {
  type CredentialClaims,
  DAY_SECONDS,
  type DecodedCredential,
  decodeCredential,
  type IssueCredentialInput,
  issueCredential,
  MAX_VALIDITY_DAYS,
  parseCredentialClaims,
} from './credential.js';
export {
  CAMPUS_CARD_ERROR_CODES,
  CampusCardError,
  type CampusCardErrorCode,
  isCampusCardError,
} from './errors.js';
export {
  type Alg,
  algFromCose,
  COSE_ALG,
  computeKeyId,
  encodeCoseKey,
  exportCoseKey,
  exportJwk,
  type GenerateKeyPairOptions,
  generateKeyPair,
  type ImportCoseKeyOptions,
  importCoseKey,
  importJwk,
  importPrivateJwk,
  importPublicJwk,
  importRawPublicKey,
  type Jwk,
  type PrivateKey,
  type PublicKey,
  type Signer,
  signBytes,
  toSigner,
  verifyBytes,
} from './keys.js';
export { bytesEqual, fromBase64Url, fromHex, toBase64Url, toHex } from './lib/bytes.js';
export type { CborLimits, CborMap, CborValue } from './lib/cbor.js';
export {
  type CreateCompactPresentationOptions,
  type CreatePresentationOptions,
  type CredentialParts,
  createCompactPresentation,
  createPresentation,
  DEFAULT_REFRESH_SECONDS,
  type DecodedPresentation,
  decodePresentation,
  NONCE_BYTES,
  type PresentationFields,
  parsePresentationPayload,
} from './presentation.js';
export { decodeQr, encodeQr, QR_PREFIX } from './qr-text.js';
export { KEY_USE, ROLE_CODE, ROLES, type Role, roleFromCode, SCENES, type Scene } from './roles.js';
export {
  computeUidHash,
  decodeRoster,
  indexRoster,
  parseRosterPayload,
  type Roster,
  type RosterCard,
  type RosterIndex,
  type RosterInput,
  signRoster,
} from './roster.js';
export {
  CARD_STATUS,
  decodeStatusList,
  getStatus,
  packStatuses,
  parseStatusListPayload,
  type StatusList,
  type StatusListInput,
  signStatusList,
} from './status-list.js';
export {
  checkTrustAnchors,
  decodeTrustList,
  entryCoversSchool,
  findKeys,
  PLATFORM_AUTHORITY,
  parseTrustListPayload,
  signTrustList,
  type TrustAnchor,
  type TrustList,
  type TrustListEntry,
  type TrustListInput,
  type TrustLists,
  verifyTrustList,
} from './trust-list.js';
export {
  type CredentialCache,
  checkStatus,
  credentialCacheKey,
  nobleBackend,
  type SignatureBackend,
  type VerifiedCredential,
  type VerifiedPresentation,
  type VerifyPresentationOptions,
  verifyCredentialIssuer,
  verifyCredentialParts,
  verifyPresentation,
  verifyPresentationEager,
  verifyRoster,
  verifyStatusList,
} from './verify-presentation.js';
