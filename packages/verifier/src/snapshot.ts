/**
 * The persisted state of a verifier: replay window, trusted-time floor, held versions and
 * anti-passback state, in one byte string.
 *
 * @module
 */
import { VerifierError } from './errors.js';
import type { HeldVersions } from './trust-store.js';

const MAGIC = [0x43, 0x43, 0x56, 0x53]; // "CCVS"
const FORMAT_VERSION = 1;

/** The decoded content of a verifier snapshot. */
export interface VerifierState {
  /** Trusted-time floor, unix seconds. */
  readonly floor: number;
  /**
   * The latest clock reading the replay window has seen, unix seconds: a code whose entry would
   * have expired by then may have been forgotten, so it is refused as too old.
   */
  readonly replayClock: number;
  /** The `now` of the last successful load, or `null`. */
  readonly lastSyncAt: number | null;
  /** Versions of trust material held (rollback protection across reboots). */
  readonly versions: HeldVersions;
  /** Anti-passback state (JSON), if any. */
  readonly passback: unknown;
  /** The memory replay store's snapshot, or `undefined` for an external store. */
  readonly replay: Uint8Array | undefined;
}

/** Encodes a {@link VerifierState}: `"CCVS" ‖ 1 ‖ u32 len ‖ JSON ‖ u32 len ‖ replay snapshot`. */
export function encodeVerifierState(state: VerifierState): Uint8Array {
  const json = new TextEncoder().encode(
    JSON.stringify({
      floor: state.floor,
      replayClock: state.replayClock,
      lastSyncAt: state.lastSyncAt,
      versions: state.versions,
      passback: state.passback ?? null,
    }),
  );
  const replay = state.replay ?? new Uint8Array(0);
  const out = new Uint8Array(5 + 4 + json.length + 4 + replay.length);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = FORMAT_VERSION;
  view.setUint32(5, json.length);
  out.set(json, 9);
  view.setUint32(9 + json.length, replay.length);
  out.set(replay, 13 + json.length);
  return out;
}

function corrupt(detail: string, cause?: unknown): VerifierError {
  return new VerifierError('ERR_REPLAY_SNAPSHOT_CORRUPT', `verifier snapshot: ${detail}`, { cause });
}

function isMark(v: unknown): boolean {
  return (
    typeof v === 'object' &&
    v !== null &&
    Number.isSafeInteger((v as { version?: unknown }).version) &&
    typeof (v as { digest?: unknown }).digest === 'string'
  );
}

function isMarks(v: unknown): v is Record<string, never> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(isMark);
}

/**
 * Decodes a snapshot made by {@link encodeVerifierState}.
 *
 * @throws `VerifierError` `ERR_REPLAY_SNAPSHOT_CORRUPT` for a truncated or malformed snapshot.
 */
export function decodeVerifierState(bytes: Uint8Array): VerifierState {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('snapshot must be a Uint8Array');
  if (bytes.length < 13 || MAGIC.some((b, i) => bytes[i] !== b)) throw corrupt('bad magic or too short');
  if (bytes[4] !== FORMAT_VERSION) throw corrupt(`unknown format version ${String(bytes[4])}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLen = view.getUint32(5);
  if (13 + jsonLen > bytes.length) throw corrupt('truncated');
  const replayLen = view.getUint32(9 + jsonLen);
  if (13 + jsonLen + replayLen !== bytes.length) throw corrupt('length mismatch');
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(9, 9 + jsonLen)));
  } catch (cause) {
    throw corrupt('bad JSON', cause);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw corrupt('not an object');
  const p = parsed as Record<string, unknown>;
  const v = p.versions as Record<string, unknown> | undefined;
  if (
    typeof p.floor !== 'number' ||
    !Number.isFinite(p.floor) ||
    typeof p.replayClock !== 'number' ||
    !Number.isFinite(p.replayClock) ||
    !(p.lastSyncAt === null || (typeof p.lastSyncAt === 'number' && Number.isFinite(p.lastSyncAt))) ||
    typeof v !== 'object' ||
    v === null ||
    !(v.trustList === undefined || v.trustList === null || isMark(v.trustList)) ||
    !isMarks(v.statusLists) ||
    !isMarks(v.rosters)
  ) {
    throw corrupt('bad fields');
  }
  return {
    floor: p.floor,
    replayClock: p.replayClock as number,
    lastSyncAt: p.lastSyncAt as number | null,
    versions: {
      trustList: (v.trustList ?? undefined) as HeldVersions['trustList'],
      statusLists: v.statusLists as HeldVersions['statusLists'],
      rosters: v.rosters as HeldVersions['rosters'],
    },
    passback: p.passback ?? undefined,
    replay: replayLen > 0 ? bytes.slice(13 + jsonLen) : undefined,
  };
}
