/**
 * A physical tap is `{ uid: Uint8Array }`: the UID bytes. A `{ uid }` holding the hex text the
 * platform prints (`physical_uid_hex`) is not a tap, and the denial says what the input must be,
 * so a reader vendor sees the type it got wrong instead of being told `{ uid }` is not `{ uid }`.
 */
import { fromHex } from '@campus-card/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Campus, loadedVerifier, makeCampus, T0, trustMaterial } from './helpers/fixtures.js';

let campus: Campus;
beforeAll(async () => {
  campus = await makeCampus();
});

const gate = { id: 'gate-1' };

describe('a physical card tap', () => {
  it('{ uid: Uint8Array } from the hex UID is the card; { uid: hex text } is BAD_FORMAT naming the type', async () => {
    const v = loadedVerifier(campus, await trustMaterial(campus));
    const uid = fromHex('04010203');
    if (uid === undefined) throw new Error('bad hex');
    await expect(v.verify({ uid }, { now: T0, reader: gate })).resolves.toMatchObject({
      accepted: true,
      cardId: '2024010002',
      mode: 'physical',
    });
    for (const bad of [{ uid: '04010203' }, { uid: [4, 1, 2, 3] }, 42, null]) {
      await expect(v.verify(bad as never, { now: T0, reader: gate })).resolves.toMatchObject({
        accepted: false,
        reason: 'BAD_FORMAT',
        coreCode: 'ERR_INPUT_TYPE',
        detail:
          'input must be QR text, presentation bytes or { uid: Uint8Array } (the UID bytes, not hex text)',
      });
    }
  });
});
