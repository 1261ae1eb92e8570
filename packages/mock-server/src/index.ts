/**
 * The campus card mock platform: a stateful, persistent, strictly validated stand-in for the
 * real platform, with fault injection and recording, for local development and vendor CI.
 *
 * @example
 * ```ts
 * import { startMockPlatform } from '@campus-card/mock-server';
 * await using server = await startMockPlatform({ demo: true });
 * console.log(server.url, server.platform.demo?.devices[0]);
 * ```
 *
 * @module
 */
export type {
  Handler,
  HandlerContext,
  HandlerResult,
  Part,
  PlatformSettings,
  PlatformState,
  Prefetch,
  Principal,
} from './context.js';
export { DEMO_OPERATOR, type DemoCredentials, DemoIncompleteError, DemoSeedMismatchError } from './demo.js';
export { checkLedger } from './domains/ledger.js';
export type { PushDispatcher } from './domains/webhooks.js';
export type { CheckpointerStats } from './lib/checkpointer.js';
export {
  CLOCK_MAX_MS,
  CLOCK_MIN_MS,
  type CreateClockOptions,
  createClock,
  type VirtualClock,
} from './lib/clock.js';
export {
  MIGRATIONS,
  type Migration,
  NotAPlatformDatabaseError,
  OrphanWalError,
  SchemaTooNewError,
} from './lib/db.js';
export type { FaultDecision, FaultInjector, FaultSite } from './lib/faults.js';
export type { Batch, GroupCommit, GroupCommitStats } from './lib/group-commit.js';
export type { RandomTokens } from './lib/random-token.js';
export type { RecordEntry, Recorder } from './lib/recorder.js';
export { DEFAULT_RECORD_MEMORY_BYTES, recordEntrySize } from './lib/recorder.js';
export type { Rng } from './lib/rng.js';
export {
  createMockPlatform,
  DEFAULT_DB_PATH,
  type MockPlatform,
  type MockPlatformOptions,
} from './platform.js';
export { type RunningMockPlatform, type StartMockPlatformOptions, startMockPlatform } from './server.js';
