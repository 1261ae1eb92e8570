/**
 * The process groups of the programs the suite launches (devices, harnesses). Each runs in a group
 * of its own (`detached`), so that a signal reaches whatever the shell started, not the shell alone;
 * the groups still running when the suite's process exits are sent SIGTERM.
 *
 * @module
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';

const live = new Set<number>();
let hooked = false;

/** Sends `signal` to the process group `group`; a group already gone is not an error. */
function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal);
  } catch {
    // already gone
  }
}

/** Remembers a running group, to be signalled if the suite exits before it is done. */
function trackGroup(group: number): void {
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const g of live) signalGroup(g, 'SIGTERM');
    });
  }
  live.add(group);
}

/** Forgets a group whose leader exited (its leftovers are the caller's to signal). */
function untrackGroup(group: number): void {
  live.delete(group);
}

/** A command started by {@link spawnInGroup}. */
export interface GroupedProcess {
  readonly child: ChildProcess;
  /** Signals the whole group (the child alone if it never got a pid). A group already gone is fine. */
  signal(signal: NodeJS.Signals): void;
}

/**
 * Runs `command` through the shell in a process group of its own, tracked until its leader exits
 * (and signalled with SIGTERM if the suite exits first).
 */
export function spawnInGroup(
  command: string,
  options: Pick<SpawnOptions, 'cwd' | 'env' | 'stdio'>,
): GroupedProcess {
  const child = spawn(command, { ...options, shell: true, detached: true });
  const group = child.pid;
  if (group !== undefined) {
    trackGroup(group);
    child.once('exit', () => untrackGroup(group));
  }
  return {
    child,
    signal(sig) {
      if (group !== undefined) signalGroup(group, sig);
      else child.kill(sig);
    },
  };
}
