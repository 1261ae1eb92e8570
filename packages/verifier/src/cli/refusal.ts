/**
 * The message of a load the verifier refused, with what `campus-card-verify` can tell of its cause.
 *
 * @module
 */
import { bytesEqual, decodeTrustList, toHex } from '@campus-card/core';
import type { LoadResult } from '../trust-store.js';
import type { Root } from './root-key.js';

/**
 * The message of a load the verifier refused, with what the CLI can tell of the cause: for a trust
 * list of an unknown issuer, which root signed it (its kid, decoded without verification) and the
 * authority it states; for a status list or roster refused for want of a trust list, that the
 * trust lists given were refused.
 */
export function refusal(
  result: Extract<LoadResult, { ok: false }>,
  bytes: Uint8Array,
  roots: readonly Root[],
  trustListsRefused: number,
): string {
  const base = `${result.reason}${result.detail ? ` (${result.detail})` : ''}`;
  if (result.reason === 'NO_TRUST_LIST' && trustListsRefused > 0) {
    const given =
      trustListsRefused === 1
        ? 'the --trust-list given was'
        : `the ${trustListsRefused} --trust-list given were`;
    return `NO_TRUST_LIST (no trust list was loaded to check it: ${given} refused, see above)`;
  }
  if (result.material !== 'trustList' || result.reason !== 'UNKNOWN_ISSUER') return base;
  let authority: string;
  let kid: Uint8Array | undefined;
  try {
    const decoded = decodeTrustList(bytes);
    authority = decoded.trustList.authority;
    kid = decoded.sign1.kid;
  } catch {
    return base;
  }
  if (kid === undefined) return base;
  const states = `the list states authority ${JSON.stringify(authority)}`;
  const signer = roots.find((r) => bytesEqual(r.key.kid, kid));
  if (signer === undefined) {
    return `${base}: ${states} and is signed by a root key that no --root gives (kid ${toHex(kid)})`;
  }
  if (signer.authority === undefined || signer.authority === authority) return base;
  // the CLI cannot tell a misbound root from a list its root may not sign (a school's root
  // signing a list that states "platform"): the fix is named for the first case only
  const { given, file } = signer.option;
  return (
    `${base}: ${states} and is signed by --root ${given}: ` +
    `if ${file} is the root key of ${JSON.stringify(authority)}, give --root ${authority}=${file}`
  );
}
