/**
 * The I/O of `campus-card-verify`: where it writes and reads, and its clock.
 *
 * @module
 */

/** Where the CLI writes and reads; injectable for tests. */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly readFile: (path: string) => Uint8Array;
  /** The clock used when `--now` is absent, unix seconds. */
  readonly now: () => number;
}
