/**
 * Size and nesting limits of spec §2.1, checked before any decoding work. Internal.
 *
 * @module
 */
import type { CborLimits } from './cbor.js';

/** Maximum QR text length, characters. */
export const MAX_QR_CHARS = 1024;
/** Limits for a presentation. */
export const PRESENTATION_LIMITS: CborLimits = { maxBytes: 680, maxDepth: 8, maxItems: 64 };
/** Limits for a credential. */
export const CREDENTIAL_LIMITS: CborLimits = { maxBytes: 600, maxDepth: 8, maxItems: 64 };
/** Limits for a trust list. */
export const TRUST_LIST_LIMITS: CborLimits = { maxBytes: 262_144, maxDepth: 8, maxItems: 65_536 };
/** Limits for a status list. */
export const STATUS_LIST_LIMITS: CborLimits = { maxBytes: 4_194_304, maxDepth: 8, maxItems: 65_536 };
/** Limits for a roster. */
export const ROSTER_LIMITS: CborLimits = { maxBytes: 33_554_432, maxDepth: 8, maxItems: 1_048_576 };
