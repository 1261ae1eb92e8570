// examples/verifier-harness answers every line of the protocol as the conformance guide says: one
// JSON line per request, in order, echoing `id`, with `error` for anything it cannot do, a line
// that is not a request included.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { repoRoot } from '../lib/packages.mjs';

it('answers each line with its id, and an error for a line that is no request', () => {
  const lines = ['{"id":"1","op":"hello"}', '{"id":"2"}', '{"id":"3","op":"frobnicate"}', 'nonsense', '[1]'];
  const r = spawnSync(process.execPath, [join(repoRoot, 'examples', 'verifier-harness', 'run.mjs')], {
    input: `${lines.join('\n')}\n`,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  const replies = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { id: unknown; error?: unknown });
  expect(replies.map((x) => x.id)).toEqual(['1', '2', '3', null, null]);
  expect(replies[0]?.error).toBeUndefined();
  for (const reply of replies.slice(1)) expect(typeof reply.error, JSON.stringify(reply)).toBe('string');
}, 60_000);
