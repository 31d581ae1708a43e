// Opens Berth's SQLite database under the data root and brings its schema up to date.
// WAL keeps readers off the writer's back, and every multi-row change runs in a transaction,
// so a berthd killed with SIGKILL restarts from the last committed state. synchronous=FULL
// fsyncs the WAL at every commit: what a client was told is done survives a power loss too
// (NORMAL only survives a process crash). Cost measured in docs/divergence.md (lifecycle).
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { migrations } from './migrations';

export type Db = Database.Database;

export function openDatabase(dataRoot: string): Db {
  fs.mkdirSync(dataRoot, { recursive: true, mode: 0o711 });
  const db = new Database(path.join(dataRoot, 'berth.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  cacheStatements(db);
  return db;
}

/**
 * Makes db.prepare return one statement per SQL text. The repositories prepare their (constant)
 * SQL on every call, and compiling a statement costs more than running it: `docker ps` of 1,000
 * containers spent a third of its time in prepare. The texts are a fixed set, so the cache is
 * bounded; a statement is safe to reuse because none is ever iterated (a half-read iterate()
 * would hold it busy) or switched to pluck/raw/expand mode.
 */
function cacheStatements(db: Db): void {
  const cache = new Map<string, Database.Statement>();
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string): Database.Statement => {
    let stmt = cache.get(sql);
    if (stmt === undefined) {
      stmt = prepare(sql);
      cache.set(sql, stmt);
    }
    return stmt;
  }) as Db['prepare'];
}

export function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  const current = row.v ?? 0;
  const newest = migrations.length === 0 ? 0 : migrations[migrations.length - 1].version;
  if (current > newest) {
    throw new Error(`database schema version ${current} is newer than this berthd understands (${newest})`);
  }
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, new Date().toISOString());
    })();
  }
}
