/**
 * One run of a piece of work shared by every caller that asks while it is running (a client's
 * sync or flush, asked for by its background loop and by an operator at once), with an
 * `AbortSignal` per caller.
 *
 * @module
 */

/** Starts the shared work; `signal` aborts once no caller is left waiting for it. */
export type SharedRunStart<T> = (signal: AbortSignal) => Promise<T>;

/** What {@link createSharedRun} returns. */
export interface SharedRun<T> {
  /**
   * Joins the run in progress, or starts one. Resolves or rejects as the run does. When `signal`
   * aborts, this caller stops waiting at once and rejects with `signal.reason`; the run goes on for
   * the callers still waiting, and is aborted (its `signal`) only when every one of them has
   * aborted. A caller without a signal keeps the run going to its end.
   */
  run(signal?: AbortSignal): Promise<T>;
  /** The run in progress, if any. */
  readonly current: Promise<T> | undefined;
}

/**
 * Creates a {@link SharedRun}: at most one run of `start` at a time, joined by every caller.
 *
 * The first caller's signal does not become the run's: if it did, an operator cancelling an
 * "upload now" would fail the background loop's upload that had joined it.
 *
 * @example
 * ```ts
 * const sync = createSharedRun((signal) => fetchEverything(signal));
 * const a = sync.run();                  // starts it
 * const b = sync.run(AbortSignal.timeout(2_000)); // joins; stops waiting after 2 s
 * ```
 */
export function createSharedRun<T>(start: SharedRunStart<T>): SharedRun<T> {
  let current:
    | { promise: Promise<T>; controller: AbortController; waiting: number; steadfast: number }
    | undefined;

  return {
    run(signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (current === undefined) {
        const controller = new AbortController();
        let promise: Promise<T>;
        try {
          promise = start(controller.signal);
        } catch (err) {
          promise = Promise.reject(err);
        }
        const run = { promise, controller, waiting: 0, steadfast: 0 };
        current = run;
        const clear = () => {
          if (current === run) current = undefined;
        };
        promise.then(clear, clear);
      }
      const run = current;
      if (signal === undefined) {
        run.steadfast++;
        return run.promise;
      }
      run.waiting++;
      return new Promise<T>((resolve, reject) => {
        const onAbort = () => {
          run.waiting--;
          reject(signal.reason);
          if (run.waiting === 0 && run.steadfast === 0) run.controller.abort(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        run.promise.then(
          (v) => {
            signal.removeEventListener('abort', onAbort);
            resolve(v);
          },
          (e: unknown) => {
            signal.removeEventListener('abort', onAbort);
            reject(e);
          },
        );
      });
    },
    get current() {
      return current?.promise;
    },
  };
}
