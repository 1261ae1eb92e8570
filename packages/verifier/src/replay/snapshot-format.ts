/**
 * The binary snapshot format of a memory replay store (internal; the public entry points are
 * `MemoryReplayStore.snapshot` and `restoreMemoryReplayStore`).
 *
 * Layout, all integers little-endian:
 *
 * | offset | size | field |
 * | --- | --- | --- |
 * | 0 | 4 | magic `"CCRS"` |
 * | 4 | 1 | version, `1` |
 * | 5 | 3 | reserved, zero |
 * | 8 | 4 | entry count `n` (u32) |
 * | 12 | 20·n | entries: 16-byte digest, then `expiresAt` (u32, unix seconds) |
 * | 12 + 20·n | 16 | checksum: SHA-256 of every byte before it, truncated to 16 bytes |
 *
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { VerifierError } from '../errors.js';

/** Bytes per snapshot entry: 16-byte digest + u32 expiry. */
export const SNAPSHOT_ENTRY_BYTES = 20;
const HEADER_BYTES = 12;
const CHECKSUM_BYTES = 16;
const MAGIC = [0x43, 0x43, 0x52, 0x53]; // "CCRS"
const VERSION = 1;

/** Wraps `count` packed entries (`entries.length === 20 * count`) into a snapshot. */
export function encodeReplaySnapshot(entries: Uint8Array, count: number): Uint8Array {
  const body = HEADER_BYTES + entries.length;
  const out = new Uint8Array(body + CHECKSUM_BYTES);
  out.set(MAGIC, 0);
  out[4] = VERSION;
  new DataView(out.buffer).setUint32(8, count, true);
  out.set(entries, HEADER_BYTES);
  out.set(sha256(out.subarray(0, body)).subarray(0, CHECKSUM_BYTES), body);
  return out;
}

function corrupt(message: string): VerifierError {
  return new VerifierError('ERR_REPLAY_SNAPSHOT_CORRUPT', `replay snapshot: ${message}`);
}

/**
 * Checks a snapshot and returns its packed entries (a view into `bytes`).
 *
 * @throws `VerifierError` `ERR_REPLAY_SNAPSHOT_CORRUPT` for a wrong magic or version, a truncated or
 *   over-long input, or a checksum mismatch.
 */
export function decodeReplaySnapshot(bytes: Uint8Array): { count: number; entries: Uint8Array } {
  if (bytes.length < HEADER_BYTES + CHECKSUM_BYTES) throw corrupt(`truncated (${bytes.length} bytes)`);
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) throw corrupt('bad magic');
  if (bytes[4] !== VERSION) throw corrupt(`unsupported version ${bytes[4]}`);
  if (bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) throw corrupt('reserved bytes are not zero');
  const count = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  const body = HEADER_BYTES + count * SNAPSHOT_ENTRY_BYTES;
  if (bytes.length !== body + CHECKSUM_BYTES) {
    throw corrupt(`length ${bytes.length} does not match ${count} entries (${body + CHECKSUM_BYTES} bytes)`);
  }
  const expected = sha256(bytes.subarray(0, body));
  for (let i = 0; i < CHECKSUM_BYTES; i++) {
    if (bytes[body + i] !== expected[i]) throw corrupt('checksum mismatch');
  }
  return { count, entries: bytes.subarray(HEADER_BYTES, body) };
}
