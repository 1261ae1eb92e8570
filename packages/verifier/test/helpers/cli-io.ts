import type { CliIo } from '../../src/cli.js';
import { T0 } from './fixtures.js';

/** The CLI's I/O for a test: output collected, files read from `files`, the clock at T0. */
export function cliIo(files: ReadonlyMap<string, Uint8Array>): { out: string[]; err: string[]; io: CliIo } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      out: (l: string) => out.push(l),
      err: (l: string) => err.push(l),
      readFile: (p: string) => {
        const f = files.get(p);
        if (!f) throw new Error(`no file ${p}`);
        return f;
      },
      now: () => T0,
    },
  };
}
