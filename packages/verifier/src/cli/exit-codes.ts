/**
 * The exit codes of `campus-card-verify`.
 *
 * @module
 */

/** The exit codes of {@link main}. */
export const EXIT_CODES = Object.freeze({
  /** Accepted; without trust material: the QR text decodes. */
  ok: 0,
  /** Denied; without trust material: the QR text does not decode (the dump has an `error`). */
  denied: 1,
  /**
   * A usage error, or trust material that cannot be read, that is given to an option that does not
   * take it (a status list as `--trust-list`), or that the verifier refuses (not its format, a bad
   * signature, an unknown issuer). Material that is merely stale at `--now` is held, and the
   * decision denies `*_STALE`: exit {@link EXIT_CODES.denied}.
   */
  usage: 2,
});
