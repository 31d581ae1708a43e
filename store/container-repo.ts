// Container metadata: the configuration record (JSON) and the state (JSON), keyed by ID with a
// unique name. The domain layer owns the shapes; this layer only stores them.
import type { Db } from './db';

export interface ContainerRow {
  id: string;
  name: string;
  imageId: string;
  created: string;
  seq: number;
  recordJson: string;
  stateJson: string;
}

interface SqlRow {
  id: string;
  name: string;
  image_id: string;
  created: string;
  seq: number;
  record_json: string;
  state_json: string;
}

const toRow = (r: SqlRow): ContainerRow => ({
  id: r.id,
  name: r.name,
  imageId: r.image_id,
  created: r.created,
  seq: r.seq,
  recordJson: r.record_json,
  stateJson: r.state_json,
});

export class NameTakenError extends Error {
  constructor(
    readonly taken: string,
    readonly holder: string,
  ) {
    super(`name ${taken} is taken by ${holder}`);
  }
}

export class ContainerRepo {
  /** Leftover rows whose containerd side is deleted: they go with the next write (leftoverDeleted). */
  private readonly doneLeftovers = new Set<string>();

  constructor(private readonly db: Db) {}

  /** Inserts a new container; throws NameTakenError when its name is in use. */
  insert(row: Omit<ContainerRow, 'seq'>): number {
    return this.db.transaction(() => {
      this.dropDoneLeftovers();
      const holder = this.db.prepare('SELECT id FROM containers WHERE name = ?').get(row.name) as { id: string } | undefined;
      if (holder) throw new NameTakenError(row.name, holder.id);
      const seq = ((this.db.prepare('SELECT MAX(seq) AS s FROM containers').get() as { s: number | null }).s ?? 0) + 1;
      this.db
        .prepare('INSERT INTO containers (id, name, image_id, created, seq, record_json, state_json) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(row.id, row.name, row.imageId, row.created, seq, row.recordJson, row.stateJson);
      return seq;
    })();
  }

  get(id: string): ContainerRow | undefined {
    const r = this.db.prepare('SELECT * FROM containers WHERE id = ?').get(id) as SqlRow | undefined;
    return r && toRow(r);
  }

  byName(name: string): ContainerRow | undefined {
    const r = this.db.prepare('SELECT * FROM containers WHERE name = ?').get(name) as SqlRow | undefined;
    return r && toRow(r);
  }

  /** IDs starting with a hex prefix (at most `limit`, to detect ambiguity cheaply). */
  idsWithPrefix(prefix: string, limit = 2): string[] {
    const escaped = prefix.replace(/[\\%_]/g, (c) => `\\${c}`);
    return (
      this.db.prepare(`SELECT id FROM containers WHERE id LIKE ? ESCAPE '\\' LIMIT ?`).all(`${escaped}%`, limit) as { id: string }[]
    ).map((r) => r.id);
  }

  list(): ContainerRow[] {
    return (this.db.prepare('SELECT * FROM containers ORDER BY seq').all() as SqlRow[]).map(toRow);
  }

  setState(id: string, stateJson: string): void {
    this.db.transaction(() => {
      this.dropDoneLeftovers();
      this.db.prepare('UPDATE containers SET state_json = ? WHERE id = ?').run(stateJson, id);
    })();
  }

  setRecord(id: string, recordJson: string): void {
    this.db.transaction(() => {
      this.dropDoneLeftovers();
      this.db.prepare('UPDATE containers SET record_json = ? WHERE id = ?').run(recordJson, id);
    })();
  }

  /** Renames; throws NameTakenError when the new name is in use. */
  rename(id: string, name: string, recordJson: string): void {
    this.db.transaction(() => {
      const holder = this.db.prepare('SELECT id FROM containers WHERE name = ?').get(name) as { id: string } | undefined;
      if (holder && holder.id !== id) throw new NameTakenError(name, holder.id);
      this.db.prepare('UPDATE containers SET name = ?, record_json = ? WHERE id = ?').run(name, recordJson, id);
    })();
  }

  /** leavesContainerd: the row goes, and a containerd_leftovers row says its containerd side is still to delete. */
  delete(id: string, leavesContainerd = false): void {
    this.db.transaction(() => {
      this.dropDoneLeftovers();
      this.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
      if (leavesContainerd) this.db.prepare('INSERT OR REPLACE INTO containerd_leftovers (id, since) VALUES (?, ?)').run(id, Date.now());
    })();
  }

  /**
   * The containerd side of a removed container is gone. Its row goes with the next write here (or
   * flushLeftovers), in that write's commit: one fsync fewer per removal. A crash before then
   * leaves the row, and the next start deletes again what is already gone (NOT_FOUND is fine).
   */
  leftoverDeleted(id: string): void {
    this.doneLeftovers.add(id);
  }

  /** Writes the pending leftoverDeleted (a daemon stopping). */
  flushLeftovers(): void {
    if (this.doneLeftovers.size > 0) this.db.transaction(() => this.dropDoneLeftovers())();
  }

  private dropDoneLeftovers(): void {
    if (this.doneLeftovers.size === 0) return;
    const drop = this.db.prepare('DELETE FROM containerd_leftovers WHERE id = ?');
    for (const id of this.doneLeftovers) drop.run(id);
    // Cleared inside the transaction: should it roll back, the rows stay, which is only late.
    this.doneLeftovers.clear();
  }

  /** Removed containers whose containerd side is still to delete (a crash cut it short). */
  leftovers(): string[] {
    return (this.db.prepare('SELECT id FROM containerd_leftovers ORDER BY since').all() as { id: string }[])
      .map((r) => r.id)
      .filter((id) => !this.doneLeftovers.has(id));
  }

  countByImage(imageId: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM containers WHERE image_id = ?').get(imageId) as { n: number }).n;
  }
}
