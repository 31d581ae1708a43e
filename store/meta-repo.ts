// Small key/value facts about this daemon (its persisted ID, for one).
import type { Db } from './db';

export class MetaRepo {
  constructor(private readonly db: Db) {}

  get(key: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  }

  /** Returns the stored value, storing `make()` first when there is none. */
  getOrCreate(key: string, make: () => string): string {
    return this.db.transaction(() => {
      const existing = this.get(key);
      if (existing !== undefined) return existing;
      const value = make();
      this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run(key, value);
      return value;
    })();
  }
}
