/**
 * `@campus-card/gate-client`: the device side of a campus card reader (gate, door, library desk,
 * check-in scanner). Trust material sync with ETags and a last good copy on disk, offline
 * decisions with `@campus-card/verifier`, a durable event outbox with acknowledged batch uploads,
 * an online identity fallback and heartbeats.
 *
 * @module
 */
export {
  createGateClient,
  DEFAULT_ONLINE_FALLBACK_REASONS,
  type FlushReport,
  type GateClient,
  type GateClientOptions,
  type GateReader,
  type GateStatus,
  type MaterialHealth,
  type MaterialSyncResult,
  type ScanResult,
  type SyncOutcome,
  type SyncReport,
} from './create-gate-client.js';
export { GateClientError, type GateClientErrorCode, isGateClientError } from './errors.js';
export { auditToJson, eventFromDecision, type RecordOptions } from './event-from-decision.js';
export {
  type EventOutbox,
  type EventOutboxOptions,
  openEventOutbox,
  type QuarantinedEvent,
  type QuarantineReason,
  type UnnumberedEvent,
} from './outbox.js';
export { openReplayJournalFile, type ReplayJournalFile } from './replay-journal-file.js';
