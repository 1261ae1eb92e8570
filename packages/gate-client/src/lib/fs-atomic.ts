/**
 * Durable file helpers: atomic replace (temp file, fsync, rename, fsync of the directory).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/** fsyncs a directory so that a rename or a new file in it survives a power cut (no-op where unsupported). */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // some platforms (Windows) cannot fsync a directory: the rename is still atomic
  } finally {
    await fh?.close();
  }
}

/** fsyncs a directory, synchronously (see {@link fsyncDir}). */
export function fsyncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // some platforms (Windows) cannot fsync a directory
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The parents of the directories `mkdir(dir, { recursive: true })` created, given the first one
 * it created: the entries to fsync, deepest last.
 */
function createdParents(dir: string, first: string | undefined): string[] {
  if (first === undefined) return [];
  const top = resolve(first);
  const parents: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    parents.unshift(dirname(d));
    if (d === top || dirname(d) === d) return parents;
  }
}

/**
 * Creates `dir` and its missing parents, and fsyncs the parent of each directory it created, so
 * that the new directories survive a power cut as the files written in them do (a file fsync'd
 * in a directory whose own entry was lost is lost with it).
 */
export async function mkdirDurable(dir: string): Promise<void> {
  for (const parent of createdParents(dir, await mkdir(dir, { recursive: true }))) await fsyncDir(parent);
}

/** {@link mkdirDurable}, synchronously. */
export function mkdirDurableSync(dir: string): void {
  for (const parent of createdParents(dir, mkdirSync(dir, { recursive: true }))) fsyncDirSync(parent);
}

/**
 * Replaces `path` with `data` atomically: after a crash at any instant the file holds either the
 * old or the new content, never a mix.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  await mkdirDurable(dir);
  const tmp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
  await fsyncDir(dir);
}

/**
 * Appends all of `data` at the handle's position (the end, for a file opened to append). A single
 * `write` may write less than asked (a disk filling up part-way): this writes the rest, and throws
 * when a write makes no progress, so a short write is never taken for a whole one.
 */
export async function writeAll(fh: FileHandle, data: string): Promise<void> {
  const buf = Buffer.from(data, 'utf8');
  for (let off = 0; off < buf.length; ) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off, null);
    if (!(bytesWritten > 0)) throw new Error('a write made no progress');
    off += bytesWritten;
  }
}

/** Reads a file, or `undefined` when it does not exist. */
export async function readFileIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
