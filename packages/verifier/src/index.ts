/**
 * `@campus-card/verifier`: the offline verifier of campus card QR codes and physical cards.
 * Signatures, time window, status list, reader policies, a one-use replay window, bounded
 * staleness of trust material and a trusted-time floor, with an audit on every decision.
 *
 * The main entry has no Node imports; the node:crypto backend is `@campus-card/verifier/node`
 * and the Redis replay store `@campus-card/verifier/redis`.
 *
 * @module
 */
export { nobleBackend } from './backends/noble.js';
export { createWebCryptoBackend } from './backends/webcrypto.js';
export {
  createVerifier,
  DEFAULT_MAX_STALENESS,
  type MaterialStatus,
  type MaxStaleness,
  type RecordUseResult,
  type Verifier,
  type VerifierOptions,
  type VerifierStatus,
  type VerifyContext,
} from './create-verifier.js';
export {
  createCredentialCache,
  DEFAULT_CREDENTIAL_CACHE_SIZE,
  type LruCredentialCache,
} from './credential-cache.js';
export {
  type AcceptedDecision,
  type Decision,
  type DecisionAudit,
  type DeniedDecision,
  type Material,
  type MaterialStamp,
  type PresentationMode,
  type ReasonCode,
  reasonForCoreCode,
  type StaleWarning,
} from './decision.js';
export { isVerifierError, PolicyInvalidError, VerifierError, type VerifierErrorCode } from './errors.js';
export type { PhysicalCardTap } from './physical-card.js';
export {
  evaluatePolicy,
  type PolicyAllow,
  type PolicyContext,
  type PolicyDeny,
  type PolicyResult,
} from './policy/evaluate-policy.js';
export {
  createPassbackState,
  type PassbackEntry,
  type PassbackSnapshot,
  type PassbackSnapshotRow,
  type PassbackSnapshotV1,
  type PassbackState,
  type PassbackStateOptions,
} from './policy/passback-state.js';
export type {
  AntiPassbackRule,
  Direction,
  GroupsRule,
  PolicyRule,
  PolicySubject as ReaderPolicySubject,
  ReaderPolicy,
  RolesRule,
  SceneRule,
  SchoolsRule,
  TimeWindow,
  TimeWindowsRule,
} from './policy/policy.js';
export { validatePolicy } from './policy/validate-policy.js';
export type { PolicyEvaluator, PolicyStepOutcome, PolicySubject, ReaderContext } from './policy-step.js';
export {
  encodeJournalRecord,
  JOURNAL_RECORD_BYTES,
  type ReplayJournalResult,
  replayJournal,
} from './replay/journal.js';
export {
  createMemoryReplayStore,
  MAX_MEMORY_REPLAY_CAPACITY,
  type MemoryReplayStore,
  type MemoryReplayStoreOptions,
  type ReplayInsertHook,
} from './replay/memory-replay-store.js';
export { REPLAY_DIGEST_BYTES, type ReplayOutcome, type ReplayStore } from './replay/replay-store.js';
export {
  type RestoreMemoryReplayStoreOptions,
  restoreMemoryReplayStore,
} from './replay/restore-memory-replay-store.js';
export { replayDigest } from './replay-key.js';
export type { LoadFailureReason, LoadResult } from './trust-store.js';
