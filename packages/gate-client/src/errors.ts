/**
 * Errors of the gate client: one base class with stable string codes. Platform errors keep the
 * transport's classes (`CampusCardApiError` and subclasses from `@campus-card/core/transport`).
 *
 * @module
 */

/**
 * Stable codes of {@link GateClientError}:
 *
 * - `ERR_GATE_CLOSED`: the client was closed.
 * - `ERR_GATE_MATERIAL_REJECTED`: the platform sent trust material the verifier refused (bad
 *   signature, rollback, …); the last good copy stays in use.
 * - `ERR_GATE_EVENT_INVALID`: an event does not fit the API contract (a programming error).
 * - `ERR_GATE_OUTBOX_IO`: the outbox could not be read or written durably.
 * - `ERR_GATE_DATA_DIR_LOCKED`: another gate client (this process or another) uses the data
 *   directory; two would number events alike and interleave their journals.
 * - `ERR_GATE_REPLAY_WINDOW_LOST` (reported to `onError` as `restore`, never thrown): the replay
 *   window of the last run could not be read back whole (a damaged or missing state file, a
 *   damaged journal, or, with no replay journal configured, a crash or a `close()` whose save
 *   failed). Codes made up to
 *   `detail.refusedThrough` (unix seconds) are refused `CODE_TOO_OLD`, so none is used twice.
 */
export type GateClientErrorCode =
  | 'ERR_GATE_CLOSED'
  | 'ERR_GATE_MATERIAL_REJECTED'
  | 'ERR_GATE_EVENT_INVALID'
  | 'ERR_GATE_OUTBOX_IO'
  | 'ERR_GATE_DATA_DIR_LOCKED'
  | 'ERR_GATE_REPLAY_WINDOW_LOST';

/**
 * The base error of the gate client. Switch on `code`.
 *
 * @example
 * ```ts
 * try { await gate.flush(); } catch (e) { if (e instanceof GateClientError && e.code === 'ERR_GATE_CLOSED') return; throw e; }
 * ```
 */
export class GateClientError extends Error {
  /** Stable code. */
  readonly code: GateClientErrorCode;
  /** Extra data (e.g. the verifier's load failure). */
  readonly detail: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: GateClientErrorCode,
    message: string,
    options: { cause?: unknown; detail?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GateClientError';
    this.code = code;
    this.detail = options.detail;
  }
}

/** Whether `err` is a {@link GateClientError}, optionally with the given code. */
export function isGateClientError(err: unknown, code?: GateClientErrorCode): err is GateClientError {
  return err instanceof GateClientError && (code === undefined || err.code === code);
}
