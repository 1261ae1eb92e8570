// The packages' commands work in a fresh clone right after `npm install`, with no build.
//
// npm links a bin into node_modules/.bin only if its file exists at install time, and dist/ is
// built, not committed: a bin pointing into dist/ left `npx campus-card-mock` to ask the public
// registry for a package of that name. So every bin is a committed launcher (packages/*/bin/), which
// runs dist/ in a published package and the TypeScript source in this repository.
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { binEntries, listPackages, readJson, repoRoot, run } from '../lib/packages.mjs';

const commands = listPackages().flatMap((p) =>
  binEntries(p.pkg).map(([command, file]) => ({ p, command, file, path: join(p.dir, file) })),
);

/** Runs `node <file> ...args` and resolves with its exit code and output. */
function node(
  file: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file, ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('package bins', () => {
  it('the packages have the commands the docs use', () => {
    expect(commands.map((c) => c.command).sort()).toEqual([
      'campus-card-conformance',
      'campus-card-mock',
      'campus-card-verify',
    ]);
  });

  it.each(commands)(
    '$command: its file is committed, not built: it exists and git does not ignore it',
    async ({ file, path }) => {
      expect(file, 'a bin in dist/ does not exist at install time').not.toMatch(/^(\.\/)?dist\//);
      expect(statSync(path, { throwIfNoEntry: false })?.isFile(), `${path} exists`).toBe(true);
      const ignored = await run('git', ['check-ignore', '-q', path]);
      expect(ignored.code, `${file} is ignored by git`).not.toBe(0);
      expect(readFileSync(path, 'utf8').startsWith('#!/usr/bin/env node\n'), 'starts with #!').toBe(true);
    },
  );

  it.each(commands)('$command: its folder is published (package.json files)', ({ p, file }) => {
    const top = file.replace(/^\.\//, '').split('/')[0] as string;
    expect(p.pkg.files ?? []).toContain(top);
  });

  it.each(commands)(
    '$command: package-lock.json links it where package.json says',
    ({ p, command, file }) => {
      const lock = readJson<{ packages: Record<string, { bin?: Record<string, string> }> }>(
        join(repoRoot, 'package-lock.json'),
      );
      const entry = lock.packages[`packages/${p.dirName}`];
      expect(entry?.bin?.[command], 'run npm install to update package-lock.json').toBe(
        file.replace(/^\.\//, ''),
      );
    },
  );

  it.each(commands)(
    '$command --help runs from source with no build, exit 0',
    async ({ command, path }) => {
      const r = await node(path, ['--help']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: ${command} `));
    },
    60_000,
  );
});
