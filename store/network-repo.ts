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

/** Rows of one key (a container, a network) by endpoint ID, in insertion (rowid) order. */
type EndpointIndex = Map<string, Map<string, EndpointRow>>;

function indexAdd(index: EndpointIndex, key: string, row: EndpointRow): void {
  let rows = index.get(key);
  if (!rows) index.set(key, (rows = new Map<string, EndpointRow>()));
  rows.set(row.id, row);
}

function indexDelete(index: EndpointIndex, key: string, id: string): void {
  const rows = index.get(key);
  if (rows?.delete(id) && rows.size === 0) index.delete(key);
}

/**
 * The network tables, with a write-through mirror in memory: every inspect, listing, start and
 * DNS answer reads them, and each SQLite read cost a shared-lock round trip (a third of a
 * container inspect). Nothing else writes these tables, every write goes through here, and the
 * mirror changes only after SQLite took the write, so it never shows what the database refused.
 * Rows handed out are frozen: the mirror's own objects.
 */
export class NetworkRepo {
  /** By ID, in seq order (an update keeps its place, as seq does). */
  private readonly networks = new Map<string, NetworkRow>();
  private readonly networkIdByName = new Map<string, string>();
  private readonly sandboxRows = new Map<string, SandboxRow>();
  /** By ID, in rowid order: INSERT OR REPLACE gives a replaced row a new rowid, at the end. */
  private readonly endpointRows = new Map<string, EndpointRow>();
  private readonly byContainer: EndpointIndex = new Map();
  private readonly byNetwork: EndpointIndex = new Map();
  private readonly bridgeRows = new Map<string, BridgeRow>();

  constructor(private readonly db: Db) {
    for (const r of db.prepare('SELECT id, name, created, record_json FROM networks ORDER BY seq').all() as NetworkSql[]) {
      this.mirrorNetwork(toNetwork(r));
    }
    for (const r of db.prepare('SELECT container_id, netns FROM sandboxes').all() as { container_id: string; netns: string }[]) {
      this.sandboxRows.set(r.container_id, Object.freeze({ containerId: r.container_id, netns: r.netns }));
    }
    for (const r of db.prepare('SELECT id, network_id, container_id, record_json FROM endpoints ORDER BY rowid').all() as EndpointSql[]) {
      this.mirrorEndpoint(toEndpoint(r));
    }
    const bridges = db.prepare('SELECT name, network_id, created, address FROM bridges').all() as {
      name: string;
      network_id: string;
      created: number;
      address: string | null;
    }[];
    for (const r of bridges) {
      this.bridgeRows.set(r.name, Object.freeze({ name: r.name, networkId: r.network_id, created: r.created === 1, address: r.address }));
    }
  }

  private mirrorNetwork(row: NetworkRow): void {
    const old = this.networks.get(row.id);
    if (old) this.networkIdByName.delete(old.name);
    this.networks.set(row.id, Object.freeze({ ...row }));
    this.networkIdByName.set(row.name, row.id);
  }

  /** As the table's INSERT OR REPLACE: a row with the same ID or the same (network, container) goes. */
  private mirrorEndpoint(row: EndpointRow): void {
    const same = this.byContainer.get(row.containerId);
    for (const old of same ? [...same.values()] : []) if (old.networkId === row.networkId) this.unmirrorEndpoint(old.id);
    this.unmirrorEndpoint(row.id);
    const frozen = Object.freeze({ ...row });
    this.endpointRows.set(row.id, frozen);
    indexAdd(this.byContainer, row.containerId, frozen);
    indexAdd(this.byNetwork, row.networkId, frozen);
  }

  private unmirrorEndpoint(id: string): void {
    const old = this.endpointRows.get(id);
    if (!old) return;
    this.endpointRows.delete(id);
    indexDelete(this.byContainer, old.containerId, id);
    indexDelete(this.byNetwork, old.networkId, id);
  }

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
    this.mirrorNetwork(row);
  }

  update(id: string, recordJson: string): void {
    this.db.prepare('UPDATE networks SET record_json = ? WHERE id = ?').run(recordJson, id);
    const old = this.networks.get(id);
    if (old) this.mirrorNetwork({ ...old, recordJson });
  }

  get(id: string): NetworkRow | undefined {
    return this.networks.get(id);
  }

  byName(name: string): NetworkRow | undefined {
    const id = this.networkIdByName.get(name);
    return id === undefined ? undefined : this.networks.get(id);
  }

  idsWithPrefix(prefix: string): string[] {
    return [...this.networks.keys()].filter((id) => id.startsWith(prefix));
  }

  list(): NetworkRow[] {
    return [...this.networks.values()];
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM networks WHERE id = ?').run(id);
    const old = this.networks.get(id);
    if (!old) return;
    this.networks.delete(id);
    this.networkIdByName.delete(old.name);
  }

  // -------------------------------------------------------------- sandboxes

  putSandbox(row: SandboxRow): void {
    this.db.prepare('INSERT OR REPLACE INTO sandboxes (container_id, netns) VALUES (?, ?)').run(row.containerId, row.netns);
    this.sandboxRows.set(row.containerId, Object.freeze({ ...row }));
  }

  sandbox(containerId: string): SandboxRow | undefined {
    return this.sandboxRows.get(containerId);
  }

  sandboxes(): SandboxRow[] {
    return [...this.sandboxRows.values()];
  }

  deleteSandbox(containerId: string): void {
    this.db.prepare('DELETE FROM sandboxes WHERE container_id = ?').run(containerId);
    this.sandboxRows.delete(containerId);
  }

  // -------------------------------------------------------------- endpoints

  putEndpoint(row: EndpointRow): void {
    this.db
      .prepare('INSERT OR REPLACE INTO endpoints (id, network_id, container_id, record_json) VALUES (?, ?, ?, ?)')
      .run(row.id, row.networkId, row.containerId, row.recordJson);
    this.mirrorEndpoint(row);
  }

  endpoints(): EndpointRow[] {
    return [...this.endpointRows.values()];
  }

  endpointsOfContainer(containerId: string): EndpointRow[] {
    const rows = this.byContainer.get(containerId);
    return rows ? [...rows.values()] : [];
  }

  endpointsOfNetwork(networkId: string): EndpointRow[] {
    const rows = this.byNetwork.get(networkId);
    return rows ? [...rows.values()] : [];
  }

  deleteEndpoint(id: string): void {
    this.db.prepare('DELETE FROM endpoints WHERE id = ?').run(id);
    this.unmirrorEndpoint(id);
  }

  // -------------------------------------------------------------- bridge ownership

  putBridge(row: BridgeRow): void {
    this.db
      .prepare('INSERT OR REPLACE INTO bridges (name, network_id, created, address) VALUES (?, ?, ?, ?)')
      .run(row.name, row.networkId, row.created ? 1 : 0, row.address);
    this.bridgeRows.set(row.name, Object.freeze({ ...row }));
  }

  bridge(name: string): BridgeRow | undefined {
    return this.bridgeRows.get(name);
  }

  deleteBridge(name: string): void {
    this.db.prepare('DELETE FROM bridges WHERE name = ?').run(name);
    this.bridgeRows.delete(name);
  }
}
