// Documentation facts that used to go stale: the index lists every guide and every package
// README (none "planned" once it exists), the README states no count of test vectors that is not
// the real one, and the verifier harness example shows the harness's real answer to `hello`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listPackages, repoRoot } from '../lib/packages.mjs';

const read = (...path: string[]) => readFileSync(join(repoRoot, ...path), 'utf8');

describe('docs/README.md', () => {
  const index = read('docs', 'README.md');

  it('links every guide', () => {
    const guides = readdirSync(join(repoRoot, 'docs', 'guides')).filter((f) => f.endsWith('.md'));
    expect(guides.length).toBeGreaterThan(0);
    for (const guide of guides) expect(index, guide).toContain(`](guides/${guide})`);
  });

  it('links every package README, none marked planned when it exists', () => {
    for (const p of listPackages()) {
      const link = `](../packages/${p.dirName}/README.md)`;
      expect(index, p.name).toContain(link);
      expect(existsSync(join(p.dir, 'README.md')), p.name).toBe(true);
      const row = index.split('\n').find((line) => line.includes(link)) ?? '';
      expect(row, p.name).not.toMatch(/planned/i);
    }
  });
});

it('README.md states no count of test vectors other than the real one', () => {
  const count = readdirSync(join(repoRoot, 'packages', 'core', 'vectors')).filter((f) =>
    f.endsWith('.json'),
  ).length;
  for (const m of read('README.md').matchAll(/(\d+)\s+(?:test\s+|conformance\s+)?vectors/g)) {
    expect(Number(m[1]), m[0]).toBe(count);
  }
});

it("examples/verifier-harness/README.md shows the harness's real answer to hello", () => {
  const readme = read('examples', 'verifier-harness', 'README.md');
  const shown = /^# (\{"id":"1".*\})$/m.exec(readme)?.[1];
  expect(shown, 'the README shows an answer').toBeDefined();
  const r = spawnSync(process.execPath, [join(repoRoot, 'examples', 'verifier-harness', 'run.mjs')], {
    input: '{"id":"1","op":"hello"}\n',
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout.trim().split('\n')[0] as string)).toEqual(JSON.parse(shown as string));
}, 60_000);

it('the API reference builds: `npm run docs` (typedoc, warnings as errors) has nothing to say', () => {
  // a {@link} to a symbol that is not exported, or an export without docs, fails `npm run docs`;
  // `--emit none` checks all of it without writing the HTML
  const r = spawnSync(
    process.execPath,
    [join(repoRoot, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--emit', 'none'],
    {
      cwd: repoRoot,
      encoding: 'utf8',
    },
  );
  const warnings = `${r.stdout}${r.stderr}`
    .split('\n')
    .filter((line) => /warning|error/i.test(line))
    .join('\n');
  expect(warnings).toBe('');
  expect(r.status).toBe(0);
}, 240_000);
