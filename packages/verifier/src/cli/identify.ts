/**
 * What a file given to an option is, read unverified: to name a file given to an option that does
 * not take it, and the option that does.
 *
 * @module
 */
import {
  decodeCredential,
  decodePresentation,
  decodeRoster,
  decodeStatusList,
  decodeTrustList,
  QR_PREFIX,
} from '@campus-card/core';
import type { OptionName } from './args.js';
import { material } from './material-file.js';

/** A file identified by {@link identify}: what it is, and where it belongs. */
export interface Identified {
  /** The option that takes it; `undefined` for what none takes (a QR text, the mock's output). */
  readonly option: OptionName | undefined;
  /** What it is, after "this": `is a status list (school sch-demo)`. */
  readonly is: string;
  /** How to give it instead: `give it as --status-list`. */
  readonly fix: string;
}

/** What a file given to each option is not, when {@link identify} finds it is other material. */
export const TAKES: Readonly<Record<Exclude<OptionName, 'now'>, string>> = {
  root: 'not a JWK nor a root-key answer ({ "school_id", "jwk" })',
  'trust-list': 'not a trust list',
  'status-list': 'not a status list',
  roster: 'not a roster',
};

/** Where a code to check goes. */
const QR_ARGUMENT = "as the first argument, in single quotes: campus-card-verify 'CC1:…'";

/**
 * What a file given to an option holds, decoded without verification (core's `decode*`, which
 * tell trust lists, status lists, rosters, credentials and presentations apart by their payload's
 * structure), or a JWK, a root-key answer, a QR text or the mock's startup output. `undefined` for
 * none of them: the option's own load then names what is wrong.
 */
export function identify(file: Uint8Array): Identified | undefined {
  const text = new TextDecoder().decode(file).trim();
  if (text.includes('"root_public_jwk"')) {
    return {
      option: undefined,
      is: "looks like the mock's startup output",
      fix: 'save its root_public_jwk object alone in a file, and give that file as --root',
    };
  }
  if (text.startsWith(QR_PREFIX)) {
    return { option: undefined, is: 'is a QR text', fix: `give it ${QR_ARGUMENT}` };
  }
  if (text.startsWith('{')) {
    try {
      const json = JSON.parse(text) as { kty?: unknown; jwk?: unknown; school_id?: unknown } | null;
      if (json?.kty !== undefined) return { option: 'root', is: 'is a JWK', fix: 'give it as --root' };
      if (json?.jwk !== undefined) {
        const school = typeof json.school_id === 'string' ? ` (school ${json.school_id})` : '';
        return { option: 'root', is: `is a root-key answer${school}`, fix: 'give it as --root' };
      }
    } catch {
      // not JSON: maybe a stored copy (below)
    }
  }
  let bytes: Uint8Array;
  try {
    bytes = material(file, '');
  } catch {
    return undefined;
  }
  const attempts: (() => Identified)[] = [
    () => {
      const { authority } = decodeTrustList(bytes).trustList;
      const is = `is a trust list (authority ${JSON.stringify(authority)})`;
      return { option: 'trust-list', is, fix: 'give it as --trust-list' };
    },
    () => {
      const { school } = decodeStatusList(bytes).statusList;
      return {
        option: 'status-list',
        is: `is a status list (school ${school})`,
        fix: 'give it as --status-list',
      };
    },
    () => {
      const { school } = decodeRoster(bytes).roster;
      return { option: 'roster', is: `is a roster (school ${school})`, fix: 'give it as --roster' };
    },
    () => {
      decodePresentation(bytes);
      const is = 'is a presentation (the bytes a QR code carries)';
      return { option: undefined, is, fix: `give its QR text ${QR_ARGUMENT}` };
    },
    () => {
      const { cardId, school } = decodeCredential(bytes).claims;
      const of = school === undefined ? '' : ` of school ${school}`;
      return {
        option: undefined,
        is: `is a credential (card ${cardId}${of})`,
        fix: `a reader gets it inside a presentation: give the QR text of one ${QR_ARGUMENT}`,
      };
    },
  ];
  for (const attempt of attempts) {
    try {
      return attempt();
    } catch {
      // not this kind
    }
  }
  return undefined;
}
