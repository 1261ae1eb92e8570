/**
 * Second audit of the gate side (gate client and the platform's event upload): what the earlier
 * audits missed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PublicKey } from '@campus-card/core';
import type { RunningMockPlatform } from '@campus-card/mock-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type GateClient,
  type GateClientOptions,
  openEventOutbox,
  type UnnumberedEvent,
} from '../src/index.js';
import { cardOf, demoGate, OPERATOR, rootKeyOf, startDemo, tempDir } from './helpers.js';

let data: ReturnType<typeof tempDir>;
beforeEach(() => {
  data = tempDir();
});
afterEach(() => data.cleanup());

const ev = (i: number): UnnumberedEvent => ({
  kind: 'access',
  occurred_at: '2026-01-05T08:00:00Z',
  decision: 'allowed',
  card_id: `c-${i}`,
});

describe('outbox: events set aside leave the journal too', () => {
  it('a reader whose every event is quarantined (nothing ever acknowledged) still compacts its journal', async () => {
    const reason = { code: 'ERR_OCCURRED_AT', status: 422, message: 'after now', at: 1 };
    const o = await openEventOutbox({ dir: data.dir, firstSeq: 1, compactAfter: 4 });
    for (let i = 1; i <= 10; i++) {
      const { seq } = await o.append(ev(i));
      expect(await o.quarantine(seq, reason)).toBe(true);
    }
    expect(o.depth).toBe(0);
    const lines = () =>
      readFileSync(join(data.dir, 'events.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l !== '');
    // at most compactAfter dead events stay in the journal, not all ten for good
    expect(lines().length).toBeLessThan(4);
    await o.close();
    // the quarantined seqs stay used, and the events stay set aside, after a reopen
    const again = await openEventOutbox({ dir: data.dir, firstSeq: 1, compactAfter: 4 });
    expect(again.depth).toBe(0);
    expect(again.quarantined().map((q) => q.event.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect((await again.append(ev(11))).seq).toBe(11);
    await again.close();
  });
});

describe('against the mock platform', () => {
  let server: RunningMockPlatform;
  let rootKey: PublicKey;
  const clients: GateClient[] = [];
  beforeEach(async () => {
    server = await startDemo();
    rootKey = await rootKeyOf(server);
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await server.close();
  });

  describe('online fallback', () => {
    const gate = (overrides: Partial<GateClientOptions> = {}): Promise<GateClient> =>
      demoGate(server, rootKey, data.dir, clients, overrides);
    const link = async (person: string, uidHex: string) => {
      const r = await server.platform.invoke(
        'linkPhysicalCard',
        {
          params: { card_id: cardOf(server, person) },
          body: { uid_hex: uidHex, card_number: `PC-${person}` },
        },
        OPERATOR,
      );
      expect(r.status).toBe(200);
      return { uid: Uint8Array.from(Buffer.from(uidHex, 'hex')) };
    };

    it("the platform's permission check is asked for the reader's zone, not the device's registered one (C2)", async () => {
      // gate-01 is registered at gate:main; one controller also serves a lab door
      const g = await gate();
      expect((await g.syncNow()).ok).toBe(true);
      const lab = { id: 'lab-door', zone: 'lab:chem', direction: 'in' } as const;
      const pupil = await link('s-002', '04112233445566');
      const r = await g.scan(pupil, lab, { kind: 'access' });
      expect(r.offline?.reason).toBe('UNKNOWN_CARD');
      expect(r.source).toBe('online');
      // what the platform decides for this card at this zone
      const platform = await server.platform.invoke(
        'checkPermission',
        { body: { card_id: cardOf(server, 's-002'), scene: 'access', zone: 'lab:chem' } },
        OPERATOR,
      );
      expect(platform.body).toMatchObject({ allowed: false, reason: 'NEEDS_AUTHORISATION' });
      expect(r.decision).toMatchObject({
        accepted: false,
        reason: 'POLICY_DENIED',
        rule: 'platform:NEEDS_AUTHORISATION',
      });
      // a teacher is admitted at the lab door
      const teacher = await link('t-001', '04aabbccddeeff');
      expect((await g.scan(teacher, lab, { kind: 'access' })).decision.accepted).toBe(true);
    });
  });

  describe('an event journal with unreadable lines', () => {
    it('is reported to onError at start (restore, ERR_GATE_OUTBOX_IO); a torn last line alone is not', async () => {
      const o = await openEventOutbox({ dir: join(data.dir, 'outbox'), firstSeq: 1 });
      for (let i = 1; i <= 3; i++) await o.append(ev(i));
      await o.close();
      const journal = join(data.dir, 'outbox', 'events.jsonl');
      const lines = readFileSync(journal, 'utf8').split('\n');
      // the second event's line damaged, and a torn line at the end (a crash mid-append)
      writeFileSync(journal, `${[lines[0], '{"seq":2,"ki', lines[2]].join('\n')}\n{"seq":4`);
      const errors: unknown[] = [];
      const g = await demoGate(server, rootKey, data.dir, clients, { onError: (e) => errors.push(e) });
      expect(errors).toEqual([
        expect.objectContaining({ code: 'ERR_GATE_OUTBOX_IO', detail: { corrupt: 1 } }),
      ]);
      expect(g.outbox.depth).toBe(2); // events 1 and 3; 2 is lost, 4 was never whole
      await g.close();
      clients.length = 0;
      // the journal as the client rewrote it or left it: a torn line alone is a crash, not a loss
      writeFileSync(journal, `${[lines[0], lines[2]].join('\n')}\n{"seq":4`);
      const quiet: unknown[] = [];
      await demoGate(server, rootKey, data.dir, clients, { onError: (e) => quiet.push(e) });
      expect(quiet).toEqual([]);
    });
  });
});
