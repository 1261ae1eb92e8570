/**
 * A verifier stand-in for the gate client's tests that mock the platform's HTTP answers.
 *
 * @module
 */
import type { Decision, LoadResult, Material, Verifier, VerifierStatus } from '@campus-card/verifier';

const NOW = Date.UTC(2026, 0, 5, 8, 0, 0);

/** A verifier stand-in: byte 0 of the material is its version; a lower version is a rollback. */
export function stubVerifier(decision?: Decision, schoolOf: (m: Material) => string = () => 'sch-1') {
  const held: Partial<Record<Material, { bytes: Uint8Array; version: number }>> = {};
  const loads: { material: Material; version: number; now: number }[] = [];
  const load =
    (material: Material) =>
    (bytes: Uint8Array, { now }: { now: number }): LoadResult => {
      const version = bytes[0] ?? 0;
      loads.push({ material, version, now });
      const prev = held[material];
      if (prev !== undefined && version < prev.version)
        return { ok: false, material, reason: 'ROLLBACK', detail: 'older' } as LoadResult;
      held[material] = { bytes, version };
      return {
        ok: true,
        material,
        version,
        iat: Math.floor(NOW / 1000) - 60,
        school: material === 'trustList' ? undefined : schoolOf(material),
        changed: prev?.version !== version,
      } as LoadResult;
    };
  const ms = (material: Material, now: number) => {
    const h = held[material];
    const iat = Math.floor(NOW / 1000) - 60;
    return h === undefined
      ? null
      : { version: h.version, iat, age: now - iat, maxAge: 86_400, state: 'fresh' as const };
  };
  const verifier: Verifier = {
    loadTrustList: load('trustList'),
    loadStatusList: load('statusList'),
    loadRoster: load('roster'),
    async verify() {
      if (decision === undefined) throw new Error('no decision configured');
      return decision;
    },
    checkPolicy: () => ({ ok: true, commit() {} }),
    snapshot: () => new Uint8Array([1, 2, 3]),
    restore() {},
    replayJournal: () => ({ records: 0, applied: 0, validByteLength: 0, tornBytes: 0, expiredUntil: 0 }),
    markReplayWindowLost: () => null,
    recordUse: async () => ({ ok: true }),
    status(now): VerifierStatus {
      const sl = ms('statusList', now);
      const ro = ms('roster', now);
      return {
        trustList: ms('trustList', now),
        statusLists: sl === null ? {} : { 'sch-1': sl },
        roster: ro === null ? null : { ...ro, school: 'sch-1' },
        lastSyncAt: null,
        clock: now,
        floor: 0,
        clockBeforeFloor: false,
      };
    },
  };
  return { verifier, loads };
}
