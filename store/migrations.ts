// Numbered schema migrations. Append only: a released migration is never edited.
export interface Migration {
  version: number;
  sql: string;
}

export const migrations: Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );

      -- One row per image (ID = digest of its config). The config JSON is cached here because it
      -- is immutable for a given ID and listing 200 tags must not cost 200 content-store reads.
      CREATE TABLE images (
        id                  TEXT PRIMARY KEY,
        config_json         TEXT NOT NULL,
        manifest_digest     TEXT NOT NULL,
        manifest_media_type TEXT NOT NULL,
        manifest_size       INTEGER NOT NULL,
        created             TEXT NOT NULL DEFAULT '',
        size                INTEGER NOT NULL,
        parent              TEXT NOT NULL DEFAULT '',
        added_at            INTEGER NOT NULL
      );

      CREATE TABLE image_layers (
        image_id          TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        idx               INTEGER NOT NULL,
        diff_id           TEXT NOT NULL,
        chain_id          TEXT NOT NULL,
        blob_digest       TEXT NOT NULL,
        media_type        TEXT NOT NULL,
        blob_size         INTEGER NOT NULL,
        uncompressed_size INTEGER NOT NULL,
        unpacked_size     INTEGER NOT NULL,
        PRIMARY KEY (image_id, idx)
      );
      CREATE INDEX image_layers_chain ON image_layers(chain_id);

      -- Tags and digests, keyed by canonical reference (docker.io/library/busybox:latest).
      CREATE TABLE image_refs (
        ref       TEXT PRIMARY KEY,
        image_id  TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        kind      TEXT NOT NULL CHECK (kind IN ('tag', 'digest')),
        added_at  INTEGER NOT NULL
      );
      CREATE INDEX image_refs_image ON image_refs(image_id);
    `,
  },
  {
    version: 2,
    sql: `
      -- One row per container. The configuration is written once at create (and on rename/update);
      -- the state row changes at every transition, so it is kept apart.
      CREATE TABLE containers (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        image_id    TEXT NOT NULL,
        created     TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        record_json TEXT NOT NULL,
        state_json  TEXT NOT NULL
      );
      CREATE INDEX containers_image ON containers(image_id);
    `,
  },
  {
    version: 3,
    sql: `
      -- One row per volume. Its data lives under <data-root>/volumes/<name>/_data; the row holds
      -- what inspect shows and whether it was created anonymously (prune's default scope).
      CREATE TABLE volumes (
        name         TEXT PRIMARY KEY,
        driver       TEXT NOT NULL,
        created      TEXT NOT NULL,
        labels_json  TEXT NOT NULL,
        options_json TEXT NOT NULL,
        anonymous    INTEGER NOT NULL DEFAULT 0
      );
    `,
  },
  {
    version: 4,
    sql: `
      -- One row per network (the built-in bridge, host and none included, with stable IDs).
      CREATE TABLE networks (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        created     TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        record_json TEXT NOT NULL
      );
      -- A running container's network namespace. Written before the namespace is made and
      -- deleted after it is gone, so a crash in between leaves a row for the next start to clean.
      CREATE TABLE sandboxes (
        container_id TEXT PRIMARY KEY,
        netns        TEXT NOT NULL
      );
      -- A running container's attachment to a network: its address, MAC, host-side veth and
      -- published ports. Same write-ahead rule as sandboxes.
      CREATE TABLE endpoints (
        id           TEXT PRIMARY KEY,
        network_id   TEXT NOT NULL,
        container_id TEXT NOT NULL,
        record_json  TEXT NOT NULL,
        UNIQUE (network_id, container_id)
      );
      CREATE INDEX endpoints_container ON endpoints(container_id);
    `,
  },
  {
    version: 5,
    sql: `
      -- Who made each network's host bridge. created = 1: berthd added the link, so it deletes it
      -- on network rm and daemon stop; 0: the link was already on the host (a bridge named by
      -- com.docker.network.bridge.name), adopted and never deleted. address: the gateway CIDR
      -- berthd added to an adopted bridge (NULL when the host had it already), the only thing
      -- removed from it. Written before the link is made, so a crash leaves the claim behind.
      CREATE TABLE bridges (
        name       TEXT PRIMARY KEY,
        network_id TEXT NOT NULL,
        created    INTEGER NOT NULL,
        address    TEXT
      );
    `,
  },
  {
    version: 6,
    sql: `
      -- Where a layer's compressed blob is known to live in a registry: written when push uploads
      -- (or finds) it, so the next push of the same layer HEADs or mounts that blob instead of
      -- compressing the layer again (gzip output is not reproducible across encoders).
      CREATE TABLE blob_locations (
        diff_id    TEXT NOT NULL,
        registry   TEXT NOT NULL,
        repository TEXT NOT NULL,
        digest     TEXT NOT NULL,
        size       INTEGER NOT NULL,
        media_type TEXT NOT NULL,
        added_at   INTEGER NOT NULL,
        PRIMARY KEY (diff_id, registry, repository, digest)
      );
    `,
  },
  {
    version: 7,
    sql: `
      -- Containers already removed from the API (AutoRemove) whose containerd side (task,
      -- container record, snapshot) is still being deleted. A row outlives its container's row
      -- only until that deletion ends; the next start finishes one a crash cut short.
      CREATE TABLE containerd_leftovers (
        id    TEXT PRIMARY KEY,
        since INTEGER NOT NULL
      );
    `,
  },
];
