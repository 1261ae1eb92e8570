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
  maxStaleness: { statusList: DAY },
});

describe('material signed ahead of the clock ages from its first load, across a reboot (spec §7.1)', () => {
  it('a status list signed 10 days fast is still stale after a reboot that loads the same bytes again', async () => {
    const tl = await campus.trustList(1, T0 - 3600);
    const ahead = await campus.statusList(1, T0 + 10 * DAY); // the signer's clock runs 10 days fast
    const v = createVerifier(options());
    expect(v.loadTrustList(tl, { now: T0 }).ok).toBe(true);
    expect(v.loadStatusList(ahead, { now: T0 }).ok).toBe(true);
    const later = T0 + 2 * DAY; // the reader stopped syncing: its list is 2 days old
    const code = () => campus.code('2024010001', later);
    expect(await v.verify(await code(), { now: later, reader: gate })).toMatchObject({
      reason: 'STATUS_LIST_STALE',
    });
    expect(v.status(later).statusLists['10001']).toMatchObject({ age: 2 * DAY, state: 'stale' });

    // the reboot: the snapshot is restored, and the gate loads its stored copies again
    const rebooted = createVerifier(options());
    rebooted.restore(v.snapshot({ now: later }), { now: later });
    expect(rebooted.loadTrustList(tl, { now: later }).ok).toBe(true);
    expect(rebooted.loadStatusList(ahead, { now: later }).ok).toBe(true);
    expect(rebooted.status(later).statusLists['10001']).toMatchObject({ age: 2 * DAY, state: 'stale' });
    expect(await rebooted.verify(await code(), { now: later, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'STATUS_LIST_STALE',
    });
    // a second reboot keeps the first load time too
    const again = createVerifier(options());
    again.restore(rebooted.snapshot({ now: later + 60 }), { now: later + 60 });
    expect(again.loadTrustList(tl, { now: later + 60 }).ok).toBe(true);
    expect(again.loadStatusList(ahead, { now: later + 60 }).ok).toBe(true);
    expect(again.status(later + 60).statusLists['10001']).toMatchObject({ age: 2 * DAY + 60 });
  });

  it('a newer list loaded after the reboot ages from its own load; a list signed in the past from its iat', async () => {
    const tl = await campus.trustList(1, T0 - 3600);
    const v = createVerifier(options());
    expect(v.loadTrustList(tl, { now: T0 }).ok).toBe(true);
    expect(v.loadStatusList(await campus.statusList(1, T0 + 10 * DAY), { now: T0 }).ok).toBe(true);
    const later = T0 + 2 * DAY;
    const rebooted = createVerifier(options());
    rebooted.restore(v.snapshot({ now: later }), { now: later });
    expect(rebooted.loadTrustList(tl, { now: later }).ok).toBe(true);
    expect(rebooted.loadStatusList(await campus.statusList(2, later - 600), { now: later }).ok).toBe(true);
    expect(rebooted.status(later).statusLists['10001']).toMatchObject({
      version: 2,
      age: 600,
      state: 'fresh',
    });
    expect(
      (await rebooted.verify(await campus.code('2024010001', later), { now: later, reader: gate })).accepted,
    ).toBe(true);
  });
});
