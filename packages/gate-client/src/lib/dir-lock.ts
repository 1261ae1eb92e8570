/**
 * One gate client per data directory: a lock file that a power cut cannot leave held.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { link, open, readFile, realpath, rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { GateClientError } from '../errors.js';
import { fsyncDir, mkdirDurable } from './fs-atomic.js';

/** A held lock; {@link DirLock.release} lets it go (once). */
export interface DirLock {
  /** The lock file. */
  readonly path: string;
  /**
   * Whether a lock left by a holder that no longer runs was taken over: the last client of this
   * directory did not close (a crash, a power cut), so whatever it kept only in memory is lost.
   */
  readonly tookOverStale: boolean;
  /** Removes the lock file. Idempotent. */
  release(): Promise<void>;
  /**
   * Lets the lock go but leaves its file, as a crash would, naming no holder: the next client of
   * the directory (in this process or another) takes it over as stale ({@link DirLock.tookOverStale}).
   * For a close that could not save what it kept in memory. Idempotent; does nothing once released.
   */
  abandon(): void;
}

/** What a lock file records of its holder. */
interface Holder {
  /** This lock's own random token: which lock a file is, whoever holds it (two in one process too). */
  readonly token?: string | undefined;
  readonly pid: number;
  /** Linux: the kernel's boot id; a lock from an earlier boot is stale. */
  readonly boot: string | null;
  /** Linux: the holder's start time (clock ticks since boot); a reused pid has another one. */
  readonly start: string | null;
}

/**
 * The lock files this process holds, with each one's token (two clients of one process on one
 * directory are refused too).
 */
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
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null;
}

function me(): Holder {
  return { pid: process.pid, boot: readProc('/proc/sys/kernel/random/boot_id'), start: startOf(process.pid) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

/**
 * Whether the recorded holder still runs. Not when the file is empty or torn (a power cut while
 * it was written), from an earlier boot, its pid is gone, or its pid now belongs to another
 * process (another start time; this very process, restarted in a container as pid 1 say).
 */
function holderRuns(h: Holder | undefined, path: string): boolean {
  if (h === undefined) return false;
  const now = me();
  if (h.boot !== null && now.boot !== null && h.boot !== now.boot) return false;
  if (h.pid === process.pid)
    return h.token === undefined ? heldHere.has(path) : heldHere.get(path) === h.token;
  if (!alive(h.pid)) return false;
  if (h.start !== null) {
    const start = startOf(h.pid);
    if (start !== null && start !== h.start) return false;
  }
  return true;
}

function parseHolder(text: string): Holder | undefined {
  try {
    const v = JSON.parse(text) as Partial<Holder>;
    return Number.isSafeInteger(v.pid) && (v.pid as number) > 0
      ? {
          token: typeof v.token === 'string' ? v.token : undefined,
          pid: v.pid as number,
          boot: typeof v.boot === 'string' ? v.boot : null,
          start: typeof v.start === 'string' ? v.start : null,
        }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Replaces the stale lock file `path`, whose contents were `staleText`, by `tmp` (this client's
 * own holder file): `'taken'` when done; `'claimed'` when another client is taking it over now;
 * `'changed'` when the lock is no longer that file.
 *
 * Several clients may find a stale lock at once (a supervisor that restarts two after a crash):
 * removing it and linking again would let the first one's fresh lock be removed by the second,
 * and both would hold it. So the stale lock is claimed first: `<path>.takeover-<id>`, where `id`
 * names the stale file's contents, is linked by one client only, which checks that the lock is
 * still that stale file and renames its own over it, in one step. A claim left by a taker that
 * crashed in between is stale too, and removed.
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
 * Takes the lock of `dir` (its file `lock`), creating the directory. A lock left by a holder that
 * no longer runs (crash, power cut, a pid reused after a reboot) is taken over.
 *
 * @throws {@link GateClientError} `ERR_GATE_DATA_DIR_LOCKED` while another gate client (this
 * process or another) holds it, or is taking its stale lock over (see `takeOver`); `ERR_GATE_OUTBOX_IO` when the file cannot be written.
 */
export async function lockDir(dir: string): Promise<DirLock> {
  // the directory's real path: the same directory reached through a symlink is the same lock
  let real: string;
  try {
    await mkdirDurable(dir);
    real = await realpath(dir);
  } catch (cause) {
    throw new GateClientError('ERR_GATE_OUTBOX_IO', `cannot create the data directory ${dir}`, { cause });
  }
  const path = resolve(real, 'lock');
  // the holder is written to a file of its own first, then linked as the lock: the lock appears
  // whole or not at all (no reader ever sees it empty)
  let tookOverStale = false;
  const token = randomBytes(8).toString('hex');
  const tmp = resolve(real, `.lock.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify({ ...me(), token }));
      await fh.sync();
    } finally {
      await fh.close();
    }
    const locked = (holder: Holder | undefined) =>
      new GateClientError(
        'ERR_GATE_DATA_DIR_LOCKED',
        `another gate client (pid ${holder?.pid ?? 'unknown'}) uses ${dir}: one device, one data directory`,
      );
    for (let attempt = 0; ; attempt++) {
      try {
        await link(tmp, path);
        heldHere.set(path, token); // at once: a client of this process may look next
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
      // stale: its holder is gone (a crash, a power cut)
      const taken = await takeOver(path, text, tmp, token);
      if (taken === 'claimed') throw locked(holder);
      if (taken === 'taken') {
        tookOverStale = true;
        break;
      }
      // 'changed': the lock is not that stale file any more; look again
    }
  } catch (e) {
    if (e instanceof GateClientError) throw e;
    throw new GateClientError('ERR_GATE_OUTBOX_IO', `cannot create the lock ${path}`, { cause: e });
  } finally {
    await rm(tmp, { force: true });
  }
  await fsyncDir(dir);
  let released = false;
  /** Whether the lock file is still this lock (not removed, not another client's since). */
  const stillMine = (): boolean => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return false;
    }
    return parseHolder(text)?.token === token;
  };
  const forget = (): void => {
    if (heldHere.get(path) === token) heldHere.delete(path);
  };
  return {
    path,
    tookOverStale,
    async release() {
      if (released) return;
      released = true;
      forget();
      // another client's lock (ours was removed, and it took the directory) is left alone
      if (stillMine()) await rm(path, { force: true });
    },
    abandon() {
      if (released) return;
      released = true;
      forget();
      if (!stillMine()) return; // removed, or another client's now: nothing of ours to leave
      // names no holder: any process takes it over as stale, this one still running included
      try {
        writeFileSync(path, '{"abandoned":true}');
      } catch {
        // (a full disk) left naming this process: stale for this process, and for others once it exits
      }
    },
  };
}
