// Where layers' compressed blobs are known to be in registries (diff ID → registry, repository,
// blob digest): what lets a push skip or cross-mount a layer it cannot recompress identically.
import type { Db } from './db';

export interface BlobLocation {
  diffId: string;
  /** Registry host as in references (`docker.io`, `127.0.0.1:5000`). */
  registry: string;
  /** Repository path on that registry (`library/busybox`). */
  repository: string;
  digest: string;
  size: number;
  mediaType: string;
}

interface LocationSqlRow {
  diff_id: string;
  registry: string;
  repository: string;
  digest: string;
  size: number;
  media_type: string;
}

const toLocation = (r: LocationSqlRow): BlobLocation => ({
  diffId: r.diff_id,
  registry: r.registry,
  repository: r.repository,
  digest: r.digest,
  size: r.size,
  mediaType: r.media_type,
});

/** Rows kept per (diff ID, registry): enough mount candidates, and no growth without bound. */
const MAX_PER_REGISTRY = 16;

export class BlobLocationRepo {
  constructor(private readonly db: Db) {}

  /** Records (or refreshes) a location; the oldest beyond MAX_PER_REGISTRY for that layer and registry go. */
  record(loc: BlobLocation, now = Date.now()): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO blob_locations (diff_id, registry, repository, digest, size, media_type, added_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (diff_id, registry, repository, digest)
           DO UPDATE SET size = excluded.size, media_type = excluded.media_type, added_at = excluded.added_at`,
        )
        .run(loc.diffId, loc.registry, loc.repository, loc.digest, loc.size, loc.mediaType, now);
      this.db
        .prepare(
          `DELETE FROM blob_locations WHERE diff_id = ? AND registry = ? AND rowid NOT IN (
             SELECT rowid FROM blob_locations WHERE diff_id = ? AND registry = ? ORDER BY added_at DESC, rowid DESC LIMIT ?)`,
        )
        .run(loc.diffId, loc.registry, loc.diffId, loc.registry, MAX_PER_REGISTRY);
    })();
  }

  /** Known locations of a layer on one registry, newest first. */
  find(diffId: string, registry: string): BlobLocation[] {
    const rows = this.db
      .prepare('SELECT * FROM blob_locations WHERE diff_id = ? AND registry = ? ORDER BY added_at DESC, rowid DESC')
      .all(diffId, registry) as LocationSqlRow[];
    return rows.map(toLocation);
  }

  /** Forgets a location the registry no longer has (HEAD said unknown, or the mount failed). */
  forget(loc: Pick<BlobLocation, 'diffId' | 'registry' | 'repository' | 'digest'>): void {
    this.db
      .prepare('DELETE FROM blob_locations WHERE diff_id = ? AND registry = ? AND repository = ? AND digest = ?')
      .run(loc.diffId, loc.registry, loc.repository, loc.digest);
  }
}
