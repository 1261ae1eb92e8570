/**
 * The gate client's trust material sync and its ETags: an ETag is kept only for the bytes it
 * names, and a 304 confirms the held copy only when it names the ETag the client sent. Otherwise
 * a reader would keep answering `If-None-Match` with a tag of other bytes, be told 304, and keep
 * an old status list (a lost card admitted) while reporting it freshly synced.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJwk, generateKeyPair } from '@campus-card/core';
import type { Jwk } from '@campus-card/core/http';
import type { Verifier } from '@campus-card/verifier';
import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGateClient, type GateClientOptions } from '../src/index.js';
import { tempDir } from './helpers.js';
import { stubVerifier } from './stub-verifier.js';

const ORIGIN = 'https://api.campus.test';
const NOW = Date.UTC(2026, 0, 5, 8, 0, 0);
const jwk = exportJwk(generateKeyPair('ES256').privateKey, { includePrivate: true }) as Jwk;

let agent: MockAgent;
let data: ReturnType<typeof tempDir>;
beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  data = tempDir();
});
afterEach(async () => {
  agent.assertNoPendingInterceptors();
  await agent.close();
  data.cleanup();
});

function options(verifier: Verifier): GateClientOptions {
  return {
    baseUrl: ORIGIN,
    deviceId: 'gate-1',
    schoolId: 'sch-1',
    privateKey: jwk,
    verifier,
    dataDir: data.dir,
    dispatcher: agent,
    now: () => NOW,
    outbox: { firstSeq: 1 },
    transport: { sleep: async () => {}, maxRetries: 0 },
  };
}

/** The bytes of version `v` of a document (the stub reads the version from byte 0). */
const doc = (v: number) => Buffer.from([v, 0xaa]);
/** The platform's ETag of `bytes` (src/domains/cards.ts): kind, version, 12 hex digits of SHA-256. */
const platformEtag = (segment: string, bytes: Uint8Array) =>
  `"${segment}-v${bytes[0]}-${createHash('sha256').update(bytes).digest('hex').slice(0, 12)}"`;

/**
 * The platform as of `current` (bytes and ETag) for `segment`: a 304 to an `If-None-Match` naming
 * `etag` (weakly), the bytes otherwise. `answer` overrides what it sends.
 */
function serve(
  segment: string,
  current: { bytes: Buffer; etag: string },
  answer: { status?: number; etag?: string; bytes?: Buffer } = {},
  seen?: (ifNoneMatch: string | undefined) => void,
) {
  agent
    .get(ORIGIN)
    .intercept({ path: `/v1/schools/sch-1/${segment}`, method: 'GET' })
    .reply((req) => {
      const inm = (req.headers as Record<string, string | undefined>)['if-none-match'];
      seen?.(inm);
      const match = inm !== undefined && inm.replace(/^W\//, '') === current.etag.replace(/^W\//, '');
      const status = answer.status ?? (match ? 304 : 200);
      return {
        statusCode: status,
        data: status === 200 ? (answer.bytes ?? current.bytes) : '',
        responseOptions: {
          headers: { 'content-type': 'application/cbor', etag: answer.etag ?? current.etag },
        },
      };
    });
}

/** One sync where the trust list and roster are unchanged (304), and `statusList` answers. */
async function sync(g: Awaited<ReturnType<typeof createGateClient>>, statusList: () => void) {
  serve('trust-list', { bytes: doc(3), etag: platformEtag('trust-list', doc(3)) });
  statusList();
  serve('roster', { bytes: doc(2), etag: platformEtag('roster', doc(2)) });
  return g.syncNow();
}

describe('an ETag is kept only for the bytes it names', () => {
  it('a 200 whose ETag names other bytes: the bytes are used, the ETag is not sent back', async () => {
    const g = await createGateClient(options(stubVerifier().verifier));
    const v7 = doc(7);
    const v8 = doc(8);
    // the status list v7 arrives under the ETag of v8 (a cache that mixed two answers up)
    const first = await sync(g, () =>
      serve('status-list', { bytes: v8, etag: platformEtag('status-list', v8) }, { bytes: v7 }),
    );
    expect(first.statusList).toEqual({ outcome: 'updated', version: 7 });
    const stored = JSON.parse(readFileSync(join(data.dir, 'material', 'status-list.json'), 'utf8'));
    expect(stored.etag).toBeNull(); // today: v8's ETag, kept with v7's bytes

    // the next sync asks in full, and gets v8 (sent back, v8's ETag would be a 304: v7 kept)
    let sent: string | undefined = 'none';
    const second = await sync(g, () =>
      serve('status-list', { bytes: v8, etag: platformEtag('status-list', v8) }, {}, (inm) => {
        sent = inm;
      }),
    );
    expect(sent).toBeUndefined();
    expect(second.statusList).toEqual({ outcome: 'updated', version: 8 });
    // and from then on, the ETag of the bytes held is kept and gets its 304s
    const third = await sync(g, () =>
      serve('status-list', { bytes: v8, etag: platformEtag('status-list', v8) }),
    );
    expect(third.statusList).toEqual({ outcome: 'unchanged', version: 8 });
    await g.close();
  });

  it('a weak ETag of the platform form is checked the same way; one of another form is kept as it is', async () => {
    const g = await createGateClient(options(stubVerifier().verifier));
    const v7 = doc(7);
    const etag7 = `W/${platformEtag('status-list', v7)}`;
    await sync(g, () => serve('status-list', { bytes: v7, etag: etag7 }));
    const stored = () =>
      JSON.parse(readFileSync(join(data.dir, 'material', 'status-list.json'), 'utf8')).etag as string | null;
    expect(stored()).toBe(etag7);
    const v9 = doc(9);
    await sync(g, () =>
      serve('status-list', { bytes: v9, etag: platformEtag('status-list', v9) }, { etag: etag7 }),
    );
    expect(stored()).toBeNull();
    const v10 = doc(10);
    await sync(g, () => serve('status-list', { bytes: v10, etag: '"opaque-10"' }));
    expect(stored()).toBe('"opaque-10"');
    await g.close();
  });

  it('a copy stored with the ETag of other bytes (before this check) is asked for in full after a restart', async () => {
    const v7 = doc(7);
    const v8 = doc(8);
    const g = await createGateClient(options(stubVerifier().verifier));
    await sync(g, () => serve('status-list', { bytes: v7, etag: platformEtag('status-list', v7) }));
    await g.close();
    const file = join(data.dir, 'material', 'status-list.json');
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...stored, etag: platformEtag('status-list', v8) }));
    const h = await createGateClient(options(stubVerifier().verifier));
    let sent: string | undefined = 'none';
    const r = await sync(h, () =>
      serve('status-list', { bytes: v8, etag: platformEtag('status-list', v8) }, {}, (inm) => {
        sent = inm;
      }),
    );
    expect(sent).toBeUndefined(); // today: v8's ETag, answered 304, v7 kept
    expect(r.statusList).toEqual({ outcome: 'updated', version: 8 });
    await h.close();
  });
});

describe('a 304 confirms the held copy only for the ETag sent', () => {
  it('a 304 naming another ETag is no answer: the document is fetched in full', async () => {
    const g = await createGateClient(options(stubVerifier().verifier));
    const v7 = doc(7);
    const v8 = doc(8);
    const etag7 = platformEtag('status-list', v7);
    const etag8 = platformEtag('status-list', v8);
    await sync(g, () => serve('status-list', { bytes: v7, etag: etag7 }));
    // a 304 that says the current document is v8's: the held v7 is not confirmed by it
    const sent: (string | undefined)[] = [];
    const r = await sync(g, () => {
      serve('status-list', { bytes: v8, etag: etag7 }, { status: 304, etag: etag8 }, (inm) => sent.push(inm));
      serve('status-list', { bytes: v8, etag: etag8 }, {}, (inm) => sent.push(inm));
    });
    expect(sent).toEqual([etag7, undefined]);
    expect(r.statusList).toEqual({ outcome: 'updated', version: 8 }); // today: unchanged, v7
    // a 304 naming the tag sent, weak or strong, or naming none, confirms it
    for (const answer of [etag8, `W/${etag8}`, undefined]) {
      const again = await sync(g, () =>
        serve(
          'status-list',
          { bytes: v8, etag: etag8 },
          { status: 304, ...(answer ? { etag: answer } : {}) },
        ),
      );
      expect([answer, again.statusList]).toEqual([answer, { outcome: 'unchanged', version: 8 }]);
    }
    await g.close();
  });

  it('a 5xx or a refused 200 leaves the held copy and its ETag as they were', async () => {
    const g = await createGateClient(options(stubVerifier().verifier));
    const v7 = doc(7);
    const etag7 = platformEtag('status-list', v7);
    await sync(g, () => serve('status-list', { bytes: v7, etag: etag7 }));
    const stored = () =>
      JSON.parse(readFileSync(join(data.dir, 'material', 'status-list.json'), 'utf8')).etag as string | null;
    const failed = await sync(g, () =>
      serve(
        'status-list',
        { bytes: v7, etag: etag7 },
        { status: 503, etag: '"status-list-v9-000000000000"' },
      ),
    );
    expect(failed.statusList.outcome).toBe('failed');
    const v6 = doc(6);
    const refused = await sync(g, () =>
      serve('status-list', { bytes: v6, etag: platformEtag('status-list', v6) }, { status: 200 }),
    );
    expect(refused.statusList).toMatchObject({ outcome: 'rejected', version: 7 });
    expect(stored()).toBe(etag7);
    const ok = await sync(g, () => serve('status-list', { bytes: v7, etag: etag7 }));
    expect(ok.statusList).toEqual({ outcome: 'unchanged', version: 7 });
    await g.close();
  });
});
