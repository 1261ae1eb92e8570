// Shared helpers for the repo scripts (check-packages, the pack smoke test, run-bench).
// Plain .mjs so that Node 20 runs it without a build step.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of the repository root. */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

const bin = (name) => join(repoRoot, 'node_modules', '.bin', name);

/** Reads and parses a JSON file. */
export function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/**
 * The workspace packages, in the order of the root package.json `workspaces` list
 * (dependencies first), each as `{ name, dirName, dir, pkg }`.
 */
export function listPackages() {
  const root = readJson(join(repoRoot, 'package.json'));
  return root.workspaces.map((ws) => {
    const dir = join(repoRoot, ws);
    const pkg = readJson(join(dir, 'package.json'));
    return { name: pkg.name, dirName: ws.split('/').pop(), dir, pkg };
  });
}

/** Finds one package by directory name (`core`) or package name (`@campus-card/core`). */
export function findPackage(nameOrDir) {
  const found = listPackages().find((p) => p.dirName === nameOrDir || p.name === nameOrDir);
  if (!found) {
    const known = listPackages()
      .map((p) => p.dirName)
      .join(', ');
    throw new Error(`unknown package "${nameOrDir}" (known: ${known})`);
  }
  return found;
}

/**
 * Runs a command without a shell and collects its output.
 * Resolves to `{ code, stdout, stderr, ms, command }`; never rejects on a non-zero exit.
 * With `echo: true` the output is also passed through to this process.
 */
export function run(command, args, { cwd = repoRoot, env, echo = false, timeoutMs } = {}) {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (echo) process.stdout.write(chunk);
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (echo) process.stderr.write(chunk);
    });
    const timer = timeoutMs ? setTimeout(() => child.kill('SIGTERM'), timeoutMs) : undefined;
    const done = (code, error) => {
      if (timer) clearTimeout(timer);
      resolve({
        code,
        stdout,
        stderr: error ? `${stderr}${error.message}\n` : stderr,
        ms: Math.round(performance.now() - started),
        command: [command, ...args].join(' '),
      });
    };
    child.on('error', (error) => done(127, error));
    child.on('close', (code, signal) => done(code ?? (signal ? 128 : 1)));
  });
}

/** The last `lines` lines of a command's combined output, for failure messages. */
export function tail(result, lines = 40) {
  const text = `${result.stdout}\n${result.stderr}`.trim().split('\n');
  return text.slice(-lines).join('\n');
}

/** `npm run build` (tsup) in the package directory. */
export function buildPackage(p, opts = {}) {
  return run('npm', ['run', 'build', '--silent'], { cwd: p.dir, ...opts });
}

/** `publint --strict <dir>` (it packs the package itself, so dist must be built). */
export function publint(p, opts = {}) {
  return run(bin('publint'), ['--strict', p.dir], { ...opts });
}

/** `attw --pack <dir> --profile esm-only` (Are The Types Wrong, ESM-only profile). */
export function attw(p, opts = {}) {
  return run(bin('attw'), ['--pack', p.dir, '--profile', 'esm-only', '--format', 'ascii'], { ...opts });
}

/**
 * `npm pack` the package into `destination`; resolves to the tarball's absolute path
 * (or throws with the command output).
 */
export async function packPackage(p, destination) {
  const result = await run('npm', ['pack', '--json', '--pack-destination', destination], { cwd: p.dir });
  if (result.code !== 0) throw new Error(`npm pack failed for ${p.name}:\n${tail(result)}`);
  const start = result.stdout.indexOf('[');
  const info = JSON.parse(result.stdout.slice(start));
  return join(destination, info[0].filename);
}

/**
 * Entry points of an exports map as import specifiers (`@scope/name`, `@scope/name/sub`).
 * Skips `./package.json`, JSON files and wildcard patterns, which cannot be imported by name.
 */
export function exportSpecifiers(pkg) {
  const exportsMap = pkg.exports;
  if (exportsMap === undefined) return pkg.main ? [pkg.name] : [];
  if (typeof exportsMap === 'string' || Array.isArray(exportsMap)) return [pkg.name];
  const keys = Object.keys(exportsMap);
  if (!keys.every((k) => k.startsWith('.'))) return [pkg.name]; // a conditions-only map for "."
  return keys
    .filter((k) => k !== './package.json' && !k.endsWith('.json') && !k.includes('*'))
    .map((k) => (k === '.' ? pkg.name : `${pkg.name}/${k.slice(2)}`));
}

/** The bin entries of a package.json as `[command, relativePath]` pairs. */
export function binEntries(pkg) {
  if (!pkg.bin) return [];
  if (typeof pkg.bin === 'string') return [[pkg.name.split('/').pop(), pkg.bin]];
  return Object.entries(pkg.bin);
}
