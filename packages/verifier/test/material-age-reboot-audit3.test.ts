import { beforeAll, describe, expect, it } from 'vitest';
import { createVerifier } from '../src/index.js';
import { nodeBackend } from '../src/node.js';
import { type Campus, makeCampus, T0 } from './helpers/fixtures.js';

const DAY = 86_400;
let campus: Campus;
beforeAll(async () => {
  campus = await makeCampus();
});

const gate = { id: 'gate-1' };
const options = () => ({
  rootKeys: [campus.root.publicKey],
  backend: nodeBackend,
  maxStaleness: { statusList: DAY, roster: DAY, trustList: DAY },
});

describe('a restore made after the stored material was loaded again (spec §7.1)', () => {
  it('material signed ahead of the clock keeps aging from its first load, not from the reload', async () => {
    const ahead = T0 + 10 * DAY; // the signer's clock runs 10 days fast
    const tl = await campus.trustList(1, ahead);
    const sl = await campus.statusList(1, ahead);
    const roster = await campus.roster(1, ahead);
    const v = createVerifier(options());
    expect(v.loadTrustList(tl, { now: T0 }).ok).toBe(true);
    expect(v.loadStatusList(sl, { now: T0 }).ok).toBe(true);
    expect(v.loadRoster(roster, { now: T0 }).ok).toBe(true);
    const later = T0 + 2 * DAY; // the reader stopped syncing: its material is 2 days old
    const snap = v.snapshot({ now: later });

    // the reboot loads the stored copies first, then restores the snapshot
    const rebooted = createVerifier(options());
    expect(rebooted.loadTrustList(tl, { now: later }).ok).toBe(true);
    expect(rebooted.loadStatusList(sl, { now: later }).ok).toBe(true);
    expect(rebooted.loadRoster(roster, { now: later }).ok).toBe(true);
    rebooted.restore(snap, { now: later });
    const s = rebooted.status(later);
    expect(s.trustList).toMatchObject({ age: 2 * DAY, state: 'stale' });
    expect(s.statusLists['10001']).toMatchObject({ age: 2 * DAY, state: 'stale' });
    expect(s.roster).toMatchObject({ age: 2 * DAY, state: 'stale' });
    expect(
      await rebooted.verify(await campus.code('2024010001', later), { now: later, reader: gate }),
    ).toMatchObject({ accepted: false, reason: 'TRUST_LIST_STALE' });

    // and the next snapshot keeps the first load too
    const again = createVerifier(options());
    again.restore(rebooted.snapshot({ now: later }), { now: later });
    expect(again.loadTrustList(tl, { now: later + 60 }).ok).toBe(true);
    expect(again.status(later + 60).trustList).toMatchObject({ age: 2 * DAY + 60 });
  });

  it('a load earlier than the snapshot knew of is kept, and other bytes of that version are not touched', async () => {
    const ahead = T0 + 10 * DAY;
    const tl = await campus.trustList(1, T0 - 3600);
    const sl = await campus.statusList(1, ahead);
    // the snapshot saw the list first at T0 + 1 day; this boot loaded it (again) at T0
    const v = createVerifier(options());
    v.loadTrustList(tl, { now: T0 + DAY });
    v.loadStatusList(sl, { now: T0 + DAY });
    const rebooted = createVerifier(options());
    rebooted.loadTrustList(tl, { now: T0 });
    rebooted.loadStatusList(sl, { now: T0 });
    rebooted.restore(v.snapshot({ now: T0 + DAY }), { now: T0 + DAY });
    expect(rebooted.status(T0 + DAY).statusLists['10001']).toMatchObject({ age: DAY });

    // other bytes of the same version, held before the restore: their own first load stands
    const other = createVerifier(options());
    other.loadTrustList(tl, { now: T0 + DAY });
    other.loadStatusList(await campus.statusList(1, ahead, { 1: 1 }), { now: T0 + DAY });
    other.restore(v.snapshot({ now: T0 + DAY }), { now: T0 + DAY });
    expect(other.status(T0 + DAY).statusLists['10001']).toMatchObject({ age: 0 });
  });
});
