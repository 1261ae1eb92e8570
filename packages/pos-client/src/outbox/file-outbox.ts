/**
 * A durable {@link OutboxStore} on one append-only JSON-lines journal file, fsync'd after every
 * append and acknowledgement.
 *
 * Journal lines: `{"op":"add","entry":{…}}`, `{"op":"ack","seqs":[…]}` (with `"booked":[…]`, the
 * offline sales among them the platform accepted, which go to the totals of
 * {@link OutboxStore.bookedTotals}), `{"op":"quarantine","seqs":[…],"reason":{…}}` and, after
 * compaction, one `{"op":"seq","last":N}` (with `"minutes":[[m,fen],…]`, the booked totals by UTC
 * minute of capture, `m` minutes since the epoch; and `"days":{"YYYY-MM-DD":fen,…}`, totals by
 * UTC day that an earlier version wrote, kept until they age out).
 * The booked totals are kept by minute of capture, not by day, so that the offline caps compute a
 * sale's business day when they check it, at the offset configured then
 * ({@link OfflineCaps.dayUtcOffset}): an `ack` line's `booked` names entries whose `capturedAt`
 * the journal holds, and compaction keeps their minutes. A journal's UTC-day totals from an
 * earlier version count towards each business day their UTC day overlaps (never under-counting a
 * day). The optional fields are read when present: a journal without them (written by an earlier
 * version) opens with no totals, and a reader that does not know them reads the lines as before.
 * On open the journal is replayed: a torn or unreadable **last** line
 * (a power cut during a write) is ignored and cut off; an unreadable line before it is corruption.
 * When most lines are acknowledged history, open rewrites the journal (temp file, fsync, rename,
 * fsync of the directory), keeping the pending and quarantined entries, the last sequence number
 * and the day totals within `dayTotalsMaxAgeSeconds` of the latest;
 * a rewrite that fails (a full disk) is given up, and the journal is used as it is.
 * A write or fsync that fails (a full disk, an I/O error) rejects and is undone: the file is cut
 * back to its last whole line; if even that fails, every later write rejects with the same error.
 *
 * One outbox per journal: the lock file `<path>.lock` is held from open to `close()`. A second
 * opener (this process or another) is refused `ERR_POS_OUTBOX_LOCKED`; a lock whose process no
 * longer runs (a crash, a power cut) is taken over.
 *
 * @module
 */

import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PosClientError } from '../errors.js';
import {
  assertDayTotalsMaxAge,
  createBookedLedger,
  DEFAULT_DAY_TOTALS_MAX_AGE_S,
  isDayTotals,
  isMinuteTotals,
} from '../lib/day-totals.js';
import { type FileLock, lockFile } from '../lib/file-lock.js';
import type {
  NewOutboxEntry,
  OutboxEntry,
  OutboxStore,
  QuarantinedEntry,
  QuarantineReason,
} from './outbox-store.js';

/** Options of {@link createFileOutbox}. */
export interface FileOutboxOptions {
  /** Clock for sequence numbers, epoch ms; default `Date.now`. */
  readonly now?: () => number;
  /** Compact on open when the journal has more than this many lines beyond the pending entries; default 1000. */
  readonly compactAfterLines?: number;
  /**
   * How long the totals of booked offline sales ({@link OutboxStore.bookedTotals}, kept by UTC
   * minute of capture) are kept, seconds, counted back from the latest booked capture (not from
   * the clock, which may be set wrong), plus a day (so that the business day the period begins on
   * stays whole): older ones are dropped. A new sale is captured now, so only today's totals are
   * read while the clock runs forward; older ones matter if it goes back. Default 691 200 (8 days:
   * the platform's offline max age of 7 days, past which it refuses a sale whatever the caps, and
   * one more).
   */
  readonly dayTotalsMaxAgeSeconds?: number;
}

type Line =
  | { readonly op: 'add'; readonly entry: OutboxEntry }
  | { readonly op: 'ack'; readonly seqs: readonly number[]; readonly booked?: readonly number[] }
  | { readonly op: 'quarantine'; readonly seqs: readonly number[]; readonly reason: QuarantineReason }
  | {
      readonly op: 'seq';
      readonly last: number;
      readonly minutes?: readonly (readonly [number, number])[];
      readonly days?: Readonly<Record<string, number>>;
    };

function isEntry(v: unknown): v is OutboxEntry {
  const e = v as Partial<Record<string, unknown>> | null;
  if (typeof e !== 'object' || e === null) return false;
  if (!Number.isSafeInteger(e.seq) || typeof e.outTradeNo !== 'string' || typeof e.capturedAt !== 'number')
    return false;
  if (e.kind === 'reversal') return true;
  return e.kind === 'payment' && Number.isSafeInteger(e.amountFen) && typeof e.qrText === 'string';
}

function isReason(v: unknown): v is QuarantineReason {
  const r = v as Partial<Record<string, unknown>> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.code === 'string' &&
    Number.isSafeInteger(r.status) &&
    typeof r.message === 'string' &&
    typeof r.at === 'number'
  );
}

const isSeqs = (v: unknown): v is number[] => Array.isArray(v) && v.every((s) => Number.isSafeInteger(s));

function parseLine(text: string): Line | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  const l = v as Partial<Record<string, unknown>> | null;
  if (typeof l !== 'object' || l === null) return undefined;
  if (l.op === 'add' && isEntry(l.entry)) return { op: 'add', entry: l.entry };
  if (l.op === 'ack' && isSeqs(l.seqs)) {
    if (l.booked === undefined) return { op: 'ack', seqs: l.seqs };
    return isSeqs(l.booked) ? { op: 'ack', seqs: l.seqs, booked: l.booked } : undefined;
  }
  if (l.op === 'quarantine' && isSeqs(l.seqs) && isReason(l.reason))
    return { op: 'quarantine', seqs: l.seqs, reason: l.reason };
  if (l.op === 'seq' && Number.isSafeInteger(l.last)) {
    if (l.days !== undefined && !isDayTotals(l.days)) return undefined;
    if (l.minutes !== undefined && !isMinuteTotals(l.minutes)) return undefined;
    return {
      op: 'seq',
      last: l.last as number,
      ...(l.minutes === undefined ? {} : { minutes: l.minutes }),
      ...(l.days === undefined ? {} : { days: l.days }),
    };
  }
  return undefined;
}

async function fsyncDir(dir: string): Promise<void> {
  let h: FileHandle | undefined;
  try {
    h = await open(dir, 'r');
    await h.sync();
  } catch {
    // some platforms (Windows) cannot fsync a directory; the rename is still atomic
  } finally {
    await h?.close();
  }
}

/**
 * Opens (or creates) a file outbox at `path`, replaying its journal.
 *
 * @param path - the journal file; its directory is created if missing.
 * @throws {@link PosClientError} `ERR_POS_OUTBOX_CORRUPT` when a line other than the last is unreadable;
 *   `ERR_POS_OUTBOX_LOCKED` while another outbox (of this process or another) has the journal open.
 *
 * @example
 * ```ts
 * const outbox = await createFileOutbox('/var/lib/pos/outbox.jsonl');
 * const pos = createPosClient({ ..., offline: { outbox, caps: { perTransactionFen: 5000, totalFen: 100_000, maxAgeSeconds: 86_400 } } });
 * ```
 */
export async function createFileOutbox(path: string, options: FileOutboxOptions = {}): Promise<OutboxStore> {
  assertDayTotalsMaxAge(options.dayTotalsMaxAgeSeconds ?? DEFAULT_DAY_TOTALS_MAX_AGE_S);
  await mkdir(dirname(path), { recursive: true });
  // two openers of one journal would number sales alike, and one's compaction would move the
  // journal from under the other (whose later sales would go to the replaced file, and be lost)
  const lock = await lockFile(`${path}.lock`, `outbox ${path}`);
  try {
    return await openJournal(path, options, lock);
  } catch (e) {
    await lock.release();
    throw e;
  }
}

async function openJournal(path: string, options: FileOutboxOptions, lock: FileLock): Promise<OutboxStore> {
  const now = options.now ?? Date.now;
  const compactAfter = options.compactAfterLines ?? 1000;
  const keepMs = (options.dayTotalsMaxAgeSeconds ?? DEFAULT_DAY_TOTALS_MAX_AGE_S) * 1000;
  const dir = dirname(path);
  const entries = new Map<number, OutboxEntry>();
  const aside = new Map<number, QuarantinedEntry>();
  /** Totals of the offline sales acknowledged as booked, by UTC minute of capture. */
  const ledger = createBookedLedger();
  /** Books the pending offline sales among `booked` that are also in `seqs` (in memory). */
  function book(seqs: readonly number[], booked: readonly number[] | undefined): void {
    if (booked === undefined) return;
    const acked = new Set(seqs);
    for (const s of new Set(booked)) {
      const e = entries.get(s);
      if (e?.kind === 'payment' && acked.has(s)) ledger.add(e.capturedAt, e.amountFen);
    }
  }

  let lastSeq = 0;
  let lineCount = 0;
  let existed = true;
  let text = '';
  let tornBytesAt: number | undefined;
  /** Moves pending payments to the quarantine (in memory); returns the seqs moved. */
  function setAside(seqs: readonly number[], reason: QuarantineReason): number[] {
    const moved: number[] = [];
    for (const s of seqs) {
      const e = entries.get(s);
      if (e?.kind !== 'payment') continue;
      entries.delete(s);
      aside.set(s, { entry: e, reason });
      moved.push(s);
    }
    return moved;
  }
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOENT') throw e;
    existed = false;
  }
  if (text.length > 0) {
    // Every complete line ends with '\n'; what follows the last '\n' is a torn write (its append
    // never returned), and so is an unreadable last complete line (e.g. zeros after a power cut).
    const lines = text.split('\n').slice(0, -1);
    let keepBytes = 0;
    for (const [i, raw] of lines.entries()) {
      const line = parseLine(raw);
      if (line === undefined) {
        if (i === lines.length - 1) break;
        throw new PosClientError('ERR_POS_OUTBOX_CORRUPT', `outbox ${path}: line ${i + 1} is unreadable`);
      }
      keepBytes += Buffer.byteLength(raw, 'utf8') + 1;
      lineCount += 1;
      if (line.op === 'add') {
        entries.set(line.entry.seq, line.entry);
        lastSeq = Math.max(lastSeq, line.entry.seq);
      } else if (line.op === 'ack') {
        book(line.seqs, line.booked);
        for (const s of line.seqs) {
          entries.delete(s);
          aside.delete(s);
        }
      } else if (line.op === 'quarantine') {
        setAside(line.seqs, line.reason);
      } else {
        lastSeq = Math.max(lastSeq, line.last);
        ledger.addMinutes(line.minutes ?? []);
        for (const [day, fen] of Object.entries(line.days ?? {})) ledger.addUtcDay(day, fen);
      }
    }
    tornBytesAt = keepBytes < Buffer.byteLength(text, 'utf8') ? keepBytes : undefined;
  }
  ledger.prune(keepMs);

  let compact = existed && lineCount > entries.size + 2 * aside.size + compactAfter;
  if (compact) {
    // Housekeeping: when it fails (it needs room for a second copy, so a nearly full disk fails it
    // first) the journal stays as it is, in use, and the next open tries again.
    const tmp = join(dir, `.${basename(path)}.compact-${process.pid}`);
    try {
      const h = await open(tmp, 'w');
      try {
        const kept = ledger.toJournal();
        const seqLine: Line = {
          op: 'seq',
          last: lastSeq,
          ...(kept.minutes.length === 0 ? {} : { minutes: kept.minutes }),
          ...(kept.days === undefined ? {} : { days: kept.days }),
        };
        const lines = [JSON.stringify(seqLine)];
        for (const e of [...entries.values()].sort((a, b) => a.seq - b.seq))
          lines.push(JSON.stringify({ op: 'add', entry: e }));
        for (const q of [...aside.values()].sort((a, b) => a.entry.seq - b.entry.seq)) {
          lines.push(JSON.stringify({ op: 'add', entry: q.entry }));
          lines.push(JSON.stringify({ op: 'quarantine', seqs: [q.entry.seq], reason: q.reason }));
        }
        await h.writeFile(`${lines.join('\n')}\n`);
        await h.sync();
      } finally {
        await h.close();
      }
      await rename(tmp, path);
      await fsyncDir(dir);
    } catch {
      compact = false;
      await rm(tmp, { force: true }).catch(() => undefined);
    }
  }

  const handle = await open(path, 'a');
  if (!existed) await fsyncDir(dir);
  if (!compact && tornBytesAt !== undefined) {
    await handle.truncate(tornBytesAt);
    await handle.sync();
  }
  /** Bytes of the journal that are whole, durable lines. */
  let size = (await handle.stat()).size;
  /** Set when a failed write could not be undone: the journal's end is unknown, nothing more is written. */
  let broken: unknown;
  let closed = false;
  let chain: Promise<unknown> = Promise.resolve();

  /**
   * Appends one line and fsyncs, serialised with every other write. A short write is completed. A
   * failed write or fsync is undone (the file cut back to its last whole line), so that the entry
   * does not come back after a restart although its caller was told it failed, and the next line
   * does not land after a torn one (which would make the journal unreadable).
   */
  function write(line: Line): Promise<void> {
    const run = chain.then(async () => {
      if (broken !== undefined) throw broken;
      const buf = Buffer.from(`${JSON.stringify(line)}\n`, 'utf8');
      try {
        for (let off = 0; off < buf.length; ) {
          const { bytesWritten } = await handle.write(buf, off, buf.length - off);
          if (!(bytesWritten > 0)) throw new Error(`outbox ${path}: a write made no progress`);
          off += bytesWritten;
        }
        await handle.sync();
      } catch (e) {
        try {
          await handle.truncate(size);
          await handle.sync();
        } catch {
          broken = e;
        }
        throw e;
      }
      size += buf.length;
    });
    chain = run.catch(() => undefined);
    return run;
  }
  const assertOpen = (): void => {
    if (closed) throw new PosClientError('ERR_POS_OUTBOX_CLOSED', `outbox ${path} is closed`);
  };

  return {
    async append(entry: NewOutboxEntry) {
      assertOpen();
      lastSeq = Math.max(lastSeq + 1, Math.floor(now()));
      const full = { ...entry, seq: lastSeq } as OutboxEntry;
      await write({ op: 'add', entry: full });
      entries.set(full.seq, full);
      return full;
    },
    async pending() {
      assertOpen();
      return [...entries.values()].sort((a, b) => a.seq - b.seq);
    },
    async ack(seqs, ackOptions) {
      assertOpen();
      const known = seqs.filter((s) => entries.has(s) || aside.has(s));
      if (known.length === 0) return;
      const set = new Set(known);
      const booked = [...new Set(ackOptions?.booked ?? [])].filter(
        (s) => set.has(s) && entries.get(s)?.kind === 'payment',
      );
      await write(booked.length === 0 ? { op: 'ack', seqs: known } : { op: 'ack', seqs: known, booked });
      book(known, booked);
      for (const s of known) {
        entries.delete(s);
        aside.delete(s);
      }
    },
    async quarantine(seqs, reason) {
      assertOpen();
      const known = seqs.filter((s) => entries.get(s)?.kind === 'payment');
      if (known.length === 0) return;
      const r: QuarantineReason = {
        code: reason.code,
        status: reason.status,
        message: reason.message,
        at: reason.at,
      };
      await write({ op: 'quarantine', seqs: known, reason: r });
      setAside(known, r);
    },
    async bookedTotals() {
      assertOpen();
      ledger.prune(keepMs);
      return ledger.totals();
    },
    async bookedByDay() {
      assertOpen();
      ledger.prune(keepMs);
      return ledger.byUtcDay();
    },
    async quarantined() {
      assertOpen();
      return [...aside.values()].sort((a, b) => a.entry.seq - b.entry.seq);
    },
    async close() {
      if (closed) return;
      closed = true;
      await chain;
      try {
        await handle.close();
      } finally {
        await lock.release();
      }
    },
  };
}
