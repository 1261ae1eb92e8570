/**
 * Size and nesting limits of spec §2.1, checked before any decoding work, and the length limit of
 * every text field. The spec's §2.1 table lists exactly these numbers; the vectors named
 * `*limits-*` (packages/core/vectors) and test/lib/limits.test.ts pin them. Internal.
 *
 * The presentation and credential limits are far below those of trust material on purpose: a code
 * must fit a QR code a phone shows (§8), and a reader bounds the work a scanned code can cause.
 *
 * @module
 */
import type { CborLimits } from './cbor.js';

/** Maximum QR text length, characters. */
export const MAX_QR_CHARS = 1024;
/**
 * Maximum length of every text field of every structure (school ids, card ids, authority, groups,
 * physical card numbers, linked card ids), in characters: Unicode code points, not UTF-16 code
 * units or UTF-8 bytes. A text field has at least 1.
 */
export const MAX_TEXT_CHARS = 64;
/** Limits for a presentation: at most 64 elements in one array or map. */
export const PRESENTATION_LIMITS: CborLimits = { maxBytes: 680, maxDepth: 8, maxItems: 64 };
/** Limits for a credential: at most 64 elements in one array or map (so at most 64 groups). */
export const CREDENTIAL_LIMITS: CborLimits = { maxBytes: 600, maxDepth: 8, maxItems: 64 };
/** Limits for the protected header of any COSE_Sign1 (`{1: alg, ? 4: kid}`): one flat map. */
export const PROTECTED_HEADER_LIMITS: CborLimits = { maxBytes: 64, maxDepth: 1, maxItems: 4 };
/** Limits for a trust list. */
export const TRUST_LIST_LIMITS: CborLimits = { maxBytes: 262_144, maxDepth: 8, maxItems: 65_536 };
/** Limits for a status list. */
export const STATUS_LIST_LIMITS: CborLimits = { maxBytes: 4_194_304, maxDepth: 8, maxItems: 65_536 };
/** Limits for a roster: at most 1 048 576 elements in any one array or map of it. */
export const ROSTER_LIMITS: CborLimits = { maxBytes: 33_554_432, maxDepth: 8, maxItems: 1_048_576 };
