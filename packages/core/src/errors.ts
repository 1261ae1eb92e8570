/**
 * Errors of `@campus-card/core`: one base class with a stable string `code`.
 *
 * @module
 */

/** Every stable error code `@campus-card/core` can raise, in the order of §9 of the token format spec. */
export const CAMPUS_CARD_ERROR_CODES = [
  'ERR_INPUT_TYPE',
  'ERR_INPUT_TOO_LARGE',
  'ERR_QR_PREFIX',
  'ERR_QR_BASE45',
  'ERR_CBOR_MALFORMED',
  'ERR_CBOR_TOO_DEEP',
  'ERR_CBOR_NOT_DETERMINISTIC',
  'ERR_CBOR_UNSUPPORTED_TYPE',
  'ERR_STRUCTURE',
  'ERR_ALG_NOT_ALLOWED',
  'ERR_KEY_INVALID',
  'ERR_UNKNOWN_ISSUER',
  'ERR_SIGNATURE_INVALID',
  'ERR_ISSUER_ROLE_NOT_ALLOWED',
  'ERR_ISSUER_SCHOOL_NOT_ALLOWED',
  'ERR_ISSUER_KEY_EXPIRED',
  'ERR_CREDENTIAL_EXPIRED',
  'ERR_CREDENTIAL_NOT_YET_VALID',
  'ERR_PRESENTATION_TOO_OLD',
  'ERR_PRESENTATION_FROM_FUTURE',
  'ERR_REVOKED',
  'ERR_STATUS_INDEX_OUT_OF_RANGE',
  'ERR_STATUS_LIST_MISSING',
  'ERR_UNKNOWN_CARD',
  'ERR_ROLLBACK',
] as const;

/** Every stable error code `@campus-card/core` can raise; see §9 of the token format spec. */
export type CampusCardErrorCode = (typeof CAMPUS_CARD_ERROR_CODES)[number];

/**
 * The base class of every error `@campus-card/core` throws for bad input or failed checks.
 * Switch on {@link CampusCardError.code}; it never changes between versions.
 *
 * Bad *arguments* (a wrong type passed by the programmer, such as a number where a key is
 * expected) throw `TypeError` or `RangeError` instead.
 *
 * @example
 * ```ts
 * try { decodeQr(text); } catch (e) {
 *   if (e instanceof CampusCardError && e.code === 'ERR_QR_PREFIX') showHint('not a campus card');
 * }
 * ```
 */
export class CampusCardError extends Error {
  /** The stable machine-readable code. */
  readonly code: CampusCardErrorCode;
  /** The spec section (§) the failed check belongs to, e.g. `"2.1"`. */
  readonly section: string | undefined;
  /**
   * The card a failed check of a scanned code was about: set by `verifyPresentation` only for the
   * checks after both signatures verified (time window, status), so it can be trusted and shown.
   * `issuerAuthority`: the `authority` of the trust list whose entry admitted the card's credential
   * (a full-mode code; spec §3), when several lists are held the one to name in an audit.
   */
  readonly subject:
    | { readonly school: string; readonly cardId: string; readonly issuerAuthority?: string }
    | undefined;

  constructor(
    code: CampusCardErrorCode,
    message: string,
    options?: {
      cause?: unknown;
      section?: string;
      subject?: { school: string; cardId: string; issuerAuthority?: string };
    },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CampusCardError';
    this.code = code;
    this.section = options?.section;
    this.subject = options?.subject;
  }
}

/** Whether `value` is a {@link CampusCardError}, optionally with the given code. */
export function isCampusCardError(value: unknown, code?: CampusCardErrorCode): value is CampusCardError {
  return value instanceof CampusCardError && (code === undefined || value.code === code);
}
