// Package smoke test: what we publish is what a consumer can install and import.
//
// For every workspace package: build with tsup, `publint --strict`, `attw --pack --profile
// esm-only`, `npm pack`. Then extract every tarball into a scratch project inside the repo
// (.tmp/smoke-*, so third-party dependencies resolve from the root node_modules by walking up)
// and, with plain node (no `@campus-card/source` condition, no src/ in the tarball), import
// every entry point of every exports map, check that each bin file exists and that it runs
// (`--help`) from the tarball's dist/.
//
// Driven entirely by each package.json, so it needs no change when a package gains an entry.
// Packages marked `"private": true` are not published, so they are left out.
//
// The scratch project resolves third-party packages from the root node_modules, which also holds
// the root's devDependencies, so an import would pass here that a consumer's install could not
// satisfy: the bare imports of dist/ (JS and declarations) are therefore checked against each
// package's own dependencies, statically.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attw,
  binEntries,
  buildPackage,
  exportSpecifiers,
  listPackages,
  type PackageJson,
  packPackage,
  publint,
  type RunResult,
  repoRoot,
  run,
  tail,
  type WorkspacePackage,
} from '../lib/packages.mjs';

const packages = listPackages().filter((p) => p.pkg.private !== true);
const builds = new Map<string, RunResult>();
const tarballs = new Map<string, string>();
let packDir = '';
let scratch = '';

// Imports each specifier given on the command line and prints one JSON array.
const IMPORT_CHECK = `
const results = [];
for (const specifier of process.argv.slice(2)) {
  try {
    const resolved = import.meta.resolve(specifier);
    const mod = await import(specifier);
    results.push({ specifier, resolved, ok: true, exports: Object.keys(mod) });
  } catch (error) {
    results.push({ specifier, ok: false, error: String(error && error.stack ? error.stack : error) });
  }
}
console.log(JSON.stringify(results));
process.exit(0);
`;

interface ImportResult {
  specifier: string;
  ok: boolean;
  resolved?: string;
  exports?: string[];
  error?: string;
}

const nodeBuiltins = new Set(builtinModules);

/** Files under `dir` (recursively) whose name matches `pattern`. */
function filesUnder(dir: string, pattern: RegExp): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && pattern.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

/** The package a bare specifier names: `@scope/name/sub.js` → `@scope/name`, `fs/promises` → `fs`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

/** Whether an installed package ships its own declarations (else a consumer needs `@types/…`). */
function hasOwnTypes(name: string): boolean {
  const dir = join(repoRoot, 'node_modules', ...name.split('/'));
  if (!existsSync(join(dir, 'package.json'))) return false;
  const dep = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
  if (dep.types !== undefined || dep.typings !== undefined) return true;
  if (JSON.stringify(dep.exports ?? null).includes('"types"')) return true;
  const main = typeof dep.main === 'string' ? dep.main.replace(/\.[cm]?js$/, '') : 'index';
  return existsSync(join(dir, `${main}.d.ts`)) || existsSync(join(dir, 'index.d.ts'));
}

function requireBuilt(p: WorkspacePackage): void {
  const build = builds.get(p.name);
  if (build?.code !== 0) {
    throw new Error(`${p.name} did not build (see its "builds with tsup" test); skipping this check`);
  }
}

beforeAll(async () => {
  // Sequential: tsup's dts step is CPU-heavy and the CI machine has 2 cores.
  for (const p of packages) builds.set(p.name, await buildPackage(p, { timeoutMs: 180_000 }));
  packDir = mkdtempSync(join(tmpdir(), 'campus-card-pack-'));
}, 300_000);

afterAll(() => {
  if (packDir) rmSync(packDir, { recursive: true, force: true });
  if (scratch && !process.env.CAMPUS_CARD_KEEP_SMOKE) rmSync(scratch, { recursive: true, force: true });
});

describe.each(packages)('$name', (p) => {
  it('builds with tsup', () => {
    const build = builds.get(p.name);
    expect(build, 'build did not run').toBeDefined();
    if (build!.code !== 0) {
      expect.fail(`\`${build!.command}\` in ${p.dir} exited ${build!.code}:\n${tail(build!)}`);
    }
  });

  it('passes publint --strict', async () => {
    requireBuilt(p);
    const result = await publint(p);
    if (result.code !== 0) expect.fail(`${result.command} exited ${result.code}:\n${tail(result, 60)}`);
  }, 120_000);

  it('passes attw --pack --profile esm-only', async () => {
    requireBuilt(p);
    const result = await attw(p);
    if (result.code !== 0) expect.fail(`${result.command} exited ${result.code}:\n${tail(result, 60)}`);
  }, 120_000);

  it('packs with npm pack', async () => {
    requireBuilt(p);
    const tarball = await packPackage(p, packDir);
    expect(existsSync(tarball)).toBe(true);
    tarballs.set(p.name, tarball);
  }, 120_000);
});

describe('packed tarballs in a scratch consumer project', () => {
  beforeAll(async () => {
    mkdirSync(join(repoRoot, '.tmp'), { recursive: true });
    scratch = mkdtempSync(join(repoRoot, '.tmp', 'smoke-'));
    writeFileSync(
      join(scratch, 'package.json'),
      `${JSON.stringify({ name: 'campus-card-smoke', private: true, type: 'module' }, null, 2)}\n`,
    );
    writeFileSync(join(scratch, 'import-check.mjs'), IMPORT_CHECK);
    for (const [name, tarball] of tarballs) {
      const dest = join(scratch, 'node_modules', ...name.split('/'));
      mkdirSync(dest, { recursive: true });
      const untar = await run('tar', ['-xzf', tarball, '-C', dest, '--strip-components=1']);
      if (untar.code !== 0) throw new Error(`extracting ${tarball} failed:\n${tail(untar)}`);
    }
  }, 60_000);

  it.each(packages)(
    '$name: every exports entry imports with plain node and has exports',
    async (p) => {
      if (!tarballs.has(p.name)) expect.fail(`${p.name} was not packed (see its build/pack tests)`);
      const installed = join(scratch, 'node_modules', ...p.name.split('/'));
      const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as PackageJson;
      const specifiers = exportSpecifiers(pkg);
      expect(specifiers.length, 'the exports map names no importable entry point').toBeGreaterThan(0);

      const result = await run(process.execPath, ['import-check.mjs', ...specifiers], {
        cwd: scratch,
        timeoutMs: 60_000,
      });
      if (result.code !== 0) expect.fail(`import check exited ${result.code}:\n${tail(result)}`);
      const lastLine = result.stdout.trim().split('\n').pop() ?? '[]';
      const results = JSON.parse(lastLine) as ImportResult[];

      const problems: string[] = [];
      for (const r of results) {
        if (!r.ok) problems.push(`${r.specifier}: import failed:\n${r.error}`);
        else if (!r.resolved?.startsWith(`file://${join(scratch, 'node_modules')}${sep}`)) {
          problems.push(`${r.specifier}: resolved outside the scratch project: ${r.resolved}`);
        } else if ((r.exports ?? []).length === 0) problems.push(`${r.specifier}: module has no exports`);
      }
      expect(problems, problems.join('\n\n')).toEqual([]);
    },
    90_000,
  );

  it.each(packages)('$name: every bin file is in the tarball', (p) => {
    if (!tarballs.has(p.name)) expect.fail(`${p.name} was not packed (see its build/pack tests)`);
    const installed = join(scratch, 'node_modules', ...p.name.split('/'));
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as PackageJson;
    const missing = binEntries(pkg).filter(([, file]) => !existsSync(join(installed, file)));
    expect(missing.map(([command, file]) => `${command} → ${file}`)).toEqual([]);
    for (const [command, file] of binEntries(pkg)) {
      const head = readFileSync(join(installed, file), 'utf8').slice(0, 2);
      expect(head, `bin ${command} (${file}) has no #! line`).toBe('#!');
    }
  });

  it.each(packages)(
    '$name: every bin runs from the tarball (its dist/, no source): --help exits 0',
    async (p) => {
      if (!tarballs.has(p.name)) expect.fail(`${p.name} was not packed (see its build/pack tests)`);
      const installed = join(scratch, 'node_modules', ...p.name.split('/'));
      const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as PackageJson;
      for (const [command, file] of binEntries(pkg)) {
        const result = await run(process.execPath, [join(installed, file), '--help'], {
          cwd: scratch,
          timeoutMs: 60_000,
        });
        expect(result.code, `${command} --help:\n${tail(result)}`).toBe(0);
        expect(result.stdout).toMatch(new RegExp(`^usage: ${command} `));
      }
    },
    90_000,
  );

  it.each(packages)(
    '$name: dist imports only node: builtins and its own dependencies (types included)',
    (p) => {
      if (!tarballs.has(p.name)) expect.fail(`${p.name} was not packed (see its build/pack tests)`);
      const installed = join(scratch, 'node_modules', ...p.name.split('/'));
      const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as PackageJson;
      const declared = new Set([
        ...Object.keys(pkg.dependencies ?? {}),
        ...Object.keys((pkg.peerDependencies as Record<string, string> | undefined) ?? {}),
      ]);
      const problems: string[] = [];
      for (const file of filesUnder(join(installed, 'dist'), /\.(js|d\.ts)$/)) {
        const where = relative(installed, file);
        const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
        for (const { fileName: specifier } of info.importedFiles) {
          if (specifier.startsWith('.') || specifier.startsWith('node:')) continue;
          const name = packageOf(specifier);
          if (nodeBuiltins.has(name)) {
            problems.push(
              `${where}: imports the Node builtin "${specifier}" without node: (tsup removeNodeProtocol)`,
            );
          } else if (name !== p.name && !declared.has(name)) {
            problems.push(
              `${where}: imports "${specifier}", but ${name} is not in dependencies or peerDependencies`,
            );
          } else if (where.endsWith('.d.ts') && name !== p.name && !hasOwnTypes(name)) {
            const typesName = `@types/${name.replace(/^@/, '').replace('/', '__')}`;
            if (!declared.has(typesName)) {
              problems.push(
                `${where}: its types name "${specifier}", which has no declarations of its own, but ${typesName} is not in dependencies`,
              );
            }
          }
        }
      }
      expect([...new Set(problems)], [...new Set(problems)].join('\n')).toEqual([]);
    },
  );

  it.each(packages)('$name: every source map embeds its sources (src/ is not published)', (p) => {
    if (!tarballs.has(p.name)) expect.fail(`${p.name} was not packed (see its build/pack tests)`);
    const installed = join(scratch, 'node_modules', ...p.name.split('/'));
    const problems: string[] = [];
    for (const file of filesUnder(join(installed, 'dist'), /\.map$/)) {
      const map = JSON.parse(readFileSync(file, 'utf8')) as {
        sources: string[];
        sourcesContent?: (string | null)[];
      };
      map.sources.forEach((source, i) => {
        const shipped = existsSync(join(dirname(file), source));
        if (!shipped && typeof map.sourcesContent?.[i] !== 'string') {
          problems.push(`${relative(installed, file)}: ${source} is neither published nor embedded`);
        }
      });
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });
});
