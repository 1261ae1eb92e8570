import { describe, expect, it } from 'vitest';
import { createSharedRun } from '../../src/transport.js';

/** A run that ends when told to, and records the signal it was given. */
function controlled() {
  const runs: { signal: AbortSignal; finish: (v: string) => void; fail: (e: unknown) => void }[] = [];
  const shared = createSharedRun<string>(
    (signal) =>
      new Promise<string>((resolve, reject) => {
        runs.push({ signal, finish: resolve, fail: reject });
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      }),
  );
  return { shared, runs };
}

describe('createSharedRun', () => {
  it('one run for every caller while it runs, a new one after it ended', async () => {
    const { shared, runs } = controlled();
    const a = shared.run();
    const b = shared.run(new AbortController().signal);
    expect(runs).toHaveLength(1);
    expect(shared.current).toBeDefined();
    runs[0]?.finish('one');
    expect(await a).toBe('one');
    expect(await b).toBe('one');
    expect(shared.current).toBeUndefined();
    const c = shared.run();
    expect(runs).toHaveLength(2);
    runs[1]?.finish('two');
    expect(await c).toBe('two');
  });

  it("the first caller's abort stops its own wait only: the run goes on for a caller that joined", async () => {
    const { shared, runs } = controlled();
    const operator = new AbortController();
    const first = shared.run(operator.signal);
    const background = shared.run();
    operator.abort(new Error('operator cancelled'));
    await expect(first).rejects.toThrow('operator cancelled');
    expect(runs[0]?.signal.aborted).toBe(false);
    runs[0]?.finish('done');
    expect(await background).toBe('done');
  });

  it('a joining caller stops waiting at once when its signal aborts', async () => {
    const { shared, runs } = controlled();
    const first = shared.run();
    const late = new AbortController();
    const joined = shared.run(late.signal);
    late.abort(new Error('gave up'));
    await expect(joined).rejects.toThrow('gave up');
    expect(runs[0]?.signal.aborted).toBe(false);
    runs[0]?.finish('done');
    expect(await first).toBe('done');
  });

  it('the run is aborted once every caller waiting for it has aborted', async () => {
    const { shared, runs } = controlled();
    const x = new AbortController();
    const y = new AbortController();
    const a = shared.run(x.signal);
    const b = shared.run(y.signal);
    x.abort(new Error('x'));
    await expect(a).rejects.toThrow('x');
    expect(runs[0]?.signal.aborted).toBe(false);
    y.abort(new Error('y'));
    await expect(b).rejects.toThrow('y');
    expect(runs[0]?.signal.aborted).toBe(true);
    // the aborted run is over: the next caller starts a new one
    await Promise.resolve();
    await Promise.resolve();
    const c = shared.run();
    expect(runs).toHaveLength(2);
    runs[1]?.finish('fresh');
    expect(await c).toBe('fresh');
  });

  it('an already aborted signal rejects without starting anything; a failure reaches every caller', async () => {
    const { shared, runs } = controlled();
    await expect(shared.run(AbortSignal.abort(new Error('early')))).rejects.toThrow('early');
    expect(runs).toHaveLength(0);
    const a = shared.run();
    const b = shared.run(new AbortController().signal);
    runs[0]?.fail(new Error('network down'));
    await expect(a).rejects.toThrow('network down');
    await expect(b).rejects.toThrow('network down');
  });

  it('a start that throws synchronously rejects the callers instead of throwing', async () => {
    const shared = createSharedRun<string>(() => {
      throw new Error('bad start');
    });
    await expect(shared.run()).rejects.toThrow('bad start');
    expect(shared.current).toBeUndefined();
  });
});
