/**
 * Internal: one opener per outbox journal, with a lock file that a crash or a power cut cannot
 * leave held.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, open, readFile, rename, rm } from 'node:fs/promises';
import { PosClientError } from '../errors.js';

/** A held lock; {@link FileLock.release} lets it go (once). */
export interface FileLock {
  /** Removes the lock file, unless another opener took it over meanwhile. Idempotent. */
  release(): Promise<void>;
}

/** What a lock file records of its holder. */
interface Holder {
  /** This lock's own random token (two openers in one process are told apart by it). */
  readonly token: string | undefined;
  readonly pid: number;
  /** Linux: the kernel's boot id; a lock from an earlier boot is stale. */
  readonly boot: string | null;
  /** Linux: the holder's start time (clock ticks since boot); a reused pid has another one. */
  readonly start: string | null;
}

/** The lock files this process holds, with each one's token. */
const heldHere = new Map<string, string>();

function readProc(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** The start time of `pid` (field 22 of /proc/<pid>/stat), or null where there is no /proc. */
function startOf(pid: number): string | null {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // the command name (field 2) is in parentheses and may hold spaces: count from the last ')'
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
}

const bootId = (): string | null => readProc('/proc/sys/kernel/random/boot_id');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

function parseHolder(text: string): Holder | undefined {
  try {
    const v = JSON.parse(text) as Partial<Record<keyof Holder, unknown>> | null;
    if (!Number.isSafeInteger(v?.pid) || (v?.pid as number) <= 0) return undefined;
    return {
      token: typeof v?.token === 'string' ? v.token : undefined,
      pid: v?.pid as number,
      boot: typeof v?.boot === 'string' ? v.boot : null,
      start: typeof v?.start === 'string' ? v.start : null,
    };
  } catch {
    return undefined;
  }
}

/**
 * Whether the recorded holder still runs. Not when the file is empty or torn, from an earlier
 * boot, its pid is gone, or its pid now belongs to another process (another start time).
 */
function holderRuns(h: Holder | undefined, path: string): boolean {
  if (h === undefined) return false;
  const boot = bootId();
  if (h.boot !== null && boot !== null && h.boot !== boot) return false;
  if (h.pid === process.pid) return h.token !== undefined && heldHere.get(path) === h.token;
  if (!alive(h.pid)) return false;
  if (h.start !== null) {
    const start = startOf(h.pid);
    if (start !== null && start !== h.start) return false;
  }
  return true;
}

/**
 * Replaces the stale lock file `path`, whose contents were `staleText`, by `tmp` (this opener's
 * own holder file): `'taken'` when done; `'claimed'` when another opener is taking it over now;
 * `'changed'` when the lock is no longer that file.
 */
async function takeOver(
  path: string,
  staleText: string,
  tmp: string,
  token: string,
): Promise<'taken' | 'claimed' | 'changed'> {
  const claim = `${path}.takeover-${createHash('sha256').update(staleText).digest('hex').slice(0, 16)}`;
  for (let attempt = 0; ; attempt++) {
    try {
      await link(tmp, claim);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const claimer = parseHolder(await readFile(claim, 'utf8').catch(() => ''));
    if (attempt > 0 || holderRuns(claimer, claim)) return 'claimed';
    await rm(claim, { force: true }); // its taker crashed before it was done
  }
  heldHere.set(claim, token);
  try {
    // Only the claim's holder replaces a lock with these contents, and their own holder is gone:
    // what is read here stays until the rename below.
    if ((await readFile(path, 'utf8').catch(() => undefined)) !== staleText) return 'changed';
    await rename(tmp, path);
    heldHere.set(path, token);
    return 'taken';
  } finally {
    heldHere.delete(claim);
    await rm(claim, { force: true });
  }
}

/**
 * Takes the lock file `path`. The holder is written to a file of its own first, then linked as the
 * lock, so that the lock appears whole or not at all. A lock whose holder no longer runs is taken over.
 *
 * Taking a stale lock over is a race when several openers find it at once (a supervisor that
 * restarts two copies after a crash): removing it and linking again would let the first
 * opener's fresh lock be removed by the second, and both would hold it. So the stale lock is
 * claimed first: `<path>.takeover-<id>`, where `id` names the stale file's contents, is linked
 * by one opener only; it checks that the lock is still that stale file and renames its own over
 * it (replacing it in one step). Every other opener is refused. A claim left by a taker that
 * crashed in between is stale too, and removed.
 *
 * @throws {@link PosClientError} `ERR_POS_OUTBOX_LOCKED` while another opener (this process or
 *   another) holds it, or is taking its stale lock over; the file system's error when the lock
 *   cannot be written.
 */
export async function lockFile(path: string, what: string): Promise<FileLock> {
  const token = randomBytes(8).toString('hex');
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  const locked = (holder: Holder | undefined) =>
    new PosClientError(
      'ERR_POS_OUTBOX_LOCKED',
      `${what} is in use by another outbox (pid ${holder?.pid ?? 'unknown'}): one outbox per journal`,
    );
  try {
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(
        JSON.stringify({ pid: process.pid, boot: bootId(), start: startOf(process.pid), token }),
      );
      await fh.sync();
    } finally {
      await fh.close();
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await link(tmp, path);
        heldHere.set(path, token); // at once: an opener of this process may look next
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (e) {
        // let go meanwhile: link again (a lock this user cannot read is another's: refused)
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' && attempt < 3) continue;
        throw locked(undefined);
      }
      const holder = parseHolder(text);
      if (attempt > 2 || holderRuns(holder, path)) throw locked(holder);
      const taken = await takeOver(path, text, tmp, token);
      if (taken === 'taken') break;
      if (taken === 'claimed') throw locked(holder);
      // 'changed': the lock is not that stale file any more; look again
    }
  } finally {
    await rm(tmp, { force: true });
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      try {
        // another opener's lock (ours was removed, and it took the journal over) is left alone
        const holder = parseHolder(await readFile(path, 'utf8').catch(() => ''));
        if (holder?.token === token) await rm(path, { force: true });
      } finally {
        // Only now: until the file is gone, an opener of this process must see it held. Were it
        // forgotten first, that opener would take the "stale" lock over, and the rm above would
        // then remove the lock it just took (a third opener would get the journal too).
        if (heldHere.get(path) === token) heldHere.delete(path);
      }
    },
  };
}
