// Volume metadata: name, driver, creation time, labels and driver options. The data itself is
// on disk under the volumes root; only the domain layer touches it.
import type { Db } from './db';

export interface VolumeRow {
  name: string;
  driver: string;
  created: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  anonymous: boolean;
}

interface SqlRow {
  name: string;
  driver: string;
  created: string;
  labels_json: string;
  options_json: string;
  anonymous: number;
}

const toRow = (r: SqlRow): VolumeRow => ({
  name: r.name,
  driver: r.driver,
  created: r.created,
  labels: JSON.parse(r.labels_json) as Record<string, string>,
  options: JSON.parse(r.options_json) as Record<string, string>,
  anonymous: r.anonymous !== 0,
});

export class VolumeRepo {
  constructor(private readonly db: Db) {}

  /** Inserts the volume unless one of that name exists; returns the stored row either way. */
  insertIfAbsent(row: VolumeRow): { row: VolumeRow; created: boolean } {
    return this.db.transaction(() => {
      const existing = this.get(row.name);
      if (existing) return { row: existing, created: false };
      this.db
        .prepare('INSERT INTO volumes (name, driver, created, labels_json, options_json, anonymous) VALUES (?, ?, ?, ?, ?, ?)')
        .run(row.name, row.driver, row.created, JSON.stringify(row.labels), JSON.stringify(row.options), row.anonymous ? 1 : 0);
      return { row, created: true };
    })();
  }

  get(name: string): VolumeRow | undefined {
    const r = this.db.prepare('SELECT * FROM volumes WHERE name = ?').get(name) as SqlRow | undefined;
    return r && toRow(r);
  }

  list(): VolumeRow[] {
    return (this.db.prepare('SELECT * FROM volumes ORDER BY name').all() as SqlRow[]).map(toRow);
  }

  delete(name: string): void {
    this.db.prepare('DELETE FROM volumes WHERE name = ?').run(name);
  }
}
