/**
 * Migration 18 (src/lib/db.ts): `card_keys`, the public key of every phone key a card has had. A
 * database from before brings each card's current key, whatever the card's status; nothing else
 * changes.
 */
import { describe, expect, it } from 'vitest';
import { migrate } from '../../src/lib/db.js';
import { databaseAt } from './database-at.js';

describe('migration 18', () => {
  it("keeps each card's current phone key, and leaves the cards and their history as they were", () => {
    const db = databaseAt(17);
    db.exec("INSERT INTO schools VALUES ('10001', 'S', '[]', 0)");
    db.exec(
      "INSERT INTO people (person_id, school_id, kind, name, student_ids, class_ids, created_at) VALUES ('s-1', '10001', 'student', 'a', '[]', '[]', 0), ('s-2', '10001', 'student', 'b', '[]', '[]', 0)",
    );
    const card = db.prepare(
      "INSERT INTO cards (card_id, school_id, person_id, role, status, status_index, holder_jwk, holder_kid, issued_at, expires_at, credential, updated_at) VALUES (?, '10001', ?, 'student', ?, ?, ?, ?, 5, 9, x'00', 7)",
    );
    card.run('c-live', 's-1', 'active', 0, '{"kty":"EC","x":"1"}', 'k1');
    card.run('c-gone', 's-2', 'revoked', 1, '{"kty":"EC","x":"2"}', 'k2');
    const history = db.prepare(
      "INSERT INTO card_history (card_id, since, status, holder_kid) VALUES (?, ?, 'active', ?)",
    );
    history.run('c-live', 0, 'k0'); // a key replaced before: its JWK was never kept
    history.run('c-live', 50, 'k1');
    history.run('c-gone', 0, 'k2');
    const before = {
      cards: db.prepare('SELECT * FROM cards ORDER BY card_id').all(),
      history: db.prepare('SELECT rowid, * FROM card_history ORDER BY rowid').all(),
    };
    expect(migrate(db)).toEqual([18, 19]);
    expect(db.prepare('SELECT * FROM card_keys ORDER BY card_id').all()).toEqual([
      { card_id: 'c-gone', holder_kid: 'k2', holder_jwk: '{"kty":"EC","x":"2"}' },
      { card_id: 'c-live', holder_kid: 'k1', holder_jwk: '{"kty":"EC","x":"1"}' },
    ]);
    expect({
      cards: db.prepare('SELECT * FROM cards ORDER BY card_id').all(),
      history: db.prepare('SELECT rowid, * FROM card_history ORDER BY rowid').all(),
    }).toEqual(before);
    db.close();
  });

  it('looks a card up by its primary key', () => {
    const db = databaseAt(18);
    const plan = (
      db
        .prepare('EXPLAIN QUERY PLAN SELECT holder_jwk FROM card_keys WHERE card_id = ? AND holder_kid <> ?')
        .all('c', 'k') as { detail: string }[]
    )
      .map((r) => r.detail)
      .join('; ');
    expect(plan).toMatch(/SEARCH card_keys USING PRIMARY KEY \(card_id=\?\)/);
    db.close();
  });
});
