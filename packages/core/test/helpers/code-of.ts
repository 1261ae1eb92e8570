/**
 * Test helper: what a synchronous call throws, as a stable code.
 *
 * @module
 */
import { CampusCardError } from '../../src/errors.js';

/** The error code `f` throws, or `'OK'` (an untyped error shows as `untyped …`). */
export function codeOf(f: () => unknown): string {
  try {
    f();
    return 'OK';
  } catch (e) {
    return e instanceof CampusCardError ? e.code : `untyped ${String(e)}`;
  }
}
