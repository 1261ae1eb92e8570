/**
 * `checkResponses` (on for every platform the test suite starts, through
 * `CAMPUS_CARD_CHECK_RESPONSES=1` in vitest.config.ts): a response that does not match the schema
 * its route declares becomes a 500, so every test of the suite also checks the platform's answers
 * against the contract. Here a row is corrupted behind the platform's back to make one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../src/index.js';
import { demoPlatform, json, operator, signed } from './helpers.js';

let p: MockPlatform | undefined;
afterEach(async () => p?.close());

const corruptSchool = (q: MockPlatform) =>
  q.state.db.prepare('UPDATE schools SET campuses = \'"main"\' WHERE school_id = ?').run(q.demo!.schoolId);

describe('checkResponses', () => {
  it('is on in this suite, and turns a response that breaks the contract into a 500 naming it', async () => {
    expect(process.env.CAMPUS_CARD_CHECK_RESPONSES).toBe('1');
    p = await demoPlatform();
    const url = `/v1/schools/${p.demo!.schoolId}`;
    expect((await p.app.inject(signed(p, operator(p), 'GET', url))).statusCode).toBe(200);
    corruptSchool(p);
    const res = await p.app.inject(signed(p, operator(p), 'GET', url));
    expect([res.statusCode, json(res).code]).toEqual([500, 'ERR_INTERNAL']);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('off: the same response goes out as it is', async () => {
    p = await demoPlatform({ checkResponses: false });
    corruptSchool(p);
    const res = await p.app.inject(signed(p, operator(p), 'GET', `/v1/schools/${p.demo!.schoolId}`));
    expect([res.statusCode, json(res).campuses]).toEqual([200, 'main']);
  });
});
