// The database berthd opens: one compiled statement per SQL text, reused by every call, and the
// repositories working over those shared statements (including after a failed write, and inside
// transactions), their changes still on disk for the next open.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { ContainerRepo, NameTakenError } from '../../store/container-repo';
import { openDatabase } from '../../store/db';

const row = (id: string, name: string) => ({
  id,
  name,
  imageId: 'sha256:img',
  created: '2026-01-01T00:00:00Z',
  recordJson: '{}',
  stateJson: '{}',
});

test('openDatabase compiles each SQL text once; repositories work over the shared statements', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-db-'));
  try {
    const db = openDatabase(dir);
    const sql = 'SELECT id FROM containers WHERE name = ?';
    assert.equal(db.prepare(sql), db.prepare(sql));
    assert.notEqual(db.prepare(sql), db.prepare('SELECT id FROM containers WHERE id = ?'));

    const repo = new ContainerRepo(db);
    assert.equal(repo.insert(row('a'.repeat(64), 'one')), 1);
    // A write refused inside its transaction leaves the statements usable.
    assert.throws(() => repo.insert(row('b'.repeat(64), 'one')), NameTakenError);
    assert.equal(repo.insert(row('b'.repeat(64), 'two')), 2);
    assert.throws(() => repo.rename('b'.repeat(64), 'one', '{}'), NameTakenError);
    repo.rename('b'.repeat(64), 'three', '{"n":3}');
    repo.setState('a'.repeat(64), '{"s":1}');
    // The same statement answers again with new parameters, not the last row it read.
    assert.equal(repo.byName('one')?.id, 'a'.repeat(64));
    assert.equal(repo.byName('three')?.id, 'b'.repeat(64));
    assert.equal(repo.byName('two'), undefined);
    assert.deepEqual(repo.idsWithPrefix('b'), ['b'.repeat(64)]);
    db.close();

    const db2 = openDatabase(dir);
    const again = new ContainerRepo(db2);
    assert.deepEqual(
      again.list().map((r) => [r.name, r.recordJson, r.stateJson]),
      [
        ['one', '{}', '{"s":1}'],
        ['three', '{"n":3}', '{}'],
      ],
    );
    db2.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
