/**
 * The persisted state of a verifier: replay window, trusted-time floor, held versions and
 * anti-passback state, in one byte string.
 *
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { VerifierError } from './errors.js';
import type { HeldVersions } from './trust-store.js';

const MAGIC = [0x43, 0x43, 0x56, 0x53]; // "CCVS"
/** The format written: 2 ends with a checksum; 1 (verifier 0.1) had none and is still read. */
const FORMAT_VERSION = 2;
/** Bytes of the format 2 checksum: SHA-256 of every byte before it, truncated. */
const CHECKSUM_BYTES = 16;

/** The decoded content of a verifier snapshot. */
export interface VerifierState {
  /** Trusted-time floor, unix seconds. */
  readonly floor: number;
  /**
   * The latest clock reading the replay window has seen, unix seconds: a code whose entry would
   * have expired by then may have been forgotten, so it is refused as too old. After
   * `markReplayWindowLost` it lies ahead of the clock, past the expiry of every code made by then.
   */
  readonly replayClock: number;
  /** The `now` of the last successful load, or `null`. */
  readonly lastSyncAt: number | null;
  /**
   * Versions of trust material held (rollback protection across reboots): trust lists per
   * authority (`trustLists`), and the authority-unknown mark of an older snapshot (`trustList`).
   */
  readonly versions: HeldVersions;
  /** Anti-passback state (JSON), if any. */
  readonly passback: unknown;
  /** The memory replay store's snapshot, or `undefined` for an external store. */
  readonly replay: Uint8Array | undefined;
}

/**
 * Encodes a {@link VerifierState}: `"CCVS" ‖ 2 ‖ u32 len ‖ JSON ‖ u32 len ‖ replay snapshot ‖
 * checksum` (the first 16 bytes of the SHA-256 of everything before it), so that a damaged digit of
 * the floor or of a held version is refused instead of restored.
 */
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
  const body = 5 + 4 + json.length + 4 + replay.length;
  const out = new Uint8Array(body + CHECKSUM_BYTES);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = FORMAT_VERSION;
  view.setUint32(5, json.length);
  out.set(json, 9);
  view.setUint32(9 + json.length, replay.length);
  out.set(replay, 13 + json.length);
  out.set(sha256(out.subarray(0, body)).subarray(0, CHECKSUM_BYTES), body);
  return out;
}

function corrupt(detail: string, cause?: unknown): VerifierError {
  return new VerifierError('ERR_REPLAY_SNAPSHOT_CORRUPT', `verifier snapshot: ${detail}`, { cause });
}

/** Absent, or a finite number (a mark's `loadedAt`; older snapshots have none). */
function isOptionalTime(v: unknown): boolean {
  return v === undefined || (typeof v === 'number' && Number.isFinite(v));
}

function isMark(v: unknown): boolean {
  return (
    typeof v === 'object' &&
    v !== null &&
    Number.isSafeInteger((v as { version?: unknown }).version) &&
    typeof (v as { digest?: unknown }).digest === 'string' &&
    isOptionalTime((v as { loadedAt?: unknown }).loadedAt)
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
  const format = bytes[4];
  if (format !== 1 && format !== FORMAT_VERSION) throw corrupt(`unknown format version ${String(format)}`);
  const end = format === 1 ? bytes.length : bytes.length - CHECKSUM_BYTES;
  if (end < 13) throw corrupt('truncated');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLen = view.getUint32(5);
  if (13 + jsonLen > end) throw corrupt('truncated');
  const replayLen = view.getUint32(9 + jsonLen);
  if (13 + jsonLen + replayLen !== end) throw corrupt('length mismatch');
  if (format !== 1) {
    const sum = sha256(bytes.subarray(0, end));
    for (let i = 0; i < CHECKSUM_BYTES; i++)
      if (bytes[end + i] !== sum[i]) throw corrupt('checksum mismatch');
  }
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
    !(v.trustLists === undefined || isMarks(v.trustLists)) ||
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
      // a snapshot of the previous format holds one trust-list mark, of no stated authority, and no
      // `trustLists`: its mark stays authority-unknown (a floor for every authority until the
      // reader learns whose it is, see `HeldVersions.trustList`)
      trustList: (v.trustList ?? undefined) as HeldVersions['trustList'],
      trustLists: (v.trustLists ?? {}) as HeldVersions['trustLists'],
      statusLists: v.statusLists as HeldVersions['statusLists'],
      rosters: v.rosters as HeldVersions['rosters'],
    },
    passback: p.passback ?? undefined,
    replay: replayLen > 0 ? bytes.slice(13 + jsonLen, end) : undefined,
  };
}
