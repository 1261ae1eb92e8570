/**
 * `createMockPlatform`: the platform state, the fastify app and the push dispatcher.
 *
 * @module
 */
import { join } from 'node:path';
import { DEFAULT_DAY_UTC_OFFSET, formatUtcOffset, parseUtcOffset } from '@campus-card/core';
import type { OperationId, RouteDef } from '@campus-card/core/api';
import { getRoute } from '@campus-card/core/api';
import { DEFAULT_MAX_STALENESS } from '@campus-card/verifier';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type {
  Handler,
  HandlerContext,
  HandlerResult,
  Handlers,
  PlatformSettings,
  PlatformState,
  Principal,
} from './context.js';
import { type DemoCredentials, loadDemo } from './demo.js';
import { adminHandlers } from './domains/admin.js';
import { attendanceHandlers } from './domains/attendance.js';
import { cardHandlers, forgetTrustCaches } from './domains/cards.js';
import { directoryHandlers } from './domains/directory.js';
import { identityHandlers } from './domains/identity.js';
import { incidentHandlers } from './domains/incidents.js';
import { ledgerHandlers } from './domains/ledger.js';
import { paymentHandlers, settleDue } from './domains/payments.js';
import { statementHandlers } from './domains/statements.js';
import {
  createPushDispatcher,
  forgetSubscriptions,
  type PushDispatcher,
  platformKey,
  webhookHandlers,
} from './domains/webhooks.js';
import {
  type Checkpointer,
  type CheckpointerStats,
  startCheckpointer,
  walSizeLimitBytes,
} from './lib/checkpointer.js';
import { createClock, type VirtualClock } from './lib/clock.js';
import { openDatabase } from './lib/db.js';
import { createFaultInjector } from './lib/faults.js';
import { createGroupCommit } from './lib/group-commit.js';
import { forgetNoncesPrunedUntil, pruneExpired } from './lib/prune.js';
import { createRandomTokens } from './lib/random-token.js';
import { createRecorder, type Recorder } from './lib/recorder.js';
import { createRng } from './lib/rng.js';
import { cachePreparedStatements } from './lib/statement-cache.js';

/** The default database file, relative to the working directory. */
export const DEFAULT_DB_PATH: string = join('.campus-card-mock', 'platform.db');

/** Options of {@link createMockPlatform}. */
export interface MockPlatformOptions {
  /**
   * SQLite path. Default `:memory:`, so that a platform made inside tests never writes to disk or
   * shares state between runs. The CLI (`campus-card-mock`, `npm start`) passes a file,
   * {@link DEFAULT_DB_PATH}, so that its data survives a restart.
   */
  readonly dbPath?: string;
  /** The virtual clock (default: real time, movable). */
  readonly clock?: VirtualClock;
  /** Seed of fault injection and demo keys. Default 1. */
  readonly seed?: number;
  /** Load the demo school, people, devices, merchants and cards. Default false. */
  readonly demo?: boolean;
  /** Answer `/admin/...` routes. Default true. */
  readonly admin?: boolean;
  /**
   * Also append the recording to this JSON-lines file (every entry, however many). A path that
   * cannot be opened for appending makes {@link createMockPlatform} reject with the error of
   * `open`; a write that fails later (disk full) stops the file only (`recorder.fileError`).
   */
  readonly recordFile?: string;
  /**
   * Recorded entries kept in memory for `GET /admin/recording` and `recorder.entries`: the newest
   * ones. Default 10 000 (every entry holds its request and response bodies, and a large live heap
   * makes every major GC pause longer). The file, when given, has them all.
   */
  readonly recordMemoryEntries?: number;
  /**
   * The most memory those entries may take, bytes, as `recordEntrySize` counts them (oldest
   * dropped first). Default 32 MiB (`DEFAULT_RECORD_MEMORY_BYTES`).
   */
  readonly recordMemoryBytes?: number;
  /** Maximum request body in bytes. Default 262 144. */
  readonly bodyLimit?: number;
  /**
   * Check every JSON response against the contract; a mismatch becomes a 500 `ERR_INTERNAL` naming
   * it. For testing the platform itself. Default: on when `CAMPUS_CARD_CHECK_RESPONSES=1`.
   */
  readonly checkResponses?: boolean;
  /**
   * Tunables (see {@link PlatformSettings}), e.g. `{ dayUtcOffset: '+08:00' }`, the UTC offset of
   * the business day (default `+08:00`). An invalid one rejects with a RangeError naming it.
   */
  readonly settings?: Partial<PlatformSettings>;
  /**
   * The UTC offset of the business day, `±HH:MM` within ±14:00; default `+08:00` (China Standard
   * Time). The same as `settings.dayUtcOffset`, which wins when both are given. Anything else
   * rejects with a RangeError.
   */
  readonly dayUtcOffset?: string;
  /** Push dispatcher poll interval, ms. Default 200. */
  readonly pushIntervalMs?: number;
  /**
   * SQLite `synchronous` in WAL mode. `NORMAL` (default) does not fsync on COMMIT: a power
   * loss (not a process crash) can lose the last commits, but never corrupts the file. `FULL`
   * fsyncs the WAL on every COMMIT (once per group-commit batch). See docs/guides/mock-platform.md.
   */
  readonly synchronous?: 'NORMAL' | 'FULL';
  /**
   * Group commit: the writes of concurrent requests share one transaction (a savepoint each),
   * committed at the end of the event-loop turn, and every response waits for its COMMIT.
   * Default true; false gives one transaction per request.
   */
  readonly groupCommit?: boolean;
  /**
   * WAL checkpoint period of the worker thread that checkpoints a file database, ms (automatic
   * checkpoints on the main thread are off). Default 250.
   */
  readonly checkpointIntervalMs?: number;
  /**
   * WAL frames (pages) past which the WAL is made to start over from its beginning: the event loop
   * checkpoints the last short tail right after a COMMIT (see `lib/checkpointer.ts`). Default
   * 16 384 (64 MiB of 4 KiB pages).
   */
  readonly checkpointRestartFrames?: number;
}

/** A running (not listening) mock platform. */
export interface MockPlatform {
  /** The fastify app (use `app.inject()` in tests). */
  readonly app: FastifyInstance;
  /** The state: database, clock, faults, recorder. */
  readonly state: PlatformState;
  /** The virtual clock. */
  readonly clock: VirtualClock;
  /** The recorder. */
  readonly recorder: Recorder;
  /** The push dispatcher (`pushes.pump()` delivers due pushes now). */
  readonly pushes: PushDispatcher;
  /** Demo credentials when `demo` was set. */
  readonly demo: DemoCredentials | undefined;
  /**
   * Calls an operation directly, without HTTP or signatures (setup code and tests). Its writes join
   * the open group-commit batch, if any, and it answers without waiting for that batch's COMMIT
   * (unlike an HTTP answer): await `state.groupCommit.settled()` when a failed COMMIT matters.
   */
  invoke(
    operationId: OperationId,
    input: { params?: object; query?: object; body?: object },
    principal?: Principal,
  ): Promise<HandlerResult>;
  /**
   * How the WAL was kept bounded so far: tails the event loop checkpointed itself, RESTART
   * checkpoints the worker fell back to (see `lib/checkpointer.ts`). `undefined` for an in-memory
   * database, which has no WAL.
   */
  checkpointStats(): CheckpointerStats | undefined;
  /** Stops pushes, closes the app and the database. */
  close(): Promise<void>;
}

/** Every domain's handlers. */
export const handlers: Handlers = {
  ...adminHandlers,
  ...directoryHandlers,
  ...cardHandlers,
  ...identityHandlers,
  ...paymentHandlers,
  ...statementHandlers,
  ...attendanceHandlers,
  ...webhookHandlers,
  ...ledgerHandlers,
  ...incidentHandlers,
};

/**
 * The settings with their defaults; a re-sign age or offline age that is not a positive number, or
 * a business day offset that is not `±HH:MM` within ±14:00, is a RangeError.
 */
function platformSettings(given: Partial<PlatformSettings> = {}): PlatformSettings {
  const settings: PlatformSettings = {
    confirmThreshold: 50_000,
    confirmDelayS: 5,
    signatureToleranceS: 300,
    idempotencyTtlS: 86_400,
    codeMaxAgeS: 90,
    codeMaxFutureS: 30,
    // half of what readers accept by default, so one missed sync never leaves them stale
    statusListResignAfterS: DEFAULT_MAX_STALENESS.statusList / 2,
    rosterResignAfterS: DEFAULT_MAX_STALENESS.roster / 2,
    trustListResignAfterS: DEFAULT_MAX_STALENESS.trustList / 2,
    offlineMaxAgeS: 7 * 86_400,
    dayUtcOffset: DEFAULT_DAY_UTC_OFFSET,
    ...given,
  };

  for (const k of [
    'statusListResignAfterS',
    'rosterResignAfterS',
    'trustListResignAfterS',
    'offlineMaxAgeS',
  ] as const) {
    const v = settings[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new RangeError(`settings.${k} must be a positive number of seconds, got ${String(v)}`);
    }
  }
  // `-00:00` is the same day as `+00:00`, and is published as that
  return {
    ...settings,
    dayUtcOffset: formatUtcOffset(parseUtcOffset(settings.dayUtcOffset, 'dayUtcOffset')),
  };
}

/**
 * Creates the mock platform: opens (and migrates) the database, builds the app, starts the
 * push dispatcher and optionally loads demo data.
 *
 * @example
 * ```ts
 * const platform = await createMockPlatform({ dbPath: ':memory:', demo: true });
 * const res = await platform.app.inject({ method: 'GET', url: '/health' });
 * await platform.close();
 * ```
 */
export async function createMockPlatform(options: MockPlatformOptions = {}): Promise<MockPlatform> {
  const settings = platformSettings({
    ...(options.dayUtcOffset === undefined ? {} : { dayUtcOffset: options.dayUtcOffset }),
    ...options.settings,
  });
  const dbPath = options.dbPath ?? ':memory:';
  // first: a recording file that cannot be written throws here, before anything else is opened
  const recorder = createRecorder({
    ...(options.recordMemoryEntries === undefined ? {} : { maxEntries: options.recordMemoryEntries }),
    ...(options.recordMemoryBytes === undefined ? {} : { maxBytes: options.recordMemoryBytes }),
    ...(options.recordFile === undefined ? {} : { file: options.recordFile }),
  });
  let db: ReturnType<typeof openDatabase>;
  try {
    db = openDatabase(dbPath);
  } catch (error) {
    await recorder.close();
    throw error;
  }
  db.pragma(`synchronous = ${options.synchronous === 'FULL' ? 'FULL' : 'NORMAL'}`);
  // A larger page cache: random-key B-tree inserts (ids, nonces, codes) otherwise miss the
  // default 2 MB cache and spill dirty pages mid-batch.
  db.pragma('cache_size = -65536');
  db.pragma('temp_store = MEMORY');
  cachePreparedStatements(db);
  let checkpointer: Checkpointer | undefined;
  if (dbPath !== ':memory:' && dbPath !== '') {
    // Checkpoints fsync: keep them off the event loop (see lib/checkpointer.ts).
    db.pragma('wal_autocheckpoint = 0');
    db.pragma(
      `journal_size_limit = ${walSizeLimitBytes(Number(db.pragma('page_size', { simple: true })), options.checkpointRestartFrames)}`,
    );
    checkpointer = startCheckpointer(dbPath, {
      ...(options.checkpointIntervalMs === undefined ? {} : { intervalMs: options.checkpointIntervalMs }),
      ...(options.checkpointRestartFrames === undefined
        ? {}
        : { restartFrames: options.checkpointRestartFrames }),
      onFailure: (error) => {
        // no worker: SQLite checkpoints inside COMMIT again (slower, but the WAL stays bounded)
        console.warn('[campus-card-mock] checkpoint worker unavailable, SQLite checkpoints itself:', error);
        if (db.open) db.pragma('wal_autocheckpoint = 1000');
      },
    });
  }
  // One transaction wrapper for every call: `db.transaction(fn)` builds four wrapped functions
  // each time. The wrapper opens a transaction, or a savepoint when one is open, at call time.
  // IMMEDIATE: a deferred transaction that reads first and then writes gets SQLITE_BUSY at once,
  // without the busy timeout, when the checkpoint worker holds the write lock (its fallback
  // RESTART); one that takes the lock at BEGIN waits for it.
  const runInTransaction: <T>(fn: () => T) => T = db.transaction((fn: () => unknown) => fn())
    .immediate as never;
  const groupCommit = createGroupCommit(db, {
    enabled: options.groupCommit ?? true,
    onError: (err) => console.error('[campus-card-mock] group commit failed, batch rolled back:', err),
    // the writer checkpoints the WAL's last tail itself, so that no RESTART holds it back
    ...(checkpointer === undefined ? {} : { onCommitted: () => checkpointer.afterCommit(db) }),
  });
  const clock = options.clock ?? createClock();
  const seed = options.seed ?? 1;
  let dispatcher: PushDispatcher | undefined;
  const state: PlatformState = {
    db,
    clock,
    rng: createRng(seed),
    ids: createRandomTokens(),
    recorder,
    faults: createFaultInjector(seed),
    settings,
    adminEnabled: options.admin ?? true,
    tx: runInTransaction,
    groupCommit,
    kickPushes: () => {
      // a wake-up does not wait for the deliveries (pump() would hold on to every push under way)
      dispatcher?.kick();
    },
    afterCommit: [],
  };
  // What memory keeps of rows that requests write may hold rows of a batch whose COMMIT failed:
  // dropped then, before any waiter hears of it, and read from the database again on next use.
  // (The principals' keys of the app too: see app.ts. The rest kept in memory is not rows a
  // request writes: the platform's push key, made at startup; verified credentials, by hash.)
  groupCommit.onRollback(() => {
    forgetSubscriptions(state);
    forgetTrustCaches(state);
    forgetNoncesPrunedUntil(state);
  });
  let app: FastifyInstance;
  try {
    // The platform's push-signing key exists from the start, so no read (GET /v1/platform/keys)
    // ever writes it.
    state.tx(() => platformKey(state));
    app = buildApp(state, handlers, {
      ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }),
      ...(options.checkResponses === undefined ? {} : { checkResponses: options.checkResponses }),
    });
  } catch (error) {
    // (the write lock held elsewhere past the busy timeout, a full disk): nothing is left open
    await checkpointer?.close();
    if (db.open) db.close();
    await recorder.close();
    throw error;
  }
  dispatcher = createPushDispatcher(state, options.pushIntervalMs ?? 200);
  // Once a second: settle due orders; once a minute (every second while a backlog is left):
  // prune nonces and idempotency records past their use.
  let ticks = 0;
  let pruneBacklog = false;
  const settleTimer = setInterval(() => {
    try {
      settleDue(state);
      if (pruneBacklog || ++ticks % 60 === 0) pruneBacklog = pruneExpired(state).more;
    } catch {
      // the database may be closing
    }
  }, 1000);
  settleTimer.unref();

  const invoke: MockPlatform['invoke'] = async (operationId, input, principal) => {
    const route = getRoute(operationId) as RouteDef;
    const handler = (handlers as Record<string, Handler | undefined>)[operationId];
    if (handler === undefined) throw new RangeError(`no handler for ${operationId}`);
    const ctx: HandlerContext = {
      state,
      route,
      params: (input.params ?? {}) as never,
      query: (input.query ?? {}) as never,
      body: (input.body ?? {}) as never,
      principal,
      requestId: 'internal',
      headers: {},
      commit: (fn) => state.tx(fn),
    };
    return handler(ctx);
  };

  // every call gets the same promise: a second call while the first is under way resolves once
  // everything is closed too, not at once
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= closeOnce();
    return closing;
  };
  const closeOnce = async (): Promise<void> => {
    clearInterval(settleTimer);
    await dispatcher?.stop();
    await app.close();
    groupCommit.flush();
    await recorder.close();
    await checkpointer?.close();
    db.close();
  };
  let demo: DemoCredentials | undefined;
  try {
    await app.ready();
    demo = options.demo === true ? await loadDemo({ state, invoke, seed }) : undefined;
  } catch (error) {
    // nothing is left running (workers, timers, the database) when the platform cannot start
    await close();
    throw error;
  }
  return {
    app,
    state,
    clock,
    recorder,
    pushes: dispatcher,
    demo,
    invoke,
    checkpointStats: () => checkpointer?.stats(),
    close,
  };
}
