/**
 * `createGateClient`: the device side of a gate, door, library desk or check-in scanner. Syncs
 * trust material with ETags, keeps the last good copy on disk, decides offline with the
 * verifier, records every decision in a durable outbox, uploads it in acknowledged batches,
 * falls back to online identity resolution when a policy asks, and reports its health.
 *
 * @module
 */

import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  decodePresentation,
  decodeQr,
  decodeRoster,
  decodeStatusList,
  fromBase64Url,
  toBase64Url,
} from '@campus-card/core';
import {
  compileValidator,
  DeviceEvent,
  type DeviceHeartbeatBody,
  DeviceHeartbeatResult,
  EventBatchResult,
  type EventKind,
  PermissionDecision,
  ResolveIdentityResult,
  type Scene,
} from '@campus-card/core/api';
import type { Jwk } from '@campus-card/core/http';
import {
  CampusCardApiError,
  createSharedRun,
  createTransport,
  type Transport,
  type TransportOptions,
} from '@campus-card/core/transport';
import type {
  AcceptedDecision,
  Decision,
  DeniedDecision,
  LoadResult,
  Material,
  MaterialStatus,
  PhysicalCardTap,
  ReaderContext,
  ReasonCode,
  Verifier,
} from '@campus-card/verifier';
import type { Dispatcher } from 'undici';
import { GateClientError } from './errors.js';
import { eventFromDecision, isoSeconds, type RecordOptions, recordFields } from './event-from-decision.js';
import { lockDir } from './lib/dir-lock.js';
import { readFileIfExists, writeFileAtomic } from './lib/fs-atomic.js';
import { type EventOutbox, openEventOutbox, type QuarantinedEvent } from './outbox.js';
import type { ReplayJournalFile } from './replay-journal-file.js';

/** A reader as the gate client sees it: the verifier's reader plus the online fallback switch. */
export interface GateReader extends ReaderContext {
  /**
   * Ask the platform when the offline verifier cannot decide for lack of data (see
   * {@link GateClientOptions.onlineFallbackReasons}). `UNKNOWN_CARD` is asked even without this flag,
   * when it is in `onlineFallbackReasons` (as by default). Default false.
   */
  readonly onlineFallback?: boolean;
}

/** Options of {@link createGateClient}. Durations in ms unless stated otherwise. */
export interface GateClientOptions {
  /** Platform base URL, e.g. `https://api.campus.example`. */
  readonly baseUrl: string;
  /** This device's id (the signature `keyid`, and the owner of the event `seq`s). */
  readonly deviceId: string;
  /** The school whose trust material this reader syncs. */
  readonly schoolId: string;
  /** The device private key (JWK, EC P-256 or Ed25519). */
  readonly privateKey: Jwk;
  /** The offline verifier, created with the school's root keys (configuration, never from the network). */
  readonly verifier: Verifier;
  /**
   * Directory for the last good trust material, the verifier state and the outbox; created if
   * missing. One gate client at a time: it is locked until `close()`.
   */
  readonly dataDir: string;
  /** undici dispatcher (e.g. `MockAgent` in tests); the global dispatcher is never touched. */
  readonly dispatcher?: Dispatcher;
  /** Clock, epoch ms. Default `Date.now`. The verifier gets `floor(now() / 1000)`. */
  readonly now?: () => number;
  /** Interval of trust material sync after {@link GateClient.start}. Default 300 000 (5 min). */
  readonly syncIntervalMs?: number;
  /** Interval of outbox uploads after {@link GateClient.start}. Default 5 000. */
  readonly flushIntervalMs?: number;
  /** Interval of heartbeats after {@link GateClient.start}. Default 60 000. */
  readonly heartbeatIntervalMs?: number;
  /**
   * Most events per upload batch, 1–1000. Default 200. Batches are also cut at
   * {@link GateClientOptions.maxBatchBytes}, and a batch answered 413 is halved for the rest of the
   * flush.
   */
  readonly batchSize?: number;
  /**
   * Largest upload request body, in bytes. Default 196 608 (192 KiB, under the platform's 256 KiB
   * body limit: an event with its audit and QR text can take 1 KB). At least 1024; a single event
   * is always sent, whatever its size.
   */
  readonly maxBatchBytes?: number;
  /** Timeout of the whole online identity fallback (resolve and permission check). Default 1 500. */
  readonly onlineTimeoutMs?: number;
  /**
   * Offline denial reasons that the online fallback may overturn when the reader has
   * `onlineFallback: true`. Default: missing or stale data only (`UNKNOWN_CARD`,
   * `UNKNOWN_ISSUER`, `NO_TRUST_LIST`, `NO_STATUS_LIST`, `*_STALE`). Never add `REPLAYED`,
   * `BAD_SIGNATURE` or `CLOCK_BEFORE_FLOOR`: the platform cannot see what the reader saw (a
   * `RangeError` from {@link createGateClient}).
   */
  readonly onlineFallbackReasons?: readonly ReasonCode[];
  /**
   * Also ask the platform's permission check after an online resolve, for the reader's `zone` (the
   * device's registered zone when the reader has none). Default true.
   */
  readonly onlinePermissionCheck?: boolean;
  /** Fraction of a material's maximum age past which {@link MaterialHealth.alert} is set. Default 0.5. */
  readonly alertRatio?: number;
  /**
   * Transport tuning (timeouts, retries, sleep, `maxResponseBytes`) passed to `createTransport`.
   * Trust material downloads have their own size limits, the format's (spec §2.1): trust list
   * 262 144 bytes, status list 4 194 304, roster 33 554 432.
   */
  readonly transport?: Partial<
    Omit<TransportOptions, 'baseUrl' | 'keyId' | 'privateKey' | 'dispatcher' | 'now'>
  >;
  /** Outbox: seq of the first event of a brand-new outbox (default: epoch ms) and compaction threshold. */
  readonly outbox?: { readonly firstSeq?: number; readonly compactAfter?: number };
  /**
   * Errors of background work (sync, flush, heartbeat, state saving) after {@link GateClient.start},
   * and of the restore at creation. A handler that throws stops nothing: its error is dropped.
   */
  readonly onError?: (error: unknown, task: 'sync' | 'flush' | 'heartbeat' | 'restore' | 'save') => void;
  /**
   * The replay journal the verifier writes through its `onReplayRecord` option
   * ({@link openReplayJournalFile}). With it, codes accepted after the last saved snapshot survive a
   * power cut: they are read back at startup, and older generations are dropped after each save.
   * Without it, a power cut or a crash loses them: the next start marks the replay window lost
   * (`ERR_GATE_REPLAY_WINDOW_LOST`) and refuses every code made up to the mark, so none is accepted
   * twice, but for about `maxFuture` seconds no code passes.
   */
  readonly replayJournal?: ReplayJournalFile;
  /**
   * Hooks for tests and metrics. `afterUpload` runs after the platform acknowledged a batch and
   * before the cursor moves; a throw aborts the flush there (as a crash would).
   */
  readonly hooks?: { readonly afterUpload?: (result: EventBatchResult) => void | Promise<void> };
  /** Software version reported in heartbeats (≤ 64 characters). */
  readonly software?: string;
}

/** How one material fared in a sync. */
export type SyncOutcome = 'updated' | 'unchanged' | 'rejected' | 'failed';

/** The report of {@link GateClient.syncNow}, per material. */
export interface SyncReport {
  /** True when every material was fetched (or confirmed unchanged) and accepted. */
  readonly ok: boolean;
  readonly trustList: MaterialSyncResult;
  readonly statusList: MaterialSyncResult;
  readonly roster: MaterialSyncResult;
}

/** One material's sync outcome. */
export interface MaterialSyncResult {
  readonly outcome: SyncOutcome;
  /** The version held after the sync, if any. */
  readonly version: number | null;
  /** The failure, for `rejected` (a {@link GateClientError} `ERR_GATE_MATERIAL_REJECTED`) and `failed` (a transport error). */
  readonly error?: unknown;
}

/** Health of one material, for the device dashboard. Times are unix seconds. */
export interface MaterialHealth {
  /** Whether the reader holds it. */
  readonly held: boolean;
  readonly version: number | null;
  /** The signed time inside it (`iat`). */
  readonly signedAt: number | null;
  /** `now − signedAt`, seconds. */
  readonly age: number | null;
  /** The verifier's maximum age, seconds. */
  readonly maxAge: number | null;
  /** `fresh`, `grace` (admitted with a warning), `stale` (denied) or `missing`. */
  readonly state: MaterialStatus['state'] | 'missing';
  /** `state` is `stale` or `missing`: scans that need it are denied. */
  readonly stale: boolean;
  /** Alert an operator: stale, missing, or older than `alertRatio × maxAge`. */
  readonly alert: boolean;
  /** Last time the platform confirmed this copy current (200 or 304). */
  readonly lastSyncAt: number | null;
  /** Last time a sync of it was tried. */
  readonly lastAttemptAt: number | null;
  /** The last sync failure, cleared by a success. */
  readonly lastError: { readonly code: string; readonly message: string } | null;
}

/** What {@link GateClient.status} reports. Times are unix seconds. */
export interface GateStatus {
  readonly deviceId: string;
  /** The device clock. */
  readonly clock: number;
  /** The trusted-time floor (0 before any signed time was seen). */
  readonly floor: number;
  /** The clock reads below the floor: every scan is denied until it is corrected. */
  readonly clockBeforeFloor: boolean;
  /** Last successful load of any material (the verifier's view). */
  readonly lastSyncAt: number | null;
  readonly trustList: MaterialHealth;
  readonly statusList: MaterialHealth;
  readonly roster: MaterialHealth;
  readonly outbox: {
    /** Events recorded and not yet acknowledged. */
    readonly depth: number;
    /** The highest seq assigned. */
    readonly lastSeq: number;
    /** The persisted cursor. */
    readonly ackedSeq: number;
    /** Last successful upload. */
    readonly lastFlushAt: number | null;
    readonly lastError: { readonly code: string; readonly message: string } | null;
  };
  /** Human-readable alerts for an operator; empty when all is well. */
  readonly alerts: readonly string[];
}

/** The outcome of {@link GateClient.scan}. */
export interface ScanResult {
  /** The final decision (online when the fallback answered, else offline). */
  readonly decision: Decision;
  /** Where it was decided. */
  readonly source: 'offline' | 'online';
  /** The offline denial the fallback overturned or confirmed, when it ran. */
  readonly offline?: DeniedDecision;
  /** The platform's identity, when the fallback ran and answered. */
  readonly identity?: ResolveIdentityResult;
  /** Why the fallback did not answer (timeout, network, 4xx), when it ran and failed. */
  readonly onlineError?: unknown;
  /** The recorded event's seq. */
  readonly seq: number;
}

/** The report of {@link GateClient.flush}. */
export interface FlushReport {
  /**
   * Events the platform refused (400/422 with its problem body, or 409 `ERR_CONFLICT` for a seq it holds another event for; sent alone), set
   * aside in this flush so that they no longer block the others: see
   * {@link EventOutbox.quarantined}.
   */
  readonly quarantined: readonly QuarantinedEvent[];
  /** Batches sent. */
  readonly batches: number;
  /** Events stored as new by the platform. */
  readonly accepted: number;
  /** Events the platform already held (re-sent after a crash). */
  readonly duplicates: number;
  /** Events still pending. */
  readonly remaining: number;
}

/** The client {@link createGateClient} returns. */
export interface GateClient {
  /**
   * Fetches trust list, status list and roster (If-None-Match), feeds the verifier, persists good
   * copies. Never rejects for platform errors: see the report. Joins a sync already running; rejects
   * with `signal.reason` when `signal` aborts (the sync goes on for the other callers, and stops
   * only when every caller waiting for it has aborted).
   */
  syncNow(options?: { signal?: AbortSignal }): Promise<SyncReport>;
  /** Verifies a scan offline, with the online fallback when it applies, and records the decision. */
  scan(
    input: string | Uint8Array | PhysicalCardTap,
    reader: GateReader,
    options: Omit<RecordOptions, 'input' | 'online'> & { readonly scene?: Scene },
  ): Promise<ScanResult>;
  /** Appends a decision to the durable outbox; resolves with its seq once fsync'd. */
  recordDecision(decision: Decision, options: RecordOptions): Promise<number>;
  /**
   * Uploads pending events in batches (at most `batchSize` events and `maxBatchBytes` bytes each,
   * halved after a 413); each acknowledgement moves the persisted cursor. A batch refused as
   * malformed (400/422 with the platform's problem body, or 409 `ERR_CONFLICT`: one bad event refuses the whole batch) is
   * bisected until the bad events are alone; each is then quarantined (see
   * {@link FlushReport.quarantined}). Rejects with the
   * transport's error, e.g. `ERR_RESPONSE_INVALID` for an answer that is not an `EventBatchResult`
   * (nothing is acknowledged then; the next flush re-sends and the platform dedupes by seq). Joins
   * a flush already running; rejects with `signal.reason` when `signal` aborts (the flush goes on
   * for the other callers, and stops only when every caller waiting for it has aborted).
   */
  flush(options?: { signal?: AbortSignal }): Promise<FlushReport>;
  /** Posts the device status to the platform. */
  heartbeat(options?: { signal?: AbortSignal }): Promise<DeviceHeartbeatResult>;
  /** Staleness of each material, the floor, and the outbox, for an operator dashboard. */
  status(): GateStatus;
  /**
   * Persists the verifier state (floor, replay window, versions); done after every sync and at
   * close. Rejects with `ERR_GATE_CLOSED` once the client is closed (the data directory is no
   * longer this client's).
   */
  saveState(): Promise<void>;
  /** Starts the background sync, upload and heartbeat loops (the first sync, flush and heartbeat run at once). */
  start(): void;
  /** Stops the loops and waits for running work. */
  stop(): Promise<void>;
  /**
   * Refuses new scans and records (`ERR_GATE_CLOSED`), waits for the loops and for the scans and
   * records in flight (a scan whose code the verifier used is recorded), saves the verifier state,
   * closes the outbox and the transport, and lets the data-dir lock go, whichever of these fails.
   * If the save fails, the lock file is left behind (as after a crash), so the next start marks the
   * replay window lost unless a replay journal holds it. A second `close()` waits for the first.
   */
  close(): Promise<void>;
  /** The outbox (read-only use: depth, pending). */
  readonly outbox: EventOutbox;
}

/** The materials, with the largest encoding the format allows (spec §2.1), the download limit. */
const KINDS: readonly { material: Material; file: string; segment: string; maxBytes: number }[] = [
  { material: 'trustList', file: 'trust-list.json', segment: 'trust-list', maxBytes: 262_144 },
  { material: 'statusList', file: 'status-list.json', segment: 'status-list', maxBytes: 4_194_304 },
  { material: 'roster', file: 'roster.json', segment: 'roster', maxBytes: 33_554_432 },
];

/** Bytes of `{"events":[]}` around the events of a batch body. */
const BATCH_OVERHEAD = 13;

/** The longest prefix of `events` whose batch body fits in `maxBytes` (at least one event). */
function fitBytes(events: readonly DeviceEvent[], maxBytes: number): readonly DeviceEvent[] {
  let bytes = BATCH_OVERHEAD;
  for (let i = 0; i < events.length; i++) {
    bytes += Buffer.byteLength(JSON.stringify(events[i])) + 1;
    if (bytes > maxBytes) return events.slice(0, Math.max(1, i));
  }
  return events;
}

/**
 * A refusal of a batch's content: 400 or 422 with the platform's problem body (not a proxy's page),
 * not retryable, not about the idempotency key; or 409 `ERR_CONFLICT`, an event under a seq the
 * platform holds another event for (a data directory wiped and numbered again from `firstSeq`).
 * One such event refuses the whole batch.
 */
function isMalformed(e: unknown): e is CampusCardApiError & { status: number } {
  return (
    e instanceof CampusCardApiError &&
    (e.status === 400 || e.status === 422 || (e.status === 409 && e.code === 'ERR_CONFLICT')) &&
    e.problem !== undefined &&
    !e.retryable &&
    !e.code.startsWith('ERR_IDEMPOTENCY')
  );
}

/** A path segment that the URL parser would not resolve away (`.` and `..` are dot segments). */
function assertSegment(name: string, v: unknown): asserts v is string {
  if (typeof v !== 'string' || v === '' || v === '.' || v === '..')
    throw new TypeError(`${name} must be a non-empty string other than "." and ".."`);
}

/**
 * How far past the boot clock (or the trusted-time floor, if later) a clock reading recorded before
 * a restart is believed, when a lost replay window is marked: one day. A boot clock reading up to a
 * day slow (a real-time clock that lost power, and a floor older than the readings) still gets a
 * mark covering every code the last run may have accepted; a reading from a clock that once ran
 * further ahead costs at most a day of refused codes after such a restart, not as long as it ran
 * ahead.
 */
const RECORDED_CLOCK_SLACK_S = 86_400;

/** The scene hint a QR text carries; undefined for none, or a text that does not decode. */
function sceneOf(qrText: string): number | undefined {
  try {
    return decodePresentation(decodeQr(qrText)).scene;
  } catch {
    return undefined;
  }
}

/** Denials the online fallback may never overturn (see {@link GateClientOptions.onlineFallbackReasons}). */
const NEVER_ONLINE: readonly ReasonCode[] = ['REPLAYED', 'BAD_SIGNATURE', 'CLOCK_BEFORE_FLOOR'];

/** Default {@link GateClientOptions.onlineFallbackReasons}. */
export const DEFAULT_ONLINE_FALLBACK_REASONS: readonly ReasonCode[] = Object.freeze([
  'UNKNOWN_CARD',
  'UNKNOWN_ISSUER',
  'NO_TRUST_LIST',
  'NO_STATUS_LIST',
  'TRUST_LIST_STALE',
  'STATUS_LIST_STALE',
  'ROSTER_STALE',
] as const);

const SCENE_OF_KIND: Readonly<Record<EventKind, Scene>> = {
  access: 'access',
  attendance: 'checkin',
  pickup: 'access',
  library_enter: 'library',
  library_borrow: 'library',
  library_return: 'library',
  checkin: 'checkin',
  dorm_lock: 'dorm',
};

interface Held {
  bytes: Uint8Array;
  etag: string | null;
  /** When it was fetched, epoch ms. */
  fetchedAt: number;
  /** Whether the copy is on disk (false after a failed write: the next sync tries again). */
  stored: boolean;
}

interface SyncState {
  lastSyncAt: number | null;
  lastAttemptAt: number | null;
  lastError: { code: string; message: string } | null;
}

const validateEvent = compileValidator(DeviceEvent);

/** Throws `ERR_GATE_EVENT_INVALID` for an event the contract refuses. */
function assertEventValid(event: unknown): void {
  const check = validateEvent(event);
  if (!check.ok) {
    throw new GateClientError(
      'ERR_GATE_EVENT_INVALID',
      `event does not fit the contract: ${check.issues[0]?.path} ${check.issues[0]?.message}`,
      { detail: { issues: check.issues } },
    );
  }
}

function errorSummary(err: unknown): { code: string; message: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return {
    code: typeof code === 'string' ? code : 'ERR_UNKNOWN',
    message: err instanceof Error ? err.message : String(err),
  };
}

/**
 * The school a status list or roster names, read from its payload before anything is installed;
 * `undefined` for a trust list, or bytes that do not decode (the verifier then refuses them).
 */
function schoolNamed(material: Material, bytes: Uint8Array): string | undefined {
  try {
    if (material === 'statusList') return decodeStatusList(bytes).statusList.school;
    if (material === 'roster') return decodeRoster(bytes).roster.school;
  } catch {
    // not decodable: the verifier's load says why
  }
  return undefined;
}

/** The opaque-tag of an entity-tag: `W/"x"` and `"x"` are one tag to `If-None-Match` (RFC 9110 §8.8.3.2). */
const opaqueTag = (etag: string): string => (etag.startsWith('W/') ? etag.slice(2) : etag);

/**
 * Whether `etag` may be kept to ask for `bytes` again. The platform's tags are
 * `"<segment>-v<version>-<first 12 hex digits of the SHA-256 of the bytes>"`: one of that form
 * whose digest is another document's names other bytes (a cache that mixed answers up), and sent
 * back it would be answered 304 while this copy is not the current one. Tags of other forms are
 * opaque and kept.
 */
function etagNamesBytes(etag: string, segment: string, bytes: Uint8Array): boolean {
  const m = /^"([a-z-]+)-v\d+-([0-9a-f]{12})"$/.exec(opaqueTag(etag));
  if (m === null || m[1] !== segment) return true;
  return createHash('sha256').update(bytes).digest('hex').slice(0, 12) === m[2];
}

function load(verifier: Verifier, material: Material, bytes: Uint8Array, now: number): LoadResult {
  if (material === 'trustList') return verifier.loadTrustList(bytes, { now });
  if (material === 'statusList') return verifier.loadStatusList(bytes, { now });
  return verifier.loadRoster(bytes, { now });
}

function positive(name: string, v: number | undefined, fallback: number): number {
  const x = v ?? fallback;
  if (!Number.isFinite(x) || x <= 0) throw new RangeError(`"${name}" must be a positive number`);
  return x;
}

/**
 * Creates a gate client and reloads its state from `dataDir`: the verifier snapshot (floor,
 * replay window, versions), then the last good trust material, then the outbox. A reader
 * restarted without network therefore decides exactly as before the restart (except after a lost
 * replay window, `ERR_GATE_REPLAY_WINDOW_LOST`). The client holds
 * `dataDir` (its file `lock`) until {@link GateClient.close}: a lock left by a process that no
 * longer runs (a crash, a power cut) is taken over.
 *
 * @throws `TypeError`/`RangeError` for bad options; {@link GateClientError} `ERR_GATE_DATA_DIR_LOCKED`
 * while another gate client (of this process or another) uses `dataDir`; `ERR_GATE_OUTBOX_IO` when
 * the outbox cannot be opened; whatever marking a lost replay window throws (a verifier without
 * `markReplayWindowLost`), the lock then left behind so that the next start marks it.
 * @example
 * ```ts
 * const verifier = createVerifier({ rootKeys: [schoolRootKey] });
 * const gate = await createGateClient({ baseUrl, deviceId: 'gate-01', schoolId: 'sch-demo', privateKey, verifier, dataDir: '/var/lib/gate' });
 * gate.start();
 * const { decision } = await gate.scan(qrText, { id: 'gate-01', direction: 'in' }, { kind: 'access' });
 * if (decision.accepted) openGate();
 * ```
 */
export async function createGateClient(options: GateClientOptions): Promise<GateClient> {
  const { verifier, deviceId, schoolId, dataDir } = options;
  assertSegment('deviceId', deviceId);
  assertSegment('schoolId', schoolId);
  if (typeof dataDir !== 'string' || dataDir === '') throw new TypeError('dataDir must be a non-empty path');
  if (typeof verifier?.verify !== 'function')
    throw new TypeError('verifier must be a createVerifier() instance');
  const nowMs = options.now ?? Date.now;
  const nowS = () => Math.floor(nowMs() / 1000);
  const syncIntervalMs = positive('syncIntervalMs', options.syncIntervalMs, 300_000);
  const flushIntervalMs = positive('flushIntervalMs', options.flushIntervalMs, 5_000);
  const heartbeatIntervalMs = positive('heartbeatIntervalMs', options.heartbeatIntervalMs, 60_000);
  const onlineTimeoutMs = positive('onlineTimeoutMs', options.onlineTimeoutMs, 1_500);
  const alertRatio = positive('alertRatio', options.alertRatio, 0.5);
  const batchSize = options.batchSize ?? 200;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1000)
    throw new RangeError('"batchSize" must be an integer in 1..1000');
  const maxBatchBytes = options.maxBatchBytes ?? 196_608;
  if (!Number.isSafeInteger(maxBatchBytes) || maxBatchBytes < 1024)
    throw new RangeError('"maxBatchBytes" must be an integer ≥ 1024');
  const fallbackReasons = new Set<ReasonCode>(
    options.onlineFallbackReasons ?? DEFAULT_ONLINE_FALLBACK_REASONS,
  );
  // what the platform cannot judge, since it never saw the scan: refused, not silently overturned
  for (const reason of NEVER_ONLINE) {
    if (fallbackReasons.has(reason))
      throw new RangeError(
        `onlineFallbackReasons must not include ${reason}: the platform cannot see what the reader saw`,
      );
  }
  const reportTo = options.onError;
  /** Reports to `onError`; a handler that throws stops nothing (not a start, a sync or a close). */
  const onError: NonNullable<GateClientOptions['onError']> = (error, task) => {
    try {
      reportTo?.(error, task);
    } catch {
      // the integrator's handler failed: the client goes on
    }
  };
  const materialDir = join(dataDir, 'material');
  const statePath = join(dataDir, 'verifier-state.bin');

  const transport: Transport = createTransport({
    ...options.transport,
    baseUrl: options.baseUrl,
    keyId: deviceId,
    privateKey: options.privateKey,
    now: nowMs,
    ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
  });

  // 0. one client per data directory: two would number events alike and interleave journals
  const lock = await lockDir(dataDir);

  // 1. the verifier state: floor, replay window, held versions (rollback protection), then the
  //    replay journal written since that snapshot (codes accepted just before a power cut)
  /** Why the last run's replay window cannot be read back whole, if it cannot. */
  let windowLost: string | undefined;
  try {
    const snap = await readFileIfExists(statePath);
    if (snap !== undefined) verifier.restore(new Uint8Array(snap), { now: nowS() });
    // the snapshot is written before sync-state.json, and atomically, and a client with material
    // has synced: without the snapshot, it was deleted
    else if (
      (await readFileIfExists(join(dataDir, 'sync-state.json'))) !== undefined ||
      (await readdir(materialDir).catch(() => [])).length > 0
    ) {
      windowLost = 'the state file is missing';
    }
  } catch (err) {
    windowLost = 'the state file could not be restored';
    onError(err, 'restore');
  }
  if (options.replayJournal) {
    try {
      options.replayJournal.restoreInto(verifier, nowS());
    } catch (err) {
      windowLost ??= 'the replay journal is damaged';
      onError(err, 'restore');
    }
  } else if (lock.tookOverStale) {
    windowLost ??= 'the last run stopped without close() and no replay journal is configured';
  }
  // 2. the last good trust material, loaded as of when it was fetched (a restore is not a sync)
  const held = new Map<Material, Held>();
  const sync = new Map<Material, SyncState>();
  for (const k of KINDS) {
    sync.set(k.material, { lastSyncAt: null, lastAttemptAt: null, lastError: null });
    try {
      const raw = await readFileIfExists(join(materialDir, k.file));
      if (raw === undefined) continue;
      const doc = JSON.parse(raw.toString('utf8')) as {
        etag?: unknown;
        fetched_at?: unknown;
        bytes?: unknown;
      };
      const bytes = typeof doc.bytes === 'string' ? fromBase64Url(doc.bytes) : undefined;
      const fetchedAt = typeof doc.fetched_at === 'number' ? doc.fetched_at : 0;
      if (bytes === undefined) throw new GateClientError('ERR_GATE_OUTBOX_IO', `corrupt ${k.file}`);
      const named = schoolNamed(k.material, bytes);
      if (named !== undefined && named !== schoolId) {
        throw new GateClientError(
          'ERR_GATE_MATERIAL_REJECTED',
          `stored ${k.material} is school ${named}'s, not ${schoolId}'s`,
        );
      }
      const r = load(verifier, k.material, bytes, Math.floor(fetchedAt / 1000));
      if (!r.ok) {
        throw new GateClientError('ERR_GATE_MATERIAL_REJECTED', `stored ${k.material} refused: ${r.reason}`, {
          detail: { ...r },
        });
      }
      held.set(k.material, {
        bytes,
        // (a copy stored before its ETag was checked against its bytes may hold one of other bytes)
        etag: typeof doc.etag === 'string' && etagNamesBytes(doc.etag, k.segment, bytes) ? doc.etag : null,
        fetchedAt,
        stored: true,
      });
      (sync.get(k.material) as SyncState).lastSyncAt = Math.floor(fetchedAt / 1000);
    } catch (err) {
      onError(err, 'restore');
    }
  }
  try {
    const raw = await readFileIfExists(join(dataDir, 'sync-state.json'));
    if (raw !== undefined) {
      const saved = JSON.parse(raw.toString('utf8')) as Record<string, Partial<SyncState>>;
      for (const k of KINDS) {
        const s = saved[k.material];
        const cur = sync.get(k.material) as SyncState;
        if (typeof s?.lastSyncAt === 'number' && held.has(k.material)) cur.lastSyncAt = s.lastSyncAt;
        if (typeof s?.lastAttemptAt === 'number') cur.lastAttemptAt = s.lastAttemptAt;
      }
    }
  } catch (err) {
    onError(err, 'restore');
  }

  // 3. the outbox
  const outbox = await openEventOutbox({ dir: join(dataDir, 'outbox'), ...options.outbox }).catch(
    async (err: unknown) => {
      await Promise.allSettled([transport.close()]);
      if (windowLost === undefined) await lock.release();
      else lock.abandon(); // the next start must still mark the lost window
      throw err;
    },
  );
  // Whole lines that could not be read (disk damage, a hand edit; not the torn last line a crash
  // mid-append leaves, which is expected): their events are gone, and only the operator can find
  // them again, from the reader's own logs.
  if (outbox.recovered.corrupt > 0) {
    onError(
      new GateClientError(
        'ERR_GATE_OUTBOX_IO',
        `${outbox.recovered.corrupt} unreadable line(s) of the event journal were skipped: their events are lost`,
        { detail: { corrupt: outbox.recovered.corrupt } },
      ),
      'restore',
    );
  }

  // 4. a replay window that cannot be read back whole: fail closed, every code the last run may
  //    have accepted is refused until it expires. The boot clock may read slow: the mark starts at
  //    the latest clock reading this directory recorded, if later (events, syncs, fetches).
  //    A reading is believed up to RECORDED_CLOCK_SLACK_S past the boot clock or the trusted-time
  //    floor: one from a clock that once ran far ahead must not lock the reader out for as long.
  if (windowLost !== undefined) {
    try {
      const bootS = nowS();
      const limit = Math.max(bootS, verifier.status(bootS).floor) + RECORDED_CLOCK_SLACK_S;
      let seen = bootS;
      const see = (at: unknown): void => {
        if (typeof at === 'number' && Number.isFinite(at) && at > seen) seen = Math.min(at, limit);
      };
      for (const st of sync.values()) see(st.lastAttemptAt);
      for (const h of held.values()) see(Math.floor(h.fetchedAt / 1000));
      for (const ev of outbox.pending()) see(Math.floor(Date.parse(ev.occurred_at) / 1000));
      const refusedThrough = verifier.markReplayWindowLost({ now: seen });
      if (refusedThrough !== null) {
        onError(
          new GateClientError(
            'ERR_GATE_REPLAY_WINDOW_LOST',
            `the replay window of the last run is lost (${windowLost}): codes made up to ${refusedThrough} are refused`,
            { detail: { refusedThrough } },
          ),
          'restore',
        );
      }
    } catch (err) {
      // the lock stays behind, as a crash leaves it: the next start must mark the window too
      await Promise.allSettled([outbox.close(), transport.close()]);
      lock.abandon();
      throw err;
    }
  }

  let closed = false;
  /** `close()` has begun: no new work starts, and the scans in flight finish and are recorded. */
  let closing = false;
  let lastFlushAt: number | null = null;
  let lastFlushError: { code: string; message: string } | null = null;
  // One sync and one flush at a time, joined by every caller; a caller's abort stops only its wait
  // (the work stops once no caller waits for it).
  const syncing = createSharedRun((signal) => track(doSync(signal)));
  const flushing = createSharedRun((signal) => track(doFlush(signal)));
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const running = new Set<Promise<unknown>>();
  let started = false;

  function assertOpen(): void {
    if (closed || closing) throw new GateClientError('ERR_GATE_CLOSED', 'the gate client is closed');
  }

  // saves run one after the other: each deletes the journal generations its snapshot covers, so an
  // older snapshot written after a newer one would lose the records in between
  let saving: Promise<void> = Promise.resolve();
  function saveState(): Promise<void> {
    const p = saving.then(saveStateNow);
    saving = p.catch(() => {});
    return p;
  }

  async function saveStateNow(): Promise<void> {
    // a new journal generation starts in the same synchronous step as the snapshot, so every
    // older record is in the snapshot and every newer one stays in the journal
    const dropOlder = options.replayJournal?.rotate();
    await writeFileAtomic(statePath, verifier.snapshot({ now: nowS() }));
    dropOlder?.();
    const out: Record<string, SyncState> = {};
    for (const [m, s] of sync) out[m] = s;
    await writeFileAtomic(join(dataDir, 'sync-state.json'), JSON.stringify(out));
  }

  /**
   * Stores a good copy. A failed write (disk full) is reported to `onError` as `save` and does not
   * stop the sync: the copy is in use in memory, and the next sync stores it again.
   */
  async function storeMaterial(k: (typeof KINDS)[number], h: Held): Promise<void> {
    try {
      await writeFileAtomic(
        join(materialDir, k.file),
        JSON.stringify({ etag: h.etag, fetched_at: h.fetchedAt, bytes: toBase64Url(h.bytes) }),
      );
      h.stored = true;
    } catch (err) {
      h.stored = false;
      onError(err, 'save');
    }
  }

  async function fetchMaterial(
    k: (typeof KINDS)[number],
    useEtag: boolean,
    signal: AbortSignal | undefined,
  ): Promise<MaterialSyncResult> {
    const state = sync.get(k.material) as SyncState;
    const h = held.get(k.material);
    const foreign = (school: string): MaterialSyncResult => {
      const err = new GateClientError(
        'ERR_GATE_MATERIAL_REJECTED',
        `${k.material} of school ${school}, not of this gate's school ${schoolId}`,
      );
      state.lastError = errorSummary(err);
      return { outcome: 'rejected', version: versionOf(k.material), error: err };
    };
    const etag = useEtag ? h?.etag : null;
    state.lastAttemptAt = nowS();
    let res: Awaited<ReturnType<typeof transport.request<Uint8Array>>>;
    try {
      res = await transport.request<Uint8Array>({
        method: 'GET',
        path: `/v1/schools/${encodeURIComponent(schoolId)}/${k.segment}`,
        responseType: 'bytes',
        maxResponseBytes: k.maxBytes,
        ...(etag === null || etag === undefined ? {} : { headers: { 'if-none-match': etag } }),
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (err) {
      state.lastError = errorSummary(err);
      return { outcome: 'failed', version: versionOf(k.material), error: err };
    }
    const now = nowS();
    // (a 304 answers only a request that sent If-None-Match; to one without, it is no answer; one
    // that names another entity-tag than the one sent confirms nothing of the copy held)
    if (res.status === 304 && h !== undefined && etag !== null && etag !== undefined) {
      const named = res.headers.etag;
      if (named !== undefined && opaqueTag(named) !== opaqueTag(etag)) return fetchMaterial(k, false, signal);
      // unchanged: re-present the held bytes so the verifier records the sync (a no-op otherwise)
      const r = load(verifier, k.material, h.bytes, now);
      if (!r.ok) return fetchMaterial(k, false, signal); // the held copy was dropped: fetch in full
      if (!h.stored) await storeMaterial(k, h);
      state.lastSyncAt = now;
      state.lastError = null;
      return { outcome: 'unchanged', version: r.version };
    }
    if (res.status !== 200 || !(res.body instanceof Uint8Array)) {
      const err = new GateClientError(
        'ERR_GATE_MATERIAL_REJECTED',
        `unexpected ${res.status} for ${k.segment}`,
      );
      state.lastError = errorSummary(err);
      return { outcome: 'failed', version: versionOf(k.material), error: err };
    }
    // Another school's list or roster (a trust list whose key signs for several schools lets one
    // in) is refused before the verifier holds it: it would replace this school's roster, or leave
    // its status list to go stale, and overwrite the good copy on disk.
    const named = schoolNamed(k.material, res.body);
    if (named !== undefined && named !== schoolId) return foreign(named);
    const r = load(verifier, k.material, res.body, now);
    if (r.ok && r.school !== undefined && r.school !== schoolId) {
      // (a verifier that says so only once it loaded it: this school's copy goes back in)
      if (h !== undefined) load(verifier, k.material, h.bytes, now);
      return foreign(r.school);
    }
    if (!r.ok) {
      const err = new GateClientError(
        'ERR_GATE_MATERIAL_REJECTED',
        `${k.material} refused by the verifier: ${r.reason}${r.detail ? ` (${r.detail})` : ''}`,
        { detail: { ...r } },
      );
      state.lastError = errorSummary(err);
      return { outcome: 'rejected', version: versionOf(k.material), error: err };
    }
    const tag = res.headers.etag;
    const fetched: Held = {
      bytes: res.body,
      etag: tag !== undefined && etagNamesBytes(tag, k.segment, res.body) ? tag : null,
      fetchedAt: nowMs(),
      stored: false,
    };
    held.set(k.material, fetched);
    await storeMaterial(k, fetched);
    state.lastSyncAt = now;
    state.lastError = null;
    return { outcome: r.changed ? 'updated' : 'unchanged', version: r.version };
  }

  function versionOf(material: Material): number | null {
    const s = verifier.status(nowS());
    if (material === 'trustList') return s.trustList?.version ?? null;
    if (material === 'statusList') return s.statusLists[schoolId]?.version ?? null;
    return s.roster?.version ?? null;
  }

  async function doSync(signal: AbortSignal | undefined): Promise<SyncReport> {
    const [tl, sl, ro] = KINDS as [(typeof KINDS)[number], (typeof KINDS)[number], (typeof KINDS)[number]];
    const trustList = await fetchMaterial(tl, true, signal);
    // a new trust list may drop lists its keys no longer sign: fetch the others in full then
    const useEtag = trustList.outcome !== 'updated';
    const statusList = await fetchMaterial(sl, useEtag, signal);
    const roster = await fetchMaterial(ro, useEtag, signal);
    try {
      await saveState();
    } catch (err) {
      onError(err, 'save');
    }
    const good = (r: MaterialSyncResult) => r.outcome === 'updated' || r.outcome === 'unchanged';
    return { ok: good(trustList) && good(statusList) && good(roster), trustList, statusList, roster };
  }

  function materialHealth(material: Material, ms: MaterialStatus | null | undefined): MaterialHealth {
    const s = sync.get(material) as SyncState;
    if (ms === null || ms === undefined) {
      return {
        held: false,
        version: null,
        signedAt: null,
        age: null,
        maxAge: null,
        state: 'missing',
        stale: true,
        alert: true,
        lastSyncAt: null,
        lastAttemptAt: s.lastAttemptAt,
        lastError: s.lastError,
      };
    }
    const stale = ms.state === 'stale';
    return {
      held: true,
      version: ms.version,
      signedAt: ms.iat,
      age: ms.age,
      maxAge: ms.maxAge,
      state: ms.state,
      stale,
      alert: ms.state !== 'fresh' || ms.age >= alertRatio * ms.maxAge,
      lastSyncAt: s.lastSyncAt,
      lastAttemptAt: s.lastAttemptAt,
      lastError: s.lastError,
    };
  }

  function status(): GateStatus {
    const now = nowS();
    const v = verifier.status(now);
    const trustList = materialHealth('trustList', v.trustList);
    const statusList = materialHealth('statusList', v.statusLists[schoolId]);
    const roster = materialHealth('roster', v.roster);
    const alerts: string[] = [];
    if (v.clockBeforeFloor)
      alerts.push(`clock ${isoSeconds(now)} is before the trusted-time floor ${isoSeconds(v.floor)}`);
    for (const [name, h] of [
      ['trust list', trustList],
      ['status list', statusList],
      ['roster', roster],
    ] as const) {
      if (!h.held) alerts.push(`no ${name} held`);
      else if (h.alert)
        alerts.push(`${name} v${h.version} is ${h.age} s old (${h.state}; denied past ${h.maxAge} s)`);
    }
    if (lastFlushError !== null) alerts.push(`event upload failing: ${lastFlushError.code}`);
    return {
      deviceId,
      clock: now,
      floor: v.floor,
      clockBeforeFloor: v.clockBeforeFloor,
      lastSyncAt: v.lastSyncAt,
      trustList,
      statusList,
      roster,
      outbox: {
        depth: outbox.depth,
        lastSeq: outbox.lastSeq,
        ackedSeq: outbox.ackedSeq,
        lastFlushAt,
        lastError: lastFlushError,
      },
      alerts,
    };
  }

  async function recordDecision(decision: Decision, opts: RecordOptions): Promise<number> {
    assertOpen();
    return appendDecision(decision, opts);
  }

  /** Records a decision (a scan's own, already under way when `close()` began, too). */
  async function appendDecision(decision: Decision, opts: RecordOptions): Promise<number> {
    const ev = eventFromDecision(decision, opts, nowMs());
    assertEventValid({ seq: 0, ...ev });
    return (await outbox.append(ev)).seq;
  }

  async function doFlush(signal: AbortSignal | undefined): Promise<FlushReport> {
    let batches = 0;
    let accepted = 0;
    let duplicates = 0;
    const quarantined: QuarantinedEvent[] = [];
    // events per batch: halved on every 413 for the rest of this flush (the platform dedupes
    // events by (device_id, seq), so a smaller re-sent batch stores nothing twice)
    let limit = batchSize;
    // and halved on every malformed-batch refusal, until the bad event is alone
    let probe = batchSize;
    try {
      for (;;) {
        const batch = fitBytes(outbox.pending(Math.min(limit, probe)), maxBatchBytes);
        if (batch.length === 0) break;
        let body: EventBatchResult;
        try {
          ({ body } = await transport.request<EventBatchResult>({
            method: 'POST',
            path: '/v1/events/batches',
            body: { events: batch },
            schema: EventBatchResult,
            ...(signal === undefined ? {} : { signal }),
          }));
        } catch (err) {
          if (err instanceof CampusCardApiError && err.status === 413 && batch.length > 1) {
            limit = Math.ceil(batch.length / 2);
            continue;
          }
          if (isMalformed(err)) {
            if (batch.length > 1) {
              probe = Math.ceil(batch.length / 2);
              continue;
            }
            const event = batch[0] as DeviceEvent;
            const reason = { code: err.code, status: err.status, message: err.message, at: nowMs() };
            if (await outbox.quarantine(event.seq, reason)) quarantined.push({ event, reason });
            probe = batchSize;
            continue;
          }
          throw err;
        }
        batches++;
        accepted += body.accepted;
        duplicates += body.duplicates;
        await options.hooks?.afterUpload?.(body);
        const before = outbox.ackedSeq;
        // only what this batch carried: a seq acknowledged but never sent would be lost
        const sent = new Set(batch.map((e) => e.seq));
        const after = await outbox.ack(body.acked_seqs.filter((seq) => sent.has(seq)));
        if (after === before) {
          throw new GateClientError(
            'ERR_GATE_OUTBOX_IO',
            `the platform did not acknowledge seq ${batch[0]?.seq}`,
          );
        }
      }
    } catch (err) {
      lastFlushError = errorSummary(err);
      throw err;
    }
    lastFlushAt = nowS();
    lastFlushError = null;
    return { batches, accepted, duplicates, quarantined, remaining: outbox.depth };
  }

  async function online(
    input: string | Uint8Array | PhysicalCardTap,
    reader: GateReader,
    scene: Scene,
    offline: DeniedDecision,
  ): Promise<{ decision: Decision; identity: ResolveIdentityResult } | { error: unknown }> {
    let body: Record<string, unknown>;
    if (typeof input === 'string') body = { qr_text: input };
    else if (input instanceof Uint8Array)
      return { error: new TypeError('presentation bytes cannot be resolved online') };
    else body = { uid_hex: Buffer.from(input.uid).toString('hex') };
    body.scene = scene;
    // The reader's zone, as its event records it: a zone the contract cannot take (empty, over 64
    // characters) leaves the device's registered one, here as there.
    const zone =
      reader.zone !== undefined && reader.zone.length > 0 && reader.zone.length <= 64
        ? reader.zone
        : undefined;
    if (zone !== undefined) body.location = zone;
    const signal = AbortSignal.timeout(onlineTimeoutMs);
    try {
      const { body: identity } = await transport.request<ResolveIdentityResult>({
        method: 'POST',
        path: '/v1/identity/resolve',
        body,
        schema: ResolveIdentityResult,
        signal,
        maxRetries: 0,
      });
      const id = identity.identity;
      let allowed = id.card_status === 'active' && id.school_id === schoolId;
      let reason: ReasonCode = id.school_id !== schoolId ? 'UNKNOWN_CARD' : 'REVOKED';
      let rule: string | undefined;
      if (allowed && options.onlinePermissionCheck !== false) {
        // at the reader's zone, as offline: a controller serving several doors (a lab door beside
        // the main gate) must get the platform's decision for the door scanned, not for the zone
        // the device is registered with (nor a 400 when it is registered with none)
        const { body: perm } = await transport.request<PermissionDecision>({
          method: 'POST',
          path: '/v1/identity/permissions/check',
          body: { card_id: id.card_id, scene, ...(zone === undefined ? {} : { zone }) },
          schema: PermissionDecision,
          signal,
          maxRetries: 0,
        });
        allowed = perm.allowed;
        reason = 'POLICY_DENIED';
        rule = `platform:${perm.reason}`;
      }
      // a code the platform admitted enters this reader's replay window before the door opens: it
      // must not pass here again offline (the same code, once the material is fresh again), and a
      // code that already passed here offline is not let in twice. Before the policy, so nothing
      // runs between the policy's check and its commit.
      let refusedUse: string | undefined;
      if (allowed && typeof input === 'string') {
        const used = await verifier.recordUse(input, { now: nowS() });
        if (!used.ok) {
          allowed = false;
          reason = used.reason;
          rule = undefined;
          refusedUse = used.detail;
        }
      }
      const mode = identity.source === 'physical_card' ? 'physical' : 'full';
      // the scene the code itself carries, for the reader's scene rules (a tap has none)
      const shownScene = typeof input === 'string' ? sceneOf(input) : undefined;
      // the reader's own policy, on the groups the platform resolved, with the verifier's
      // anti-passback state: a card gets the same decision online as offline (C2, C4)
      let passage: { commit(): void } | undefined;
      if (allowed) {
        const own = verifier.checkPolicy(
          {
            school: id.school_id,
            cardId: id.card_id,
            role: id.role,
            groups: id.groups,
            mode,
            scene: shownScene,
          },
          { now: nowS(), reader },
        );
        if (own.ok) passage = own;
        else {
          allowed = false;
          reason = 'POLICY_DENIED';
          rule = own.rule;
        }
      }
      const audit = offline.audit;
      if (allowed) {
        passage?.commit();
        const d: AcceptedDecision = {
          accepted: true,
          school: id.school_id,
          role: id.role,
          cardId: id.card_id,
          groups: id.groups,
          linkedCards: id.linked_card_ids,
          physicalCard: id.physical_card_number ?? undefined,
          mode,
          scene: shownScene,
          t: undefined,
          warnings: [],
          audit,
        };
        return { decision: d, identity };
      }
      const denied: DeniedDecision = {
        accepted: false,
        reason,
        detail: `online: card ${id.card_status}${rule === undefined ? '' : `, ${rule}`}${refusedUse === undefined ? '' : `; here: ${refusedUse}`}`,
        cardId: id.card_id,
        school: id.school_id,
        audit,
        ...(rule === undefined ? {} : { rule }),
      };
      return { decision: denied, identity };
    } catch (err) {
      return { error: err };
    }
  }

  async function scan(
    input: string | Uint8Array | PhysicalCardTap,
    reader: GateReader,
    opts: Omit<RecordOptions, 'input' | 'online'> & { readonly scene?: Scene },
  ): Promise<ScanResult> {
    assertOpen();
    const { scene: sceneOpt, ...rec } = opts;
    // the caller's part of the event is checked before the verifier uses the code up: a bad
    // option (an item id over 64 characters, say) must not cost the holder their code
    assertEventValid({ seq: 0, decision: 'denied', ...recordFields(rec, rec.occurredAtMs ?? nowMs()) });
    const decision = await verifier.verify(input, { now: nowS(), reader });
    const record: RecordOptions = {
      ...rec,
      input,
      ...(rec.direction === undefined && reader.direction !== undefined
        ? { direction: reader.direction }
        : {}),
      ...(rec.zone === undefined && reader.zone !== undefined ? { zone: reader.zone } : {}),
    };
    if (
      !decision.accepted &&
      fallbackReasons.has(decision.reason) &&
      (reader.onlineFallback === true || decision.reason === 'UNKNOWN_CARD') &&
      !(input instanceof Uint8Array)
    ) {
      const scene = sceneOpt ?? SCENE_OF_KIND[opts.kind];
      const r = await online(input, reader, scene, decision);
      if ('decision' in r) {
        const seq = await appendDecision(r.decision, { ...record, online: true });
        return { decision: r.decision, source: 'online', offline: decision, identity: r.identity, seq };
      }
      const seq = await appendDecision(decision, record);
      return { decision, source: 'offline', offline: decision, onlineError: r.error, seq };
    }
    const seq = await appendDecision(decision, record);
    return { decision, source: 'offline', seq };
  }

  async function heartbeat(opts: { signal?: AbortSignal } = {}): Promise<DeviceHeartbeatResult> {
    assertOpen();
    const s = status();
    const health = (h: MaterialHealth): DeviceHeartbeatBody['trust_list'] =>
      h.held && h.version !== null && h.signedAt !== null && h.age !== null && h.maxAge !== null
        ? {
            version: h.version,
            signed_at: isoSeconds(h.signedAt),
            age_s: h.age,
            max_age_s: h.maxAge,
            state: h.state === 'missing' ? 'stale' : h.state,
          }
        : null;
    const body: DeviceHeartbeatBody = {
      clock: isoSeconds(s.clock),
      trust_list: health(s.trustList),
      status_list: health(s.statusList),
      roster: health(s.roster),
      last_sync_at: s.lastSyncAt === null ? null : isoSeconds(s.lastSyncAt),
      floor: s.floor > 0 ? isoSeconds(s.floor) : null,
      clock_before_floor: s.clockBeforeFloor,
      outbox_depth: s.outbox.depth,
      last_seq: s.outbox.lastSeq > 0 ? s.outbox.lastSeq : null,
      ...(options.software === undefined ? {} : { software: options.software }),
    };
    const { body: res } = await transport.request<DeviceHeartbeatResult>({
      method: 'POST',
      path: `/v1/devices/${encodeURIComponent(deviceId)}/heartbeat`,
      body,
      schema: DeviceHeartbeatResult,
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
    });
    return res;
  }

  /** Runs `fn` while the client is open, as work `close()` waits for (rejects once it is closing). */
  function whileOpen<T>(fn: () => Promise<T>): Promise<T> {
    try {
      assertOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    return track(fn());
  }

  function track<T>(p: Promise<T>): Promise<T> {
    running.add(p);
    const done = () => running.delete(p);
    p.then(done, done);
    return p;
  }

  function loop(task: 'sync' | 'flush' | 'heartbeat', intervalMs: number, fn: () => Promise<unknown>): void {
    const tick = async () => {
      if (!started) return;
      try {
        await track(fn());
      } catch (err) {
        onError(err, task);
      }
      if (!started) return;
      const t = setTimeout(() => {
        timers.delete(t);
        void tick();
      }, intervalMs);
      t.unref?.();
      timers.add(t);
    };
    void tick();
  }

  const client: GateClient = {
    outbox,
    syncNow(opts = {}) {
      assertOpen();
      return syncing.run(opts.signal);
    },
    // a scan in flight holds close() back: the verifier has used its code, so its record must land
    scan: (input, reader, opts) => whileOpen(() => scan(input, reader, opts)),
    recordDecision: (decision, opts) => whileOpen(() => recordDecision(decision, opts)),
    flush(opts = {}) {
      assertOpen();
      return flushing.run(opts.signal);
    },
    heartbeat,
    status,
    saveState() {
      // once closed, the data directory may be another client's: an older snapshot written over
      // its state would roll back its replay window and floor
      if (closed) return Promise.reject(new GateClientError('ERR_GATE_CLOSED', 'the gate client is closed'));
      return saveState();
    },
    start() {
      assertOpen();
      if (started) return;
      started = true;
      loop('sync', syncIntervalMs, () => client.syncNow());
      loop('flush', flushIntervalMs, () => client.flush());
      loop('heartbeat', heartbeatIntervalMs, () => heartbeat());
    },
    async stop() {
      started = false;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await Promise.allSettled([...running]);
    },
    close() {
      closingRun ??= closeNow();
      return closingRun;
    },
  };
  /** The one run of `close()`: a second call waits for the first. */
  let closingRun: Promise<void> | undefined;
  async function closeNow(): Promise<void> {
    closing = true;
    // the loops, and the scans and records in flight, finish first
    await client.stop();
    closed = true;
    let saved = true;
    try {
      await saveState();
    } catch (err) {
      saved = false;
      onError(err, 'save');
    }
    // each step runs whatever the one before did: the data-dir lock is always let go. Unsaved
    // state is lost state: the lock is then left on disk, as a crash leaves it, so the next start
    // knows (and marks the replay window lost unless a journal holds it)
    try {
      await outbox.close();
    } finally {
      try {
        await transport.close();
      } finally {
        if (saved) await lock.release();
        else lock.abandon();
      }
    }
  }
  return client;
}
