/**
 * A `--root` value as given: a file, bare or bound to an authority (`<authority>=<file>`).
 *
 * @module
 */
import { UsageError } from './errors.js';

/**
 * The authority of a bound `--root` (`"platform"` or a school id): the school id pattern of the
 * platform's HTTP API, so a path (`./x`, `../x`, a `/` or `\` anywhere before the `=`) is never one.
 */
const AUTHORITY = /^(?:[A-Za-z0-9_.:-]*[A-Za-z0-9_:-][A-Za-z0-9_.:-]*|\.{3,})$/;

/** One `--root` as given: its file, and the authority it is bound to (`undefined`: bare). */
export interface RootOption {
  /** The value as given (`root.jwk`, `platform=root.jwk`), to name it in messages. */
  readonly given: string;
  readonly file: string;
  readonly authority: string | undefined;
}

/**
 * Reads a `--root` value: `<authority>=<file>` when the text before the first `=` holds no `/` or
 * `\` (a bound root), else the whole value is a file (a bare root).
 *
 * @throws {@link UsageError} for a bound form whose authority is not `"platform"` or a school id
 * (1 to 64 characters of `A-Z a-z 0-9 _ . : -`), or that names no file.
 */
export function rootOption(given: string): RootOption {
  const eq = given.indexOf('=');
  const sep = given.search(/[/\\]/);
  if (eq === -1 || (sep !== -1 && sep < eq)) return { given, file: given, authority: undefined };
  const authority = given.slice(0, eq);
  const file = given.slice(eq + 1);
  if (!AUTHORITY.test(authority) || authority.length > 64) {
    throw new UsageError(
      `--root ${given}: ${JSON.stringify(authority)} is no authority ("platform" or a school id, ` +
        '1 to 64 characters of A-Z a-z 0-9 _ . : -); a file whose name has "=" is given as ./name',
    );
  }
  if (file === '') throw new UsageError(`--root ${given}: no file after "="`);
  return { given, file, authority };
}
