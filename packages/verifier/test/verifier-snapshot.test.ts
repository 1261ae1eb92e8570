import { describe, expect, it } from 'vitest';
import { isVerifierError } from '../src/index.js';
import { decodeVerifierState, encodeVerifierState, type VerifierState } from '../src/snapshot.js';

/** A verifier snapshot (format 1 layout) whose JSON part is `json`, without a replay part. */
function withJson(json: string): Uint8Array {
  const body = new TextEncoder().encode(json);
  const out = new Uint8Array(13 + body.length);
  out.set([0x43, 0x43, 0x56, 0x53, 1], 0);
  new DataView(out.buffer).setUint32(5, body.length);
  out.set(body, 9);
  new DataView(out.buffer).setUint32(9 + body.length, 0);
  return out;
}

function corruptCode(f: () => unknown): string | undefined {
  try {
    f();
  } catch (error) {
    return isVerifierError(error) ? error.code : `${(error as Error).name}: ${(error as Error).message}`;
  }
  return undefined;
}

const STATE: VerifierState = {
  floor: 1_767_225_600,
  replayClock: 1_767_225_600,
  lastSyncAt: 1_767_225_600,
  versions: {
    trustList: undefined,
    trustLists: { platform: { version: 3, digest: 'ab' }, '10001': { version: 5, digest: 'cd' } },
    statusLists: {},
    rosters: {},
  },
  passback: { version: 2, entries: [] },
  replay: undefined,
};

describe('verifier snapshot (CCVS)', () => {
  it('a JSON part that is not an object (null, a number, an array) is ERR_REPLAY_SNAPSHOT_CORRUPT, not a TypeError', () => {
    for (const json of ['null', '5', '[]', '"x"']) {
      expect(corruptCode(() => decodeVerifierState(withJson(json)))).toBe('ERR_REPLAY_SNAPSHOT_CORRUPT');
    }
  });

  it('round-trips its state', () => {
    expect(decodeVerifierState(encodeVerifierState(STATE))).toEqual(STATE);
  });
});

describe('verifier snapshot integrity', () => {
  it('a flipped digit in the JSON part (a floor or version pushed years ahead) is refused as corrupt', () => {
    const bytes = encodeVerifierState(STATE);
    const text = new TextDecoder().decode(bytes);
    // "floor":1767225600 → "floor":9767225600: restored, it would deny every scan until 2279
    const at = text.indexOf('"floor":1') + '"floor":'.length;
    const damaged = bytes.slice();
    damaged[at] = 0x39; // '9'
    expect(corruptCode(() => decodeVerifierState(damaged))).toBe('ERR_REPLAY_SNAPSHOT_CORRUPT');
  });

  it('still reads a format 1 snapshot (written before the checksum)', () => {
    const { replay: _, ...rest } = STATE;
    const json = JSON.stringify({ ...rest, passback: STATE.passback });
    expect(decodeVerifierState(withJson(json))).toEqual(STATE);
  });

  it("keeps a version mark's first load time, and refuses one that is not a number as corrupt", () => {
    const marked: VerifierState = {
      ...STATE,
      versions: {
        trustList: { version: 2, digest: 'ef', loadedAt: 1_767_224_000 },
        trustLists: { platform: { version: 3, digest: 'ab', loadedAt: 1_767_225_000 } },
        statusLists: {},
        rosters: {},
      },
    };
    expect(decodeVerifierState(encodeVerifierState(marked))).toEqual(marked);
    const { replay: _, ...rest } = STATE;
    for (const loadedAt of ['1767225000', null, {}]) {
      for (const versions of [
        { ...STATE.versions, trustList: { version: 3, digest: 'ab', loadedAt } },
        { ...STATE.versions, trustLists: { platform: { version: 3, digest: 'ab', loadedAt } } },
      ]) {
        const json = JSON.stringify({ ...rest, versions });
        expect(corruptCode(() => decodeVerifierState(withJson(json)))).toBe('ERR_REPLAY_SNAPSHOT_CORRUPT');
      }
    }
  });

  it('reads the trust-list mark of a snapshot written before lists were held per authority as authority-unknown', () => {
    const { replay: _, ...rest } = STATE;
    // the previous version's JSON: one `trustList` mark, no `trustLists`
    const json = JSON.stringify({
      ...rest,
      versions: { trustList: { version: 3, digest: 'ab' }, statusLists: {}, rosters: {} },
    });
    const read = decodeVerifierState(withJson(json));
    expect(read.versions.trustList).toEqual({ version: 3, digest: 'ab' });
    expect(read.versions.trustLists).toEqual({});
    // `trustLists` that is not a record of marks is corrupt
    for (const trustLists of [[], 5, { platform: { version: 'x', digest: 'ab' } }]) {
      const bad = JSON.stringify({ ...rest, versions: { ...STATE.versions, trustLists } });
      expect(corruptCode(() => decodeVerifierState(withJson(bad)))).toBe('ERR_REPLAY_SNAPSHOT_CORRUPT');
    }
  });

  it('an unknown (newer) format version is refused as corrupt', () => {
    const bytes = encodeVerifierState(STATE);
    bytes[4] = 9;
    expect(corruptCode(() => decodeVerifierState(bytes))).toBe('ERR_REPLAY_SNAPSHOT_CORRUPT');
  });
});
