/**
 * The durable event outbox of a reader: an append-only JSON-lines journal of upload-ready
 * events, fsync'd before an append resolves, with a persisted acknowledgement cursor.
 *
 * Files in `dir`: `events.jsonl` (one event per line, in `seq` order), `cursor.json`
 * (`{ "acked_seq": n }`, replaced atomically) and, once an event was set aside, `quarantine.jsonl`
 * (`{ "event", "reason" }` lines, and `{ "released", "seq" }` lines for events put back in the
 * queue by {@link EventOutbox.release}). A torn last line, left by a power cut during an append, is
 * cut off at open; it was never acknowledged to the caller.
 *
 * Both files are compacted: each is rewritten atomically (temporary file, fsync, rename, fsync of
 * the directory) with what is still live. The journal loses its acknowledged and set-aside events;
 * `quarantine.jsonl` then loses the lines of released events (their original line and their
 * release line), always right after the journal was rewritten, so that no line of a seq set aside
 * is left in the journal to be read as pending once the quarantine forgets that seq.
 *
 * @module
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeviceEvent } from '@campus-card/core/api';
import { GateClientError } from './errors.js';
import { fsyncDir, mkdirDurable, readFileIfExists, writeAll, writeFileAtomic } from './lib/fs-atomic.js';

/** An event before the outbox numbers it. */
export type UnnumberedEvent = Omit<DeviceEvent, 'seq'>;

/** Why the platform refused an event for good (its problem answer), and when. */
export interface QuarantineReason {
  /** The platform's error code, e.g. `ERR_VALIDATION`. */
  readonly code: string;
  /** The HTTP status (400 or 422). */
  readonly status: number;
  readonly message: string;
  /** When it was set aside, epoch ms. */
  readonly at: number;
}

/** An event set aside by {@link EventOutbox.quarantine}: never uploaded, kept for an operator. */
export interface QuarantinedEvent {
  readonly event: DeviceEvent;
  readonly reason: QuarantineReason;
}

/** Options of {@link openEventOutbox}. */
export interface EventOutboxOptions {
  /** Directory of the journal and the cursor; created if missing. */
  readonly dir: string;
  /**
   * `seq` of the first event of a brand-new outbox. Default: the current time in epoch ms, so a
   * device whose storage was wiped starts above every seq it used before (the platform dedupes
   * by `(device_id, seq)` and would otherwise drop new events as duplicates).
   */
  readonly firstSeq?: number;
  /**
   * Rewrite the journal without acknowledged or quarantined events once this many have
   * accumulated; and `quarantine.jsonl` without released events once this many of its lines are
   * dead (each released event leaves two: its original line and its release line; unreadable
   * lines count too), checked after each release and at open. Rewriting the quarantine rewrites
   * the journal first. Default 1000.
   */
  readonly compactAfter?: number;
}

/** The outbox {@link openEventOutbox} returns. */
export interface EventOutbox {
  /**
   * Numbers the event with the next `seq` and appends it durably (written and fsync'd; concurrent
   * appends share one fsync). Resolves with the stored event.
   *
   * @throws {@link GateClientError} `ERR_GATE_OUTBOX_IO` when the write fails (the event is not stored).
   */
  append(event: UnnumberedEvent): Promise<DeviceEvent>;
  /** Durable events not yet acknowledged, oldest first (at most `limit`). */
  pending(limit?: number): readonly DeviceEvent[];
  /**
   * Moves the cursor over the acknowledged prefix of the pending events and persists it
   * atomically. Resolves with the new cursor (the highest seq known to be stored by the platform).
   */
  ack(seqs: Iterable<number>): Promise<number>;
  /**
   * Sets a pending event aside for good (the platform refuses it as malformed, so it would block
   * every upload): written durably to `quarantine.jsonl`, then no longer pending. Resolves false
   * when `seq` is not pending.
   *
   * @throws {@link GateClientError} `ERR_GATE_OUTBOX_IO` when the write fails. The line may have
   *   reached the file all the same (only its fsync failed), so the outbox is then unusable until
   *   it is opened again, which reads what the file holds: the event set aside, or still pending.
   *   (Kept pending in memory, it could be uploaded, accepted and acknowledged, and still be listed
   *   as set aside after a restart, for an operator to release and upload twice.)
   */
  quarantine(seq: number, reason: QuarantineReason): Promise<boolean>;
  /** The events set aside, oldest first (kept across restarts), released ones excepted. */
  quarantined(): readonly QuarantinedEvent[];
  /**
   * Puts events set aside back in the queue, for an operator once the cause is gone: a gate
   * whose clock ran fast when it recorded them (the platform refuses a time after its own now,
   * and accepts it once that time has passed), or a data directory that was wiped and numbered
   * from `firstSeq` again (the platform holds other events under the old seqs, `ERR_CONFLICT`).
   * Each event is appended again, unchanged but for a new `seq` above every seq used, and no
   * longer listed by {@link EventOutbox.quarantined}; the next upload sends it. An event the
   * platform still refuses is set aside again, under its new seq.
   *
   * The release is durable before the event is pending: a line `{ "released": old, "seq": new }`
   * is fsync'd to `quarantine.jsonl` first, so that a power cut before the event reaches the
   * journal puts it back at the next open, and an event is never queued twice.
   *
   * @param seqs - the quarantined seqs to release; default every quarantined event. Seqs not
   *   quarantined (or already released) are ignored.
   * @returns the events queued again, with their new seqs, in the order they were set aside.
   * @throws {@link GateClientError} `ERR_GATE_OUTBOX_IO` when a write fails (the outbox is then
   *   unusable until it is opened again, which finishes the release).
   */
  release(seqs?: Iterable<number>): Promise<readonly DeviceEvent[]>;
  /** Pending (unacknowledged) events. */
  readonly depth: number;
  /** The highest seq assigned so far (`firstSeq − 1` when none). */
  readonly lastSeq: number;
  /** The persisted cursor: every seq ≤ it is acknowledged (`firstSeq − 1` when none). */
  readonly ackedSeq: number;
  /** Lines dropped at open: a torn last line (`torn`) or unreadable lines (`corrupt`). */
  readonly recovered: { readonly torn: boolean; readonly corrupt: number };
  /** Waits for queued writes and closes the journal. */
  close(): Promise<void>;
}

const EVENTS = 'events.jsonl';
const CURSOR = 'cursor.json';
const QUARANTINE = 'quarantine.jsonl';

function ioError(message: string, cause: unknown): GateClientError {
  return new GateClientError('ERR_GATE_OUTBOX_IO', message, { cause });
}

/**
 * Opens (or creates) the outbox in `dir` and reloads its pending events.
 *
 * @example
 * ```ts
 * const outbox = await openEventOutbox({ dir: '/var/lib/gate/outbox' });
 * const ev = await outbox.append({ kind: 'access', occurred_at: new Date().toISOString(), decision: 'allowed', card_id: 'c1' });
 * await outbox.ack([ev.seq]);
 * ```
 */
export async function openEventOutbox(options: EventOutboxOptions): Promise<EventOutbox> {
  const { dir } = options;
  const compactAfter = options.compactAfter ?? 1000;
  if (!Number.isInteger(compactAfter) || compactAfter < 1) throw new RangeError('compactAfter must be ≥ 1');
  await mkdirDurable(dir);
  const eventsPath = join(dir, EVENTS);
  const cursorPath = join(dir, CURSOR);

  const cursorRaw = await readFileIfExists(cursorPath);
  const journal = await readFileIfExists(eventsPath);
  // The quarantine: events set aside, never pending again (an unreadable line is skipped: its
  // event, still in the journal, is pending again and set aside again at the next upload).
  const quarantinePath = join(dir, QUARANTINE);
  const quarantineRaw = await readFileIfExists(quarantinePath);
  // listed (not released), by seq, in the order set aside
  const quarantinedEvents = new Map<number, QuarantinedEvent>();
  // every seq the file names as set aside: never pending again, never used again (even once its
  // event left the journal; once released, the quarantine's compaction may forget it, and its new
  // seq, above it, is then in the journal or under the cursor)
  const quarantinedSeqs = new Set<number>();
  // released events, by their new seq: pending unless acknowledged or in the journal already
  const released = new Map<number, DeviceEvent>();
  // lines of the file, torn and unreadable ones included
  let quarantineLines = 0;
  for (const line of quarantineRaw?.toString('utf8').split('\n') ?? []) {
    if (line === '') continue;
    quarantineLines++;
    try {
      const q = JSON.parse(line) as (QuarantinedEvent & { released?: unknown; seq?: unknown }) | null;
      if (q !== null && typeof q === 'object' && 'released' in q) {
        const from = quarantinedEvents.get(q.released as number);
        const seq = q.seq;
        if (from === undefined || !Number.isSafeInteger(seq) || quarantinedSeqs.has(seq as number)) continue;
        quarantinedEvents.delete(from.event.seq);
        released.set(seq as number, { ...from.event, seq: seq as number });
        continue;
      }
      const seq = q?.event?.seq;
      if (!Number.isSafeInteger(seq) || quarantinedSeqs.has(seq as number)) continue;
      quarantinedSeqs.add(seq as number);
      quarantinedEvents.set(seq as number, q as QuarantinedEvent);
      released.delete(seq as number); // a released event set aside again
    } catch {
      // a torn or unreadable line
    }
  }
  // lines of quarantine.jsonl a rewrite would drop: released events, torn, unreadable, repeated ones
  let deadQuarantine = quarantineLines - quarantinedEvents.size;
  // a torn last line is closed off by the next write
  let quarantineNewline =
    quarantineRaw !== undefined &&
    quarantineRaw.length > 0 &&
    quarantineRaw[quarantineRaw.length - 1] !== 0x0a;

  const firstSeq = options.firstSeq ?? Date.now();
  if (!Number.isSafeInteger(firstSeq) || firstSeq < 1)
    throw new RangeError('firstSeq must be a positive integer');

  let ackedSeq = 0;
  if (cursorRaw !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(cursorRaw.toString('utf8'));
    } catch (err) {
      throw ioError(`corrupt outbox cursor ${cursorPath}`, err);
    }
    const acked = (parsed as { acked_seq?: unknown } | null)?.acked_seq;
    if (typeof acked !== 'number' || !Number.isSafeInteger(acked)) {
      throw ioError(`corrupt outbox cursor ${cursorPath}`, undefined);
    }
    ackedSeq = acked;
  }

  // Reload the journal; cut a torn last line.
  const pendingEvents: DeviceEvent[] = [];
  // a seq set aside stays used, even once compaction dropped its event from the journal
  let lastSeq = ackedSeq;
  for (const q of quarantinedSeqs) if (q > lastSeq) lastSeq = q;
  for (const q of released.keys()) if (q > lastSeq) lastSeq = q;
  let torn = false;
  let corrupt = 0;
  let inFile = 0;
  let fileSize = 0;
  if (journal !== undefined && journal.length > 0) {
    const end = journal.lastIndexOf(0x0a) + 1;
    torn = end < journal.length;
    fileSize = end;
    for (const line of journal.subarray(0, end).toString('utf8').split('\n')) {
      if (line === '') continue;
      let ev: DeviceEvent | null;
      try {
        ev = JSON.parse(line) as DeviceEvent | null;
      } catch {
        corrupt++;
        continue;
      }
      if (typeof ev !== 'object' || ev === null || Array.isArray(ev) || !Number.isSafeInteger(ev.seq)) {
        corrupt++;
        continue;
      }
      inFile++;
      released.delete(ev.seq); // its journal line was written
      lastSeq = Math.max(lastSeq, ev.seq);
      if (ev.seq > ackedSeq && !quarantinedSeqs.has(ev.seq)) pendingEvents.push(ev);
    }
  }
  // A release whose event a power cut kept from the journal: pending, and written below.
  const unwritten = [...released.values()].filter((e) => e.seq > ackedSeq);
  pendingEvents.push(...unwritten);
  pendingEvents.sort((a, b) => a.seq - b.seq);
  // Nothing was ever acknowledged, set aside or stored whole (no file yet, or only the torn line
  // of a first append cut by a power cut): numbering starts at firstSeq.
  if (cursorRaw === undefined && quarantineRaw === undefined && inFile === 0 && corrupt === 0) {
    ackedSeq = firstSeq - 1;
    lastSeq = firstSeq - 1;
  }
  let fh = await open(eventsPath, 'a+', 0o600);
  if (torn) {
    await fh.truncate(fileSize);
    await fh.sync();
  }
  if (journal === undefined) await fsyncDir(dir);
  if (unwritten.length > 0) {
    const data = unwritten.map((e) => `${JSON.stringify(e)}\n`).join('');
    await writeAll(fh, data);
    await fh.datasync();
    fileSize += Buffer.byteLength(data);
    inFile += unwritten.length;
  }
  // journal lines no longer pending (acknowledged or set aside): compaction drops them
  let deadInFile = inFile - pendingEvents.length;

  let closed = false;
  let broken: unknown;
  // the quarantine file's directory entry is durable (it existed at open, or was fsync'd since)
  let quarantineFileSynced = quarantineRaw !== undefined;
  // Every file operation runs on this chain, in order.
  let tail: Promise<void> = Promise.resolve();
  let buffer: {
    event: DeviceEvent;
    line: string;
    /** the quarantined seq this event releases */
    releases?: number;
    resolve: (e: DeviceEvent) => void;
    reject: (e: unknown) => void;
  }[] = [];
  let scheduled = false;
  // quarantined seqs whose release is under way (a second call does not queue them twice)
  const releasing = new Set<number>();

  async function drain(): Promise<void> {
    scheduled = false;
    const batch = buffer;
    buffer = [];
    if (batch.length === 0) return;
    if (broken !== undefined) {
      for (const b of batch) b.reject(ioError('the outbox is unusable after a failed write', broken));
      return;
    }
    // Releases first: their lines in the quarantine make them pending again after a power cut.
    const releasing = batch.filter((b) => b.releases !== undefined);
    if (releasing.length > 0) {
      const lines = releasing.map((b) => `${JSON.stringify({ released: b.releases, seq: b.event.seq })}\n`);
      try {
        await appendQuarantine(lines.join(''));
      } catch (err) {
        // partial release lines name seqs above every seq in use: the outbox stops here, and the
        // next open finishes what the lines name
        broken = err;
        for (const b of batch) b.reject(ioError('outbox release failed', err));
        return;
      }
      for (const b of releasing) quarantinedEvents.delete(b.releases as number);
    }
    const data = batch.map((b) => b.line).join('');
    try {
      await writeAll(fh, data);
      await fh.datasync();
      fileSize += Buffer.byteLength(data);
    } catch (err) {
      // Cut a partial write so that the next append does not glue onto it.
      try {
        await fh.truncate(fileSize);
      } catch (truncErr) {
        broken = truncErr;
      }
      // a release already on disk: only the next open can queue its event, once
      if (releasing.length > 0) broken ??= err;
      for (const b of batch) b.reject(ioError('outbox append failed', err));
      return;
    }
    for (const b of batch) pendingEvents.push(b.event);
    if (releasing.length > 0) {
      // each release leaves two dead lines in the quarantine: the event's line and the release
      // line; compacted before the release resolves (housekeeping: a failure is not the release's)
      deadQuarantine += 2 * releasing.length;
      if (deadQuarantine >= compactAfter) await compact();
    }
    for (const b of batch) b.resolve(b.event);
  }

  /** Appends whole lines to `quarantine.jsonl`, durably. */
  async function appendQuarantine(lines: string): Promise<void> {
    const line = `${quarantineNewline ? '\n' : ''}${lines}`;
    try {
      const qh = await open(quarantinePath, 'a', 0o600);
      try {
        await writeAll(qh, line);
        await qh.datasync();
      } finally {
        await qh.close();
      }
      if (!quarantineFileSynced) await fsyncDir(dir);
      quarantineFileSynced = true;
    } catch (err) {
      quarantineNewline = true; // a partial line may be there
      throw err;
    }
    quarantineNewline = false;
  }

  /**
   * Rewrites the journal with the pending events only, then (when it holds dead lines)
   * `quarantine.jsonl` with the listed events only. Housekeeping: when a rewrite fails (it needs
   * room for a second copy, so a nearly full disk fails it first) its file stays as it was, in use.
   */
  async function compact(): Promise<void> {
    const data = pendingEvents.map((e) => `${JSON.stringify(e)}\n`).join('');
    try {
      await writeFileAtomic(eventsPath, data);
    } catch {
      return; // tried again at the next ack
    }
    // the old handle points at the replaced file: appends go to the new one from now on
    await fh.close().catch(() => {});
    fileSize = Buffer.byteLength(data);
    deadInFile = 0;
    try {
      fh = await open(eventsPath, 'a+', 0o600);
    } catch (err) {
      broken = err;
      return;
    }
    if (deadQuarantine > 0) await compactQuarantine();
  }

  /**
   * Rewrites `quarantine.jsonl` with the listed events only, in the order they were set aside:
   * the lines of released events go. Only right after the journal was rewritten (and the rename
   * made durable), which guarantees that a power cut at any point neither loses, resurrects nor
   * doubles an event:
   *
   * - the journal then holds no line of a seq set aside (listed or released: neither is pending),
   *   so a seq the quarantine forgets cannot be read back from the journal as pending;
   * - a released event is in the journal under its new seq (its journal append completed before
   *   the rewrite: releases and compactions run in order on one chain), or acknowledged (the cursor
   *   covers its seq): its release line is no longer needed to queue it, nor to keep its new seq
   *   from being used again (the journal or the cursor keeps `lastSeq` above it);
   * - cut before the rename, the old quarantine is read with the new journal, which is the state
   *   after the release as well (the release line names a seq the journal holds or the cursor
   *   covers: nothing is queued twice).
   */
  async function compactQuarantine(): Promise<void> {
    const data = [...quarantinedEvents.values()].map((q) => `${JSON.stringify(q)}\n`).join('');
    try {
      await writeFileAtomic(quarantinePath, data);
    } catch {
      return; // tried again at the next compaction of the journal
    }
    quarantineNewline = false;
    quarantineFileSynced = true;
    deadQuarantine = 0;
  }

  // a quarantine mostly dead at open (releases made before a restart, or before this compaction
  // existed) is compacted now, before the outbox is used
  if (deadQuarantine >= compactAfter) await compact();

  function run<T>(fn: () => Promise<T>): Promise<T> {
    const p = tail.then(fn);
    tail = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  return {
    append(event) {
      if (closed) return Promise.reject(new GateClientError('ERR_GATE_CLOSED', 'the outbox is closed'));
      const seq = ++lastSeq;
      const full = Object.assign({ seq }, event, { seq }) as DeviceEvent;
      const line = `${JSON.stringify(full)}\n`;
      return new Promise<DeviceEvent>((resolve, reject) => {
        buffer.push({ event: full, line, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          void run(drain);
        }
      });
    },
    pending(limit = Number.POSITIVE_INFINITY) {
      return pendingEvents.slice(0, limit);
    },
    ack(seqs) {
      if (closed) return Promise.reject(new GateClientError('ERR_GATE_CLOSED', 'the outbox is closed'));
      const set = new Set(seqs);
      return run(async () => {
        let n = 0;
        let cursor = ackedSeq;
        while (n < pendingEvents.length && set.has((pendingEvents[n] as DeviceEvent).seq)) {
          cursor = (pendingEvents[n] as DeviceEvent).seq;
          n++;
        }
        if (n === 0) return ackedSeq;
        await writeFileAtomic(cursorPath, JSON.stringify({ acked_seq: cursor }));
        ackedSeq = cursor;
        pendingEvents.splice(0, n);
        deadInFile += n;
        if (deadInFile >= compactAfter) await compact();
        return ackedSeq;
      });
    },
    quarantine(seq, reason) {
      if (closed) return Promise.reject(new GateClientError('ERR_GATE_CLOSED', 'the outbox is closed'));
      return run(async () => {
        if (broken !== undefined) throw ioError('the outbox is unusable after a failed write', broken);
        const i = pendingEvents.findIndex((e) => e.seq === seq);
        if (i === -1) return false;
        const q: QuarantinedEvent = { event: pendingEvents[i] as DeviceEvent, reason: { ...reason } };
        try {
          await appendQuarantine(`${JSON.stringify(q)}\n`);
        } catch (err) {
          broken = err; // the next open decides (see the TSDoc)
          throw ioError('outbox quarantine write failed', err);
        }
        quarantinedSeqs.add(seq);
        quarantinedEvents.set(seq, q);
        pendingEvents.splice(i, 1);
        // its line in the journal is dead weight now, as an acknowledged one is: counted towards
        // compaction, or a reader whose every event is set aside (a clock the platform refuses)
        // would grow its journal for good, since only acknowledgements compacted it
        deadInFile += 1;
        if (deadInFile >= compactAfter) await compact();
        return true;
      });
    },
    quarantined() {
      return [...quarantinedEvents.values()];
    },
    release(seqs) {
      if (closed) return Promise.reject(new GateClientError('ERR_GATE_CLOSED', 'the outbox is closed'));
      const wanted = seqs === undefined ? undefined : new Set(seqs);
      const chosen = [...quarantinedEvents.values()].filter(
        (q) => (wanted === undefined || wanted.has(q.event.seq)) && !releasing.has(q.event.seq),
      );
      return Promise.all(
        chosen.map((q) => {
          const from = q.event.seq;
          releasing.add(from);
          const seq = ++lastSeq;
          const event = { ...q.event, seq } as DeviceEvent;
          return new Promise<DeviceEvent>((resolve, reject) => {
            buffer.push({ event, line: `${JSON.stringify(event)}\n`, releases: from, resolve, reject });
            if (!scheduled) {
              scheduled = true;
              void run(drain);
            }
          }).finally(() => releasing.delete(from));
        }),
      );
    },
    get depth() {
      return pendingEvents.length;
    },
    get lastSeq() {
      return lastSeq;
    },
    get ackedSeq() {
      return ackedSeq;
    },
    recovered: { torn, corrupt },
    async close() {
      if (closed) return;
      closed = true;
      await run(async () => {});
      await fh.close();
    },
  };
}
