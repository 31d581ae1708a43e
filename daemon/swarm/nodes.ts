// Nodes as the API shows them: `P/nodes/<id>` (spec, description, address) joined with liveness
// (`P/alive/<id>`) and the election (`P/leader`) into dockerd's Node (Status.State ready/down,
// ManagerStatus Leader/Reachable/Unreachable); list, inspect, update (version CAS) and remove.

import type { ClusterKv, KvEntry } from '../../store/cluster/kv';
import { InvalidParameter } from '../../lib/errors';
import { clusterKeys, idOfKey, type ClusterKeys } from './keys';
import type { Membership } from './local-state';
import { errors, type ApiNode, type NodeRecord, type NodeSpec } from './shapes';

const SWARM_PORT = 2377;

export interface NodeViewsDeps {
  kv: ClusterKv;
  now(): string;
  membership(): Membership | null;
  /** Called after this node's own role changed (to campaign or resign). */
  onOwnRoleChange(): Promise<void>;
}

export interface NodeSnapshot {
  nodes: ApiNode[];
  /** Store entries by node ID (for the CAS of updates). */
  entries: Map<string, KvEntry>;
}

/**
 * A node as dockerd answers it: its record, Status.State `ready` while `P/alive/<id>` exists (else
 * `down`), ManagerStatus from the election. The orchestrator reads nodes through this too, so that
 * what it acts on is what `node ls` shows.
 */
export function nodeView(rec: NodeRecord, modRevision: number, alive: boolean, leader: string): ApiNode {
  const node: ApiNode = {
    ID: rec.ID,
    Version: { Index: modRevision },
    CreatedAt: rec.CreatedAt,
    UpdatedAt: rec.UpdatedAt,
    Spec: rec.Spec,
    Description: rec.Description,
    Status: { State: alive ? 'ready' : 'down', Addr: rec.Addr },
  };
  if (rec.Spec.Role === 'manager') {
    node.ManagerStatus = {
      ...(leader === rec.ID && alive ? { Leader: true } : {}),
      Reachability: alive ? 'reachable' : 'unreachable',
      Addr: `${rec.Addr}:${SWARM_PORT}`,
    };
  }
  return node;
}

export class NodeViews {
  /** This node's role as last read (for the ping's Swarm header, which must not wait on etcd). */
  lastOwnRole: 'worker' | 'manager' | undefined;

  constructor(private readonly deps: NodeViewsDeps) {}

  private keys(): { keys: ClusterKeys; m: Membership } {
    const m = this.deps.membership();
    if (!m) throw errors.notManager();
    return { keys: clusterKeys(m.clusterId), m };
  }

  /** Every node, read at one revision. */
  async snapshot(): Promise<NodeSnapshot> {
    const { keys } = this.keys();
    const { entries } = await this.deps.kv.list(keys.prefix);
    const alive = new Set(entries.filter((e) => e.key.startsWith(keys.alivePrefix)).map((e) => idOfKey(e.key)));
    const leader = entries.find((e) => e.key === keys.leader)?.value ?? '';
    const byId = new Map<string, KvEntry>();
    const nodes: ApiNode[] = [];
    for (const e of entries) {
      if (!e.key.startsWith(keys.nodesPrefix)) continue;
      const rec = JSON.parse(e.value) as NodeRecord;
      byId.set(rec.ID, e);
      nodes.push(nodeView(rec, e.modRevision, alive.has(rec.ID), leader));
    }
    return { nodes, entries: byId };
  }

  /** This node's role in the store (undefined once it was removed). */
  async ownRole(): Promise<'worker' | 'manager' | undefined> {
    const { keys, m } = this.keys();
    const e = await this.deps.kv.get(keys.node(m.nodeId));
    this.lastOwnRole = e ? (JSON.parse(e.value) as NodeRecord).Spec.Role : undefined;
    return this.lastOwnRole;
  }

  /** Throws dockerd's texts unless this node is a manager of a cluster. */
  async requireManager(): Promise<void> {
    if (!this.deps.membership()) throw errors.notManager();
    if ((await this.ownRole()) !== 'manager') throw errors.workerNotManager();
  }

  async counts(): Promise<{ nodes: number; managers: number }> {
    const { nodes } = await this.snapshot();
    return { nodes: nodes.length, managers: nodes.filter((n) => n.Spec?.Role === 'manager').length };
  }

  async managerCounts(): Promise<{ reachable: number; unreachable: number }> {
    const { nodes } = await this.snapshot();
    const managers = nodes.filter((n) => n.Spec?.Role === 'manager');
    const reachable = managers.filter((n) => n.Status?.State === 'ready').length;
    return { reachable, unreachable: managers.length - reachable };
  }

  async list(match: (n: ApiNode) => boolean): Promise<ApiNode[]> {
    await this.requireManager();
    const { nodes } = await this.snapshot();
    return nodes.filter(match);
  }

  /** dockerd's lookup: exact ID, then name (hostname), then ID prefix. */
  private resolve(snap: NodeSnapshot, ref: string): ApiNode {
    const exact = snap.nodes.find((n) => n.ID === ref);
    if (exact) return exact;
    for (const pick of [(n: ApiNode) => (n.Spec?.Name || n.Description?.Hostname) === ref, (n: ApiNode) => (n.ID ?? '').startsWith(ref)]) {
      const found = snap.nodes.filter(pick);
      if (found.length > 1) throw errors.nodeAmbiguous(ref, found.length);
      if (found.length === 1) return found[0];
    }
    throw errors.nodeNotFound(ref);
  }

  async inspect(ref: string): Promise<ApiNode> {
    await this.requireManager();
    return this.resolve(await this.snapshot(), ref);
  }

  async update(ref: string, version: number, spec: NodeSpec): Promise<void> {
    await this.requireManager();
    const { m } = this.keys();
    if (spec.Role !== undefined && spec.Role !== 'worker' && spec.Role !== 'manager')
      throw new InvalidParameter(`invalid Role: "${String(spec.Role)}"`);
    const avail = spec.Availability;
    if (avail !== undefined && avail !== 'active' && avail !== 'pause' && avail !== 'drain') {
      throw new InvalidParameter(`invalid Availability: "${String(avail)}"`);
    }
    const snap = await this.snapshot();
    const node = this.resolve(snap, ref);
    const entry = snap.entries.get(node.ID ?? '') as KvEntry;
    if (version !== entry.modRevision) throw errors.outOfSequence();
    const rec = JSON.parse(entry.value) as NodeRecord;
    const role = spec.Role ?? 'worker';
    if (rec.Spec.Role === 'manager' && role === 'worker') {
      const managers = snap.nodes.filter((n) => n.Spec?.Role === 'manager').length;
      if (managers <= 1) throw errors.precondition('attempting to demote the last manager of the swarm');
    }
    const next: NodeRecord = {
      ...rec,
      UpdatedAt: this.deps.now(),
      Spec: { ...(spec.Name ? { Name: spec.Name } : {}), Labels: spec.Labels ?? {}, Role: role, Availability: avail ?? 'active' },
    };
    const r = await this.deps.kv.txn(
      [{ key: entry.key, target: 'mod', op: '==', revision: version }],
      [{ op: 'put', key: entry.key, value: JSON.stringify(next) }],
    );
    if (!r.succeeded) throw errors.outOfSequence();
    if (rec.ID === m.nodeId && rec.Spec.Role !== role) await this.deps.onOwnRoleChange();
  }

  async remove(ref: string, force: boolean): Promise<void> {
    await this.requireManager();
    const snap = await this.snapshot();
    const node = this.resolve(snap, ref);
    const id = node.ID ?? '';
    if (node.Spec?.Role === 'manager') {
      throw errors.precondition(
        `node ${id} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal`,
      );
    }
    if (!force && node.Status?.State === 'ready') throw errors.precondition(`node ${id} is not down and can't be removed`);
    const entry = snap.entries.get(id) as KvEntry;
    const { keys } = this.keys();
    await this.deps.kv.txn(
      [{ key: entry.key, target: 'mod', op: '==', revision: entry.modRevision }],
      [
        { op: 'delete', key: entry.key },
        { op: 'delete', key: keys.alive(id) },
      ],
    );
  }
}
