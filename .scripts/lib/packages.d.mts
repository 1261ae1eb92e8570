// Types for scripts/lib/packages.mjs, so that the TypeScript repo tests can import it.

export interface PackageJson {
  name: string;
  version: string;
  description?: string;
  private?: boolean;
  sideEffects?: boolean | string[];
  exports?: unknown;
  main?: string;
  types?: string;
  bin?: string | Record<string, string>;
  files?: string[];
  dependencies?: Record<string, string>;
  [key: string]: unknown;
}

export interface WorkspacePackage {
  /** Package name, e.g. `@campus-card/core`. */
  name: string;
  /** Directory name under packages/, e.g. `core`. */
  dirName: string;
  /** Absolute directory. */
  dir: string;
  pkg: PackageJson;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
  command: string;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  echo?: boolean;
  timeoutMs?: number;
}

export const repoRoot: string;
export function readJson<T = unknown>(file: string): T;
export function listPackages(): WorkspacePackage[];
export function findPackage(nameOrDir: string): WorkspacePackage;
export function run(command: string, args: string[], options?: RunOptions): Promise<RunResult>;
export function tail(result: RunResult, lines?: number): string;
export function buildPackage(p: WorkspacePackage, options?: RunOptions): Promise<RunResult>;
export function publint(p: WorkspacePackage, options?: RunOptions): Promise<RunResult>;
export function attw(p: WorkspacePackage, options?: RunOptions): Promise<RunResult>;
export function packPackage(p: WorkspacePackage, destination: string): Promise<string>;
export function exportSpecifiers(pkg: PackageJson): string[];
export function binEntries(pkg: PackageJson): Array<[string, string]>;
