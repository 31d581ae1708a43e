// Network metadata: networks (record JSON, unique name), running containers' sandboxes (their
// netns) and endpoints (record JSON). The domain layer owns the shapes; this layer only stores them.
import type { Db } from './db';

export interface NetworkRow {
  id: string;
  name: string;
  created: string;
  recordJson: string;
}

export interface EndpointRow {
  id: string;
  networkId: string;
  containerId: string;
  recordJson: string;
}

export interface SandboxRow {
  containerId: string;
  netns: string;
}

interface NetworkSql {
  id: string;
  name: string;
  created: string;
  record_json: string;
}

interface EndpointSql {
  id: string;
  network_id: string;
  container_id: string;
  record_json: string;
}

/** A network's host bridge and whether berthd made it (see migration 5). */
export interface BridgeRow {
  name: string;
  networkId: string;
  created: boolean;
  /** The gateway CIDR berthd added to an adopted bridge; null when it was there already. */
  address: string | null;
}

/** The name is held by another network (the UNIQUE constraint). */
export class NetworkNameTakenError extends Error {}

const toNetwork = (r: NetworkSql): NetworkRow => ({ id: r.id, name: r.name, created: r.created, recordJson: r.record_json });
const toEndpoint = (r: EndpointSql): EndpointRow => ({
  id: r.id,
  networkId: r.network_id,
  containerId: r.container_id,
  recordJson: r.record_json,
});

export class NetworkRepo {
  constructor(private readonly db: Db) {}

  insert(row: NetworkRow): void {
    try {
      this.db
        .prepare(
          'INSERT INTO networks (id, name, created, seq, record_json) VALUES (?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM networks), ?)',
        )
        .run(row.id, row.name, row.created, row.recordJson);
    } catch (err) {
      if (err instanceof Error && /UNIQUE constraint failed: networks.name/.test(err.message)) throw new NetworkNameTakenError(row.name);
      throw err;
    }
  }

  update(id: string, recordJson: string): void {
    this.db.prepare('UPDATE networks SET record_json = ? WHERE id = ?').run(recordJson, id);
  }

  get(id: string): NetworkRow | undefined {
    const r = this.db.prepare('SELECT id, name, created, record_json FROM networks WHERE id = ?').get(id) as NetworkSql | undefined;
    return r && toNetwork(r);
  }

  byName(name: string): NetworkRow | undefined {
    const r = this.db.prepare('SELECT id, name, created, record_json FROM networks WHERE name = ?').get(name) as NetworkSql | undefined;
    return r && toNetwork(r);
  }

  idsWithPrefix(prefix: string): string[] {
    const rows = this.db.prepare("SELECT id FROM networks WHERE id LIKE ? || '%'").all(prefix) as { id: string }[];
    return rows.map((r) => r.id);
  }

  list(): NetworkRow[] {
    return (this.db.prepare('SELECT id, name, created, record_json FROM networks ORDER BY seq').all() as NetworkSql[]).map(toNetwork);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM networks WHERE id = ?').run(id);
  }

  // -------------------------------------------------------------- sandboxes

  putSandbox(row: SandboxRow): void {
    this.db.prepare('INSERT OR REPLACE INTO sandboxes (container_id, netns) VALUES (?, ?)').run(row.containerId, row.netns);
  }

  sandbox(containerId: string): SandboxRow | undefined {
    const r = this.db.prepare('SELECT container_id, netns FROM sandboxes WHERE container_id = ?').get(containerId) as
      { container_id: string; netns: string } | undefined;
    return r && { containerId: r.container_id, netns: r.netns };
  }

  sandboxes(): SandboxRow[] {
    const rows = this.db.prepare('SELECT container_id, netns FROM sandboxes').all() as { container_id: string; netns: string }[];
    return rows.map((r) => ({ containerId: r.container_id, netns: r.netns }));
  }

  deleteSandbox(containerId: string): void {
    this.db.prepare('DELETE FROM sandboxes WHERE container_id = ?').run(containerId);
  }

  // -------------------------------------------------------------- endpoints

  putEndpoint(row: EndpointRow): void {
    this.db
      .prepare('INSERT OR REPLACE INTO endpoints (id, network_id, container_id, record_json) VALUES (?, ?, ?, ?)')
      .run(row.id, row.networkId, row.containerId, row.recordJson);
  }

  endpoints(): EndpointRow[] {
    return (this.db.prepare('SELECT id, network_id, container_id, record_json FROM endpoints ORDER BY rowid').all() as EndpointSql[]).map(
      toEndpoint,
    );
  }

  endpointsOfContainer(containerId: string): EndpointRow[] {
    const rows = this.db
      .prepare('SELECT id, network_id, container_id, record_json FROM endpoints WHERE container_id = ? ORDER BY rowid')
      .all(containerId) as EndpointSql[];
    return rows.map(toEndpoint);
  }

  endpointsOfNetwork(networkId: string): EndpointRow[] {
    const rows = this.db
      .prepare('SELECT id, network_id, container_id, record_json FROM endpoints WHERE network_id = ? ORDER BY rowid')
      .all(networkId) as EndpointSql[];
    return rows.map(toEndpoint);
  }

  deleteEndpoint(id: string): void {
    this.db.prepare('DELETE FROM endpoints WHERE id = ?').run(id);
  }

  // -------------------------------------------------------------- bridge ownership

  putBridge(row: BridgeRow): void {
    this.db
      .prepare('INSERT OR REPLACE INTO bridges (name, network_id, created, address) VALUES (?, ?, ?, ?)')
      .run(row.name, row.networkId, row.created ? 1 : 0, row.address);
  }

  bridge(name: string): BridgeRow | undefined {
    const r = this.db.prepare('SELECT name, network_id, created, address FROM bridges WHERE name = ?').get(name) as
      { name: string; network_id: string; created: number; address: string | null } | undefined;
    return r && { name: r.name, networkId: r.network_id, created: r.created === 1, address: r.address };
  }

  deleteBridge(name: string): void {
    this.db.prepare('DELETE FROM bridges WHERE name = ?').run(name);
  }
}
