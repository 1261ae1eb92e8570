/**
 * Demo data in a database made with another seed: the keys the given seed derives would not
 * match the stored ones, so the platform refuses to start (DemoSeedMismatchError), naming the
 * seed the data was made with when it finds it, and leaves nothing open.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DemoSeedMismatchError } from '../src/demo.js';
import { createMockPlatform } from '../src/platform.js';

const work = mkdtempSync(join(tmpdir(), 'cc-demo-seed-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function made(dbPath: string, seed: number) {
  const platform = await createMockPlatform({ dbPath, demo: true, seed });
  const demo = platform.demo!;
  await platform.close();
  return demo;
}

describe('demo data and the seed', () => {
  it('the same seed re-derives the same credentials from existing data', async () => {
    const db = join(work, 'same.db');
    const first = await made(db, -3);
    expect(await made(db, -3)).toEqual(first);
  });

  it('another seed is refused, naming the seed the data was made with', async () => {
    const db = join(work, 'other.db');
    const first = await made(db, -3);
    const error = await createMockPlatform({ dbPath: db, demo: true, seed: 4 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DemoSeedMismatchError);
    expect(error).toMatchObject({ seed: 4, dataSeed: -3 });
    // the refused start closed what it opened; the right seed starts on the same file
    expect(await made(db, -3)).toEqual(first);
    // without demo data no keys are derived, so any seed opens it
    const plain = await createMockPlatform({ dbPath: db, seed: 4 });
    await plain.close();
  });

  it('a seed beyond the search is still refused, telling to use the original seed or a fresh database', async () => {
    const db = join(work, 'far.db');
    await made(db, 123_456);
    await expect(createMockPlatform({ dbPath: db, demo: true, seed: 1 })).rejects.toMatchObject({
      name: 'DemoSeedMismatchError',
      seed: 1,
      dataSeed: undefined,
      message: expect.stringContaining('made with another seed than 1'),
    });
  }, 30_000);
});
