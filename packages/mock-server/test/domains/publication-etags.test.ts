/**
 * Publication of the signed trust list, status list and roster (issue 4 §2, src/domains/cards.ts):
 * one ETag names one byte string, for ever; a change gives exactly the documents it touches a new
 * version; reading, HEAD and 304s change nothing; versions persist across a restart; no answer names
 * a version a failed group-commit batch then gives to other content.
 */
import { join } from 'node:path';
import { CARD_STATUS, decodeStatusList, getStatus } from '@campus-card/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEMO_OPERATOR } from '../../src/demo.js';
import { createClock, createMockPlatform, type MockPlatform } from '../../src/index.js';
import {
  demoPlatform,
  deviceSigner,
  failNextCommit,
  operator,
  schoolB,
  signed,
  T0,
  testDir,
} from '../helpers.js';

const KINDS = ['trust-list', 'status-list', 'roster'] as const;
type Kind = (typeof KINDS)[number];

const open: MockPlatform[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const p of open.splice(0).reverse()) await p.close();
});
async function platform(extra: Parameters<typeof demoPlatform>[0] = {}): Promise<MockPlatform> {
  const p = await demoPlatform(extra);
  open.push(p);
  return p;
}

const cardOf = (p: MockPlatform, person: string) =>
  p.demo?.cards.find((c) => c.personId === person)?.cardId as string;

function get(p: MockPlatform, kind: Kind, inm?: string, method: 'GET' | 'HEAD' = 'GET', school = 'sch-demo') {
  return p.app.inject(
    signed(
      p,
      school === 'sch-demo' ? deviceSigner(p, 'gate-01') : operator(p),
      method as 'GET',
      `/v1/schools/${school}/${kind}`,
      undefined,
      inm === undefined ? {} : { headers: { 'if-none-match': inm } },
    ),
  );
}

/** Every kind's ETag (of a school). */
async function etags(p: MockPlatform, school = 'sch-demo'): Promise<Record<Kind, string>> {
  const out = {} as Record<Kind, string>;
  for (const k of KINDS) out[k] = (await get(p, k, undefined, 'GET', school)).headers.etag as string;
  return out;
}

describe('a read in the middle of a batch that then fails', () => {
  it('names no version with the bytes of the rolled-back change, not even on its 503', async () => {
    const p = await platform();
    const before = (await get(p, 'status-list')).headers.etag as string;
    // When the fetch reads the status list's row, a batch is open in which card s-001 was just
    // reported lost (a new version waits for its bytes): that batch's COMMIT will fail.
    const db = p.state.db;
    const prepare = db.prepare;
    let armed = true;
    db.prepare = ((sql: string) => {
      if (armed && sql.startsWith('SELECT version, dirty, etag, bytes, iat FROM trust_material')) {
        armed = false;
        failNextCommit(p);
        p.state.groupCommit.join();
        void p.invoke('reportCardLost', { params: { card_id: cardOf(p, 's-001') } }, DEMO_OPERATOR);
      }
      return prepare.call(db, sql);
    }) as typeof db.prepare;
    const during = await get(p, 'status-list');
    db.prepare = prepare;
    expect(armed).toBe(false);
    expect(p.state.groupCommit.stats().failed).toBe(1);
    expect(during.statusCode).toBe(503);
    expect(during.headers.etag).toBeUndefined(); // today: the ETag of the list with s-001 suspended
    expect(during.headers['content-type']).toMatch(/^application\/problem\+json/);

    // the version it would have named goes to the next change, committed: t-001 reported lost
    const lost = await p.app.inject(
      signed(p, operator(p), 'POST', `/v1/cards/${cardOf(p, 't-001')}/report-lost`, {}),
    );
    expect(lost.statusCode, lost.body).toBe(200);
    const after = await get(p, 'status-list', before);
    expect(after.statusCode).toBe(200);
    const list = decodeStatusList(new Uint8Array(after.rawPayload)).statusList;
    const index = (card: string) =>
      p.state.db.prepare('SELECT status_index FROM cards WHERE card_id = ?').pluck().get(card) as number;
    expect([getStatus(list, index(cardOf(p, 's-001'))), getStatus(list, index(cardOf(p, 't-001')))]).toEqual([
      CARD_STATUS.valid,
      CARD_STATUS.suspended,
    ]);
    expect(after.headers.etag).not.toBe(before);
  });
});

describe('conditional requests and HEAD', () => {
  it('a 304 has no body and the 200 headers; HEAD is the GET without a body; none of them signs anything', async () => {
    const p = await platform();
    for (const k of KINDS) {
      const full = await get(p, k);
      expect(full.statusCode).toBe(200);
      const etag = full.headers.etag as string;
      expect(full.headers['cache-control']).toBe('private, no-cache');
      expect(full.headers['content-type']).toBe('application/cbor');
      for (const inm of [etag, `W/${etag}`, `"x", ${etag}`, '*']) {
        const r = await get(p, k, inm);
        expect([k, inm, r.statusCode, r.rawPayload.length]).toEqual([k, inm, 304, 0]);
        expect([r.headers.etag, r.headers['cache-control']]).toEqual([etag, 'private, no-cache']);
      }
      for (const inm of ['garbage', '"other"', '', `${etag.slice(0, -2)}"`]) {
        expect([k, inm, (await get(p, k, inm)).statusCode]).toEqual([k, inm, 200]);
      }
      const head = await get(p, k, undefined, 'HEAD');
      expect([head.statusCode, head.headers.etag, head.rawPayload.length]).toEqual([200, etag, 0]);
      expect(head.headers['content-length']).toBe(String(full.rawPayload.length));
      const head304 = await get(p, k, etag, 'HEAD');
      expect([head304.statusCode, head304.headers.etag]).toEqual([304, etag]);
      // none of these reads made a new version
      const again = await get(p, k);
      expect(again.headers.etag).toBe(etag);
      expect(Buffer.compare(again.rawPayload, full.rawPayload)).toBe(0);
    }
  });
});

describe('what changes which document', () => {
  it("an issuer rotation gives this school's three documents a new version; another school's stay", async () => {
    const p = await platform();
    await schoolB(p);
    const a = await etags(p);
    const b = await etags(p, 'sch-b');
    const r = await p.app.inject(
      signed(p, operator(p), 'POST', '/admin/rotate-issuer', { school_id: 'sch-demo' }),
    );
    expect(r.statusCode, r.body).toBe(200);
    const a2 = await etags(p);
    for (const k of KINDS) expect([k, a2[k] === a[k]]).toEqual([k, false]);
    expect(await etags(p, 'sch-b')).toEqual(b);
    // a card change of school A leaves school B alone too
    const lost = await p.app.inject(
      signed(p, operator(p), 'POST', `/v1/cards/${cardOf(p, 's-001')}/report-lost`, {}),
    );
    expect(lost.statusCode).toBe(200);
    expect(await etags(p, 'sch-b')).toEqual(b);
    const a3 = await etags(p);
    expect([a3['trust-list'], a3.roster, a3['status-list'] === a2['status-list']]).toEqual([
      a2['trust-list'],
      a2.roster,
      false,
    ]);
  });

  it('a school added leaves every other school’s documents as they were', async () => {
    const p = await platform();
    const a = await etags(p);
    await schoolB(p);
    expect(await etags(p)).toEqual(a);
  });
});

describe('across a restart', () => {
  it('the same ETags and bytes are served, and the next change gets a higher version', async () => {
    const dbPath = join(testDir('cc-publication-'), 'platform.db');
    const start = async (demo: boolean) =>
      createMockPlatform({ dbPath, demo, clock: createClock({ start: T0, frozen: true }) });
    const p1 = await start(true);
    const demo = p1.demo;
    const first = await etags(p1);
    const bytes = (await get(p1, 'status-list')).rawPayload;
    await p1.close();
    const p2 = await start(false);
    open.push(p2);
    Object.assign(p2, { demo });
    expect(await etags(p2)).toEqual(first);
    expect(Buffer.compare((await get(p2, 'status-list')).rawPayload, bytes)).toBe(0);
    const version = (etag: string) => Number(/-v(\d+)-/.exec(etag)?.[1]);
    const lost = await p2.app.inject(
      signed(p2, operator(p2), 'POST', `/v1/cards/${cardOf(p2, 's-001')}/report-lost`, {}),
    );
    expect(lost.statusCode, lost.body).toBe(200);
    const next = await etags(p2);
    expect(version(next['status-list'])).toBe(version(first['status-list']) + 1);
  });
});
