/**
 * Abortable sleep used between retries.
 *
 * @module
 */

/** A sleep function: resolves after `ms` milliseconds, rejects with `signal.reason` on abort. */
export type SleepFn = (ms: number, signal?: AbortSignal) => Promise<void>;

/**
 * Sleeps for `ms` milliseconds using `setTimeout`; rejects with `signal.reason` as soon as the
 * signal aborts (also when it is already aborted).
 *
 * @param ms - delay in milliseconds.
 * @param signal - optional abort signal.
 */
export const sleep: SleepFn = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
