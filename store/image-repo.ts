// Image metadata: images, their layers and the references (tags, digests) pointing at them.
import type { Db } from './db';

export interface ImageRow {
  id: string;
  configJson: string;
  manifestDigest: string;
  manifestMediaType: string;
  manifestSize: number;
  created: string;
  size: number;
  parent: string;
  addedAt: number;
}

export interface ImageLayerRow {
  idx: number;
  diffId: string;
  chainId: string;
  blobDigest: string;
  mediaType: string;
  blobSize: number;
  uncompressedSize: number;
  /** Bytes the unpacked layer takes on disk. */
  unpackedSize: number;
}

export type RefKind = 'tag' | 'digest';

export interface ImageRefRow {
  ref: string;
  imageId: string;
  kind: RefKind;
  addedAt: number;
}

interface ImageSqlRow {
  id: string;
  config_json: string;
  manifest_digest: string;
  manifest_media_type: string;
  manifest_size: number;
  created: string;
  size: number;
  parent: string;
  added_at: number;
}

interface LayerSqlRow {
  idx: number;
  diff_id: string;
  chain_id: string;
  blob_digest: string;
  media_type: string;
  blob_size: number;
  uncompressed_size: number;
  unpacked_size: number;
}

interface RefSqlRow {
  ref: string;
  image_id: string;
  kind: RefKind;
  added_at: number;
}

const toImage = (r: ImageSqlRow): ImageRow => ({
  id: r.id,
  configJson: r.config_json,
  manifestDigest: r.manifest_digest,
  manifestMediaType: r.manifest_media_type,
  manifestSize: r.manifest_size,
  created: r.created,
  size: r.size,
  parent: r.parent,
  addedAt: r.added_at,
});

const toLayer = (r: LayerSqlRow): ImageLayerRow => ({
  idx: r.idx,
  diffId: r.diff_id,
  chainId: r.chain_id,
  blobDigest: r.blob_digest,
  mediaType: r.media_type,
  blobSize: r.blob_size,
  uncompressedSize: r.uncompressed_size,
  unpackedSize: r.unpacked_size,
});

const toRef = (r: RefSqlRow): ImageRefRow => ({ ref: r.ref, imageId: r.image_id, kind: r.kind, addedAt: r.added_at });

export class ImageRepo {
  constructor(private readonly db: Db) {}

  /** Runs fn in one transaction (nested calls join the outer one). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** Inserts an image and its layers; returns false when an image with that ID already exists. */
  insert(image: ImageRow, layers: ImageLayerRow[]): boolean {
    return this.transaction(() => {
      const res = this.db
        .prepare(
          `INSERT OR IGNORE INTO images (id, config_json, manifest_digest, manifest_media_type, manifest_size, created, size, parent, added_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          image.id,
          image.configJson,
          image.manifestDigest,
          image.manifestMediaType,
          image.manifestSize,
          image.created,
          image.size,
          image.parent,
          image.addedAt,
        );
      if (res.changes === 0) return false;
      const ins = this.db.prepare(
        `INSERT INTO image_layers (image_id, idx, diff_id, chain_id, blob_digest, media_type, blob_size, uncompressed_size, unpacked_size)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const l of layers) {
        ins.run(image.id, l.idx, l.diffId, l.chainId, l.blobDigest, l.mediaType, l.blobSize, l.uncompressedSize, l.unpackedSize);
      }
      return true;
    });
  }

  get(id: string): ImageRow | undefined {
    const r = this.db.prepare('SELECT * FROM images WHERE id = ?').get(id) as ImageSqlRow | undefined;
    return r && toImage(r);
  }

  list(): ImageRow[] {
    return (this.db.prepare('SELECT * FROM images ORDER BY added_at, id').all() as ImageSqlRow[]).map(toImage);
  }

  ids(): string[] {
    return (this.db.prepare('SELECT id FROM images').all() as { id: string }[]).map((r) => r.id);
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM images').get() as { n: number }).n;
  }

  /** IDs starting with the given `sha256:<hex-prefix>`. */
  idsWithPrefix(prefix: string): string[] {
    const escaped = prefix.replace(/[\\%_]/g, (c) => `\\${c}`);
    return (this.db.prepare(`SELECT id FROM images WHERE id LIKE ? ESCAPE '\\' LIMIT 2`).all(`${escaped}%`) as { id: string }[]).map(
      (r) => r.id,
    );
  }

  layers(imageId: string): ImageLayerRow[] {
    return (this.db.prepare('SELECT * FROM image_layers WHERE image_id = ? ORDER BY idx').all(imageId) as LayerSqlRow[]).map(toLayer);
  }

  /** Whether any image other than `exceptImageId` uses this layer chain. */
  chainUsedElsewhere(chainId: string, exceptImageId: string): boolean {
    const r = this.db.prepare('SELECT 1 FROM image_layers WHERE chain_id = ? AND image_id <> ? LIMIT 1').get(chainId, exceptImageId);
    return r !== undefined;
  }

  children(imageId: string): string[] {
    return (this.db.prepare('SELECT id FROM images WHERE parent = ?').all(imageId) as { id: string }[]).map((r) => r.id);
  }

  setParent(imageId: string, parent: string): void {
    this.db.prepare('UPDATE images SET parent = ? WHERE id = ?').run(parent, imageId);
  }

  setSize(imageId: string, size: number): void {
    this.db.prepare('UPDATE images SET size = ? WHERE id = ?').run(size, imageId);
  }

  delete(imageId: string): void {
    this.db.prepare('DELETE FROM images WHERE id = ?').run(imageId);
  }

  resolveRef(ref: string): ImageRefRow | undefined {
    const r = this.db.prepare('SELECT * FROM image_refs WHERE ref = ?').get(ref) as RefSqlRow | undefined;
    return r && toRef(r);
  }

  /** An image's references in lexical order of the full name, as dockerd's reference store lists them. */
  refsOf(imageId: string): ImageRefRow[] {
    return (this.db.prepare('SELECT * FROM image_refs WHERE image_id = ? ORDER BY ref').all(imageId) as RefSqlRow[]).map(toRef);
  }

  allRefs(): ImageRefRow[] {
    return (this.db.prepare('SELECT * FROM image_refs ORDER BY ref').all() as RefSqlRow[]).map(toRef);
  }

  /**
   * Points ref at imageId; returns the image it pointed at before, if another. `now` is the tag
   * time (0: none); re-pointing a ref at its own image only refreshes that time.
   */
  setRef(ref: string, imageId: string, kind: RefKind, now: number): string | undefined {
    return this.transaction(() => {
      const prev = this.resolveRef(ref);
      if (prev?.imageId === imageId) {
        if (now > prev.addedAt) this.db.prepare('UPDATE image_refs SET added_at = ? WHERE ref = ?').run(now, ref);
        return undefined;
      }
      this.db
        .prepare(
          `INSERT INTO image_refs (ref, image_id, kind, added_at) VALUES (?, ?, ?, ?)
           ON CONFLICT(ref) DO UPDATE SET image_id = excluded.image_id, kind = excluded.kind, added_at = excluded.added_at`,
        )
        .run(ref, imageId, kind, now);
      return prev?.imageId;
    });
  }

  deleteRef(ref: string): boolean {
    return this.db.prepare('DELETE FROM image_refs WHERE ref = ?').run(ref).changes > 0;
  }
}
