/**
 * Errors of `@campus-card/verifier`: one base class, {@link VerifierError}, with a stable string `code`.
 *
 * Bad *arguments* (a wrong type or an out-of-range number passed by the programmer) throw `TypeError`
 * or `RangeError` instead, as everywhere in campus-card.
 *
 * @module
 */

/** Every stable error code `@campus-card/verifier` raises itself (the token checks use core's codes). */
export type VerifierErrorCode =
  | 'ERR_REPLAY_SNAPSHOT_CORRUPT'
  | 'ERR_REPLAY_JOURNAL_CORRUPT'
  | 'ERR_REPLAY_STORE_UNAVAILABLE'
  | 'ERR_POLICY_INVALID'
  | 'ERR_PASSBACK_SNAPSHOT_INVALID';

/**
 * The base class of every error `@campus-card/verifier` throws for bad data or a failed dependency.
 * Switch on {@link VerifierError.code}; it never changes between versions.
 *
 * @example
 * ```ts
 * try { await store.checkAndInsert(digest, expiresAt, now); } catch (e) {
 *   if (isVerifierError(e, 'ERR_REPLAY_STORE_UNAVAILABLE')) return deny('replay store down');
 *   throw e;
 * }
 * ```
 */
export class VerifierError extends Error {
  /** The stable machine-readable code. */
  readonly code: VerifierErrorCode;

  constructor(code: VerifierErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VerifierError';
    this.code = code;
  }
}

/**
 * The error `validatePolicy` throws for a bad policy document, with the path of the offending value,
 * e.g. `rules[2].windows[0].start`. Code `ERR_POLICY_INVALID`.
 */
export class PolicyInvalidError extends VerifierError {
  /** Where in the policy the problem is: `""` for the root, else a JS-like path such as `rules[0].allow`. */
  readonly path: string;

  constructor(path: string, message: string) {
    super('ERR_POLICY_INVALID', path === '' ? message : `${path}: ${message}`);
    this.name = 'PolicyInvalidError';
    this.path = path;
  }
}

/** Whether `value` is a {@link VerifierError}, optionally with the given code. */
export function isVerifierError(value: unknown, code?: VerifierErrorCode): value is VerifierError {
  return value instanceof VerifierError && (code === undefined || value.code === code);
}
