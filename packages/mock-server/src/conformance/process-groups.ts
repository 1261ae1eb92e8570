/**
 * The process groups of the programs the suite launches (devices, harnesses). Each runs in a group
 * of its own (`detached`), so that a signal reaches whatever the shell started, not the shell alone;
 * the groups still running when the suite's process exits are sent SIGTERM.
 *
 * @module
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const live = new Set<number>();
let hooked = false;
let stopping = false;

/** How long a group has to end after SIGTERM before it is sent SIGKILL, milliseconds. */
export const STOP_GRACE_MS = 2000;

/** Sends `signal` to the process group `group`; a group already gone is not an error. */
function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal);
  } catch {
    // already gone
  }
}

/**
 * Whether a process of `group` still runs. Zombies do not count: in a container whose init does
 * not reap orphans they stay in the group forever. Read from `/proc` where there is one.
 */
function groupRuns(group: number): boolean {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    try {
      process.kill(-group, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === group && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

/**
 * Stops the group: SIGTERM, then SIGKILL to whatever is left after `graceMs` (a program that
 * ignores SIGTERM, or hangs in its shutdown, behind a shell that already died).
 */
async function stopGroup(group: number, graceMs: number): Promise<void> {
  const gone = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (groupRuns(group)) {
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 25));
    }
    return true;
  };
  signalGroup(group, 'SIGTERM');
  if (!(await gone(graceMs))) {
    signalGroup(group, 'SIGKILL');
    // a moment for the kernel to take them down (one in an uninterruptible wait is not waited for)
    await gone(1000);
  }
  live.delete(group);
}

/** Remembers a running group, to be signalled if the suite exits before it is stopped. */
function trackGroup(group: number): void {
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const g of live) if (groupRuns(g)) signalGroup(g, 'SIGTERM');
    });
  }
  live.add(group);
}

/**
 * Stops every group the suite launched and has not stopped yet (see {@link GroupedProcess.stop}):
 * for a suite that is leaving on a signal, before it exits. From then on {@link spawnInGroup}
 * refuses to start anything (a plan would otherwise go on to its next module and launch a device
 * that nothing stops).
 */
export async function stopAllGroups(graceMs = STOP_GRACE_MS): Promise<void> {
  stopping = true;
  await Promise.all([...live].map((g) => stopGroup(g, graceMs)));
}

/** A command started by {@link spawnInGroup}. */
export interface GroupedProcess {
  readonly child: ChildProcess;
  /** Signals the whole group (the child alone if it never got a pid). A group already gone is fine. */
  signal(signal: NodeJS.Signals): void;
  /**
   * Stops the whole group: SIGTERM, then SIGKILL to whatever still runs after `graceMs` (default
   * {@link STOP_GRACE_MS}). Resolves once nothing of the group runs.
   */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Runs `command` through the shell in a process group of its own, tracked until it is stopped
 * (and signalled with SIGTERM if the suite exits first).
 *
 * @throws `Error` once {@link stopAllGroups} was called.
 */
export function spawnInGroup(
  command: string,
  options: Pick<SpawnOptions, 'cwd' | 'env' | 'stdio'>,
): GroupedProcess {
  if (stopping) throw new Error('the suite is stopping: nothing more is launched');
  const child = spawn(command, { ...options, shell: true, detached: true });
  const group = child.pid;
  if (group !== undefined) {
    trackGroup(group);
    // a leader that exits on its own, leaving nothing behind, needs no stop (and its group id may
    // be reused by an unrelated program, which the exit hook must then not signal)
    child.once('exit', () => {
      if (!groupRuns(group)) live.delete(group);
    });
  }
  return {
    child,
    signal(sig) {
      if (group !== undefined) signalGroup(group, sig);
      else child.kill(sig);
    },
    async stop(graceMs = STOP_GRACE_MS) {
      if (group !== undefined) await stopGroup(group, graceMs);
    },
  };
}
