/**
 * The code of docs/guides/mock-platform.md is runnable: each `ts` block of the guide is a file of
 * examples/mock-platform/ (type-checked by `npm run typecheck`), and the example runs against the
 * demo platform: a QR code from a demo card's printed credential and phone key, and a signed
 * payment, answered 201.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { bundleForNode } from '../../../.scripts/lib/bundle.mjs';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const examples = join(repoRoot, 'examples', 'mock-platform');
const guide = readFileSync(join(repoRoot, 'docs', 'guides', 'mock-platform.md'), 'utf8');
mkdirSync(join(repoRoot, '.tmp'), { recursive: true });
const dir = mkdtempSync(join(repoRoot, '.tmp', 'guide-example-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('every ts block of the guide is a file of examples/mock-platform', () => {
  const blocks = [...guide.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string);
  expect(blocks.length).toBeGreaterThan(0);
  const files = readdirSync(examples)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => readFileSync(join(examples, f), 'utf8'));
  for (const block of blocks) expect(files, `a ts block of the guide:\n${block}`).toContain(block);
});

it('pay-with-a-demo-card.ts pays with a demo card: 201 success 150', async () => {
  const bundle = join(dir, 'pay.mjs');
  await bundleForNode(join(examples, 'pay-with-a-demo-card.ts'), bundle);
  const r = spawnSync(process.execPath, [bundle], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toBe('201 success 150\n');
}, 60_000);
