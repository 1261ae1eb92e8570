/**
 * The process groups of the programs the suite launches (devices, harnesses). Each runs in a group
 * of its own (`detached`), so that a signal reaches whatever the shell started, not the shell alone;
 * the groups still running when the suite's process exits are sent SIGTERM.
 *
 * @module
 */

const live = new Set<number>();
let hooked = false;

/** Sends `signal` to the process group `group`; a group already gone is not an error. */
export function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal);
  } catch {
    // already gone
  }
}

/** Remembers a running group, to be signalled if the suite exits before it is done. */
export function trackGroup(group: number): void {
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const g of live) signalGroup(g, 'SIGTERM');
    });
  }
  live.add(group);
}

/** Forgets a group whose leader exited (its leftovers are the caller's to signal). */
export function untrackGroup(group: number): void {
  live.delete(group);
}
