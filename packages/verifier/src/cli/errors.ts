/**
 * The errors that stop `campus-card-verify` before it loads anything (exit 2).
 *
 * @module
 */

/** A command line that cannot run: printed with the usage, exit 2. */
export class UsageError extends Error {}

/** A file that is not material in any format the CLI reads: printed alone, exit 2. */
export class MaterialFileError extends Error {}
