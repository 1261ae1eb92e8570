/**
 * The gate side of the chaos test: a fleet of simulated readers (gates, library desks, dorm
 * locks, check-in scanners), each a real gate client with its own data directory, that scan
 * fresh demo-card QR codes and physical cards, upload, sync, send heartbeats and restart at
 * random (cleanly, or by a power cut: between upload and acknowledgement, or with a torn journal
 * line) against a running mock platform. After the drain every event a reader recorded must be
 * stored by the platform exactly once, under its `(device_id, seq)`.
 *
 * Every event carries a unique tag in `item_id`, so an event stored twice under two different
 * seqs would show too, not only one stored twice under the same seq.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createPresentation,
  encodeQr,
  exportJwk,
  fromBase64Url,
  generateKeyPair,
  importPrivateJwk,
  importPublicJwk,
  type Jwk,
  type PublicKey,
} from '@campus-card/core';
import type { EventKind, PublicJwk } from '@campus-card/core/api';
import { DEMO_OPERATOR as OPERATOR, type RunningMockPlatform } from '@campus-card/mock-server';
import { createVerifier } from '@campus-card/verifier';
import { Agent } from 'undici';
import { createGateClient, type GateClient, type GateReader } from '../../src/index.js';
import { leaveLockOfDeadProcess } from '../helpers.js';

/** Options of {@link runGateFleet}. */
export interface GateFleetOptions {
  readonly server: RunningMockPlatform;
  /** Directory under which each reader gets its own data directory. */
  readonly dir: string;
  /** Number of readers; default 10. */
  readonly devices?: number;
  /** Operations per reader; default 100. */
  readonly opsPerDevice?: number;
  /** Seed of the operation mix; default 1. */
  readonly seed?: number;
  /**
   * For a platform shared with other fleets. When given, this fleet leaves fault injection to the
   * caller (it neither sets nor clears the faults) and awaits this after its operations, before
   * its drain: the caller turns the faults off there, once every fleet is done.
   */
  readonly beforeDrain?: () => Promise<void>;
}

/** What the gate side did and what the final check found. */
export interface GateFleetReport {
  readonly counts: Record<string, number>;
  /** Every disagreement between a reader and the platform (empty when all is well). */
  readonly problems: readonly string[];
}

/** What a reader recorded for one seq. */
interface Recorded {
  readonly kind: EventKind;
  readonly decision: 'allowed' | 'denied';
  readonly tag: string;
}

interface Reader {
  readonly id: string;
  readonly jwk: Jwk;
  readonly dataDir: string;
  readonly reader: GateReader;
  readonly kinds: readonly EventKind[];
  client: GateClient;
  agent: Agent;
  /** Power cut between the platform's acknowledgement and the cursor write, on the next upload. */
  powerCutOnAck: boolean;
  /** A torn journal line was left by the last power cut: the outbox must cut it at open. */
  tornLeft: boolean;
  ops: number;
}

class PowerCut extends Error {
  constructor() {
    super('power cut between upload and acknowledgement');
  }
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4_294_967_296;
  };
}

const PROFILES = [
  { type: 'gate', zone: 'gate:main', kinds: ['access', 'attendance', 'pickup'] },
  { type: 'library_desk', zone: 'library', kinds: ['library_enter', 'library_borrow', 'library_return'] },
  { type: 'lock_controller', zone: 'dorm:B3', kinds: ['dorm_lock', 'access'] },
  { type: 'checkin', zone: 'checkin:hall', kinds: ['checkin', 'attendance'] },
  { type: 'gate', zone: 'gate:east', kinds: ['access', 'pickup'] },
] as const;

/** Runs the gate fleet; see the module comment. */
export async function runGateFleet(options: GateFleetOptions): Promise<GateFleetReport> {
  const { server } = options;
  const platform = server.platform;
  const demo = platform.demo;
  if (demo === undefined) throw new Error('the chaos fleet needs the demo data');
  const n = options.devices ?? 10;
  const ops = options.opsPerDevice ?? 100;
  const seed = options.seed ?? 1;
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const counts: Record<string, number> = {};
  const count = (k: string, by = 1) => {
    counts[k] = (counts[k] ?? 0) + by;
  };
  const problems: string[] = [];
  const recorded = new Map<string, Recorded>(); // by `${device_id}:${seq}`
  const recentQrs: string[] = []; // codes already shown, for replays on the same or another reader
  await mkdir(options.dir, { recursive: true });

  const root = await platform.invoke('getRootKey', { params: { school_id: demo.schoolId } }, OPERATOR);
  const rootKey: PublicKey = importPublicJwk((root.body as { jwk: unknown }).jwk);

  async function qrOf(personId: string, ageS = 0): Promise<string> {
    const c = demo?.cards.find((x) => x.personId === personId);
    if (c === undefined) throw new Error(`no card for ${personId}`);
    const bytes = await createPresentation(
      { credential: fromBase64Url(c.credential) as Uint8Array, t: platform.clock.nowSeconds() - ageS },
      importPrivateJwk(c.holderPrivateJwk),
    );
    return encodeQr(bytes);
  }

  async function boot(r: Omit<Reader, 'client' | 'agent'> & Partial<Reader>): Promise<Reader> {
    const agent = new Agent({ keepAliveTimeout: 10, keepAliveMaxTimeout: 10 });
    const g = r as Reader;
    const client = await createGateClient({
      baseUrl: server.url,
      deviceId: r.id,
      schoolId: demo?.schoolId ?? 'sch-demo',
      privateKey: r.jwk,
      verifier: createVerifier({ rootKeys: [rootKey] }),
      dataDir: r.dataDir,
      dispatcher: agent,
      now: () => platform.clock.now(),
      batchSize: 16, // several batches per upload, so a power cut can fall between two of them
      onlineTimeoutMs: 2_000,
      transport: {
        maxRetries: 3,
        retryBaseMs: 5,
        retryMaxMs: 50,
        requestTimeoutMs: 5_000,
        random: rng(seed * 7919 + r.ops + 1),
      },
      hooks: {
        afterUpload: () => {
          if (!g.powerCutOnAck) return;
          g.powerCutOnAck = false;
          throw new PowerCut();
        },
      },
    });
    if (r.tornLeft) {
      if (!client.outbox.recovered.torn) problems.push(`${r.id}: torn journal line not recovered`);
      else count('gate.torn_lines_cut');
      r.tornLeft = false;
    }
    return Object.assign(g, { client, agent });
  }

  /** A clean restart: close (saves the verifier state, closes the outbox) and open again. */
  async function restart(r: Reader): Promise<void> {
    count('gate.restarts');
    await r.client.close();
    await r.agent.close();
    await boot(r);
  }

  /**
   * A power cut: nothing is saved (no verifier snapshot, no cursor write); the process is gone.
   * The outbox file is only released (every append already resolved was fsync'd); sometimes an
   * append that was being written is left as a torn last line.
   */
  async function powerCut(r: Reader, torn: boolean): Promise<void> {
    count('gate.power_cuts');
    await r.client.outbox.close();
    await r.agent.destroy();
    if (torn) {
      await appendFile(
        join(r.dataDir, 'outbox', 'events.jsonl'),
        `{"seq":${r.client.outbox.lastSeq + 1},"ki`,
      );
      r.tornLeft = true;
      count('gate.torn_lines_left');
    }
    leaveLockOfDeadProcess(r.dataDir);
    await boot(r);
  }

  // Register the readers and give each its first trust material (before the faults).
  const readers: Reader[] = [];
  for (let i = 0; i < n; i++) {
    const id = `gate-chaos-${String(i + 1).padStart(2, '0')}`;
    const profile = PROFILES[i % PROFILES.length] as (typeof PROFILES)[number];
    const key = generateKeyPair('ES256').privateKey;
    const res = await platform.invoke(
      'createDevice',
      {
        body: {
          device_id: id,
          school_id: demo.schoolId,
          type: profile.type,
          zone: profile.zone,
          public_jwk: exportJwk(key) as PublicJwk,
        },
      },
      OPERATOR,
    );
    if (res.status >= 300) throw new Error(`createDevice ${id}: ${JSON.stringify(res.body)}`);
    const r = await boot({
      id,
      jwk: exportJwk(key, { includePrivate: true }),
      dataDir: join(options.dir, id),
      reader: { id, zone: profile.zone, onlineFallback: i % 2 === 0 },
      kinds: profile.kinds,
      powerCutOnAck: false,
      tornLeft: false,
      ops: 0,
    });
    // installation: sync until the reader holds its trust material (the faults may be on already)
    for (let attempt = 1; !(await r.client.syncNow()).ok; attempt++) {
      if (attempt === 20) throw new Error(`${id}: no trust material after 20 syncs`);
      count('gate.install_sync_retries');
    }
    readers.push(r);
  }

  const people = demo.cards.map((c) => c.personId);
  const linkedUids = demo.cards.flatMap((c) => (c.physicalUidHex === null ? [] : [c.physicalUidHex]));

  async function scan(r: Reader, what: 'fresh' | 'replay' | 'tap' | 'old' | 'junk'): Promise<void> {
    const kind = pick(r.kinds);
    const tag = `${r.id}#${r.ops}`;
    let input: string | { uid: Uint8Array };
    if (what === 'fresh' || (what === 'replay' && recentQrs.length === 0)) {
      input = await qrOf(pick(people));
      recentQrs.push(input);
      if (recentQrs.length > 50) recentQrs.shift();
    } else if (what === 'replay') input = pick(recentQrs);
    else if (what === 'old') input = await qrOf(pick(people), 600);
    else if (what === 'junk') input = 'not a campus card';
    else {
      const hex =
        rand() < 0.6
          ? pick(linkedUids)
          : Array.from({ length: 7 }, () =>
              Math.floor(rand() * 256)
                .toString(16)
                .padStart(2, '0'),
            ).join('');
      input = { uid: Uint8Array.from(Buffer.from(hex, 'hex')) };
    }
    const res = await r.client.scan(input, r.reader, {
      kind,
      direction: rand() < 0.5 ? 'in' : 'out',
      itemId: tag,
    });
    const decision = res.decision.accepted ? 'allowed' : 'denied';
    const key = `${r.id}:${res.seq}`;
    if (recorded.has(key)) problems.push(`${key}: seq given twice by the outbox`);
    recorded.set(key, { kind, decision, tag });
    count('gate.events_recorded');
    count(`gate.scan_${what}_${decision}`);
    if (res.source === 'online') count('gate.online_decisions');
    if (res.onlineError !== undefined) count('gate.online_failures');
  }

  async function flush(r: Reader): Promise<void> {
    if (rand() < 0.3) r.powerCutOnAck = true;
    try {
      const f = await r.client.flush();
      count('gate.uploads_ok');
      count('gate.upload_batches', f.batches);
      count('gate.upload_accepted', f.accepted);
      count('gate.upload_duplicates', f.duplicates);
    } catch (e) {
      if (e instanceof PowerCut) {
        count('gate.power_cuts_before_ack');
        await powerCut(r, false);
        return;
      }
      // transport errors after the retries (drops, 5xx): the events stay pending
      count('gate.upload_errors');
    } finally {
      r.powerCutOnAck = false;
    }
  }

  async function drive(r: Reader): Promise<void> {
    for (; r.ops < ops; r.ops++) {
      const x = rand();
      if (x < 0.5) await scan(r, 'fresh');
      else if (x < 0.56) await scan(r, 'replay');
      else if (x < 0.62) await scan(r, 'tap');
      else if (x < 0.64) await scan(r, 'old');
      else if (x < 0.65) await scan(r, 'junk');
      else if (x < 0.8) await flush(r);
      else if (x < 0.86) {
        const s = await r.client.syncNow();
        count(s.ok ? 'gate.syncs_ok' : 'gate.syncs_failed');
      } else if (x < 0.9) {
        try {
          await r.client.heartbeat();
          count('gate.heartbeats_ok');
        } catch {
          count('gate.heartbeats_failed');
        }
      } else if (x < 0.95) await restart(r);
      else await powerCut(r, rand() < 0.5);
      count('gate.ops');
    }
  }

  await Promise.all(readers.map((r) => drive(r)));

  // Drain: faults off; every reader restarts once, syncs, and uploads until its outbox is empty.
  if (options.beforeDrain !== undefined) await options.beforeDrain();
  else platform.state.faults.clear();
  for (const r of readers) {
    await restart(r);
    await r.client.syncNow();
    for (let i = 0; i < 5 && r.client.outbox.depth > 0; i++) {
      try {
        const f = await r.client.flush();
        count('gate.upload_accepted', f.accepted);
        count('gate.upload_duplicates', f.duplicates);
      } catch (e) {
        problems.push(`${r.id}: upload failed with the faults off: ${String(e)}`);
      }
    }
    const o = r.client.outbox;
    if (o.depth > 0 || o.ackedSeq !== o.lastSeq)
      problems.push(`${r.id}: ${o.depth} events still pending (cursor ${o.ackedSeq}, last ${o.lastSeq})`);
  }

  // Check: the platform holds exactly what the readers recorded.
  const rows = platform.state.db
    .prepare("SELECT device_id, seq, kind, decision, item_id FROM events WHERE device_id LIKE 'gate-chaos-%'")
    .all() as { device_id: string; seq: number; kind: string; decision: string; item_id: string | null }[];
  const stored = new Map<string, (typeof rows)[number]>();
  const tags = new Map<string, number>();
  for (const row of rows) {
    const key = `${row.device_id}:${row.seq}`;
    if (stored.has(key)) problems.push(`${key}: stored twice`);
    stored.set(key, row);
    if (row.item_id !== null) tags.set(row.item_id, (tags.get(row.item_id) ?? 0) + 1);
    if (!recorded.has(key)) problems.push(`${key}: stored, but no reader recorded it`);
  }
  for (const [tag, k] of tags) if (k > 1) problems.push(`event ${tag}: stored ${k} times (doubled)`);
  for (const [key, ev] of recorded) {
    const row = stored.get(key);
    if (row === undefined)
      problems.push(`${key} (${ev.tag}): recorded by the reader, missing on the platform`);
    else if (row.kind !== ev.kind || row.decision !== ev.decision || row.item_id !== ev.tag)
      problems.push(
        `${key}: recorded ${ev.kind}/${ev.decision}/${ev.tag}, stored ${row.kind}/${row.decision}/${row.item_id}`,
      );
  }
  count('platform.events', rows.length);
  count('platform.events_allowed', rows.filter((r) => r.decision === 'allowed').length);
  count('platform.events_denied', rows.filter((r) => r.decision === 'denied').length);
  const incidents = platform.state.db
    .prepare("SELECT COUNT(*) AS n FROM incidents WHERE kind = 'code_used_twice'")
    .get() as { n: number };
  count('platform.incidents_code_used_twice', incidents.n);

  for (const r of readers) {
    await r.client.close();
    await r.agent.close();
  }
  return { counts, problems };
}
