/**
 * The root keys of `--root` files: read (a JWK or a root-key answer) and bound to the authority
 * whose trust lists each signs.
 *
 * @module
 */
import { importPublicJwk, type PublicKey } from '@campus-card/core';
import { UsageError } from './errors.js';
import { identify, TAKES } from './identify.js';
import type { RootOption } from './root-option.js';

/** A root key read from its file, with the authority it anchors (`undefined`: bare). */
export interface Root {
  readonly option: RootOption;
  readonly key: PublicKey;
  readonly authority: string | undefined;
}

/**
 * The root key of a `--root` file: a JWK, or the platform's answer to
 * `GET /v1/schools/{id}/root-key`, `{ "school_id": …, "jwk": {…} }` (its `school` is that answer's
 * `school_id`, if a string).
 *
 * @throws an `Error` (JSON or JWK) for a file that holds neither, naming what it holds when that is
 * other material ({@link identify}), or the mock's startup output (whose `root_public_jwk` object
 * alone is a JWK).
 */
export function rootKey(bytes: Uint8Array): { key: PublicKey; school: string | undefined } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch (error) {
    throw new Error(notRootKey(bytes) ?? (error instanceof Error ? error.message : String(error)));
  }
  const answer = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as {
    jwk?: unknown;
    kty?: unknown;
    school_id?: unknown;
  };
  if (answer.kty === undefined && answer.jwk === undefined) {
    throw new Error(
      notRootKey(bytes) ?? 'this is not a JWK (it has no "kty") nor a root-key answer (it has no "jwk")',
    );
  }
  if (answer.kty !== undefined || answer.jwk === undefined) {
    return { key: importPublicJwk(parsed), school: undefined };
  }
  const school = typeof answer.school_id === 'string' ? answer.school_id : undefined;
  return { key: importPublicJwk(answer.jwk), school };
}

/** Why a `--root` file that is not a root key is not: it is other material, or the mock's output. */
function notRootKey(bytes: Uint8Array): string | undefined {
  const found = identify(bytes);
  if (found === undefined || found.option === 'root') return undefined;
  return `this ${found.is}, ${TAKES.root}: ${found.fix}`;
}

/**
 * Binds each root read to its authority (spec §3): one bare root stays bare (it anchors whatever
 * authority its lists state); among several, a bare root-key answer is bound to its `school_id`,
 * and any other bare root is refused, as `createVerifier` refuses a bare key among several.
 *
 * @throws {@link UsageError} for a bare JWK among several roots, or a root bound to another
 * authority than the school its root-key answer names.
 */
export function bindRoots(
  read: readonly { option: RootOption; key: PublicKey; school: string | undefined }[],
): Root[] {
  return read.map(({ option, key, school }) => {
    if (option.authority !== undefined && school !== undefined && school !== option.authority) {
      throw new UsageError(
        `--root ${option.given}: the file is the root key of school ${JSON.stringify(school)} ` +
          `(its school_id), not of ${JSON.stringify(option.authority)}: give --root ${school}=${option.file}`,
      );
    }
    const authority = option.authority ?? (read.length > 1 ? school : undefined);
    if (read.length > 1 && authority === undefined) {
      throw new UsageError(
        `--root ${option.given} is a bare key among ${read.length} roots: with several roots, bind each ` +
          'to the authority whose trust lists it signs, --root platform=<file> or --root <school_id>=<file> ' +
          "(so that one school's root cannot speak for the platform or for another school)",
      );
    }
    return { option, key, authority };
  });
}
