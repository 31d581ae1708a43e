// Swarm mode's cluster half on etcd (docs/swarm.md): init, join, leave, inspect, update and join
// tokens of the swarm; this node's registration, liveness and election (membership.ts); the
// /info Swarm section. Nodes' routes are in nodes.ts. No HTTP here: routes call these methods.

import * as os from 'node:os';
import type { Logger } from 'pino';
import { InvalidParameter } from '../../lib/errors';
import type { ClusterKv } from '../../store/cluster/kv';
import { formatRfc3339Nano } from '../system/format';
import type { SwarmInfo } from '../system/types';
import { clusterKeys, tokenIndexKey, type ClusterKeys } from './keys';
import { LocalSwarmState, newObjectId, type Membership } from './local-state';
import { NodeMembership } from './membership';
import { LogResponder, type LocalTaskLogs } from './logs/responder';
import { relayLogs, type RelayLine, type RelayOptions } from './logs/relay';
import { logTargets } from './logs/targets';
import { SwarmNetworks } from './networks';
import { NodeViews } from './nodes';
import { OrchestratorLoop } from './orchestrator-loop';
import { ServicesApi } from './services';
import {
  defaultSwarmSpec,
  errors,
  mergeSpec,
  type ClusterRecord,
  type NodeDescription,
  type NodeRecord,
  type Swarm,
  type SwarmSpec,
} from './shapes';
import { configStore, secretStore, type ConfigStore, type SecretStore, type SwarmObjectsDeps } from './secrets';
import { clusterDigest, generateClusterKey, issueToken, parseJoinToken, revealToken, unlockClusterKey, type SwarmRole } from './seal';

export interface SwarmServiceDeps {
  kv: ClusterKv;
  dataRoot: string;
  /** TTL of the node's liveness lease, seconds. */
  nodeTtlSeconds: number;
  /** This node's description (hostname, platform, resources, engine). */
  describe(): NodeDescription;
  logger?: Logger;
  now?: () => Date;
  /** This node's task containers' logs, for the log relay's responder (none: requests go unanswered). */
  taskLogs?: LocalTaskLogs;
  /** The node's task agent: started with the membership, removed with a leave, stopped at close. */
  agent?: SwarmAgentControl;
}

export interface SwarmLogsOptions extends Omit<RelayOptions, 'signal'> {
  signal: AbortSignal;
}

export interface SwarmAgentControl {
  start(m: Membership): void;
  /** Leaving: task containers go. */
  leave(): Promise<void>;
  stop(): Promise<void>;
}

export interface InitRequest {
  ListenAddr?: string;
  AdvertiseAddr?: string;
  DataPathPort?: number;
  DefaultAddrPool?: string[] | null;
  SubnetSize?: number;
  ForceNewCluster?: boolean;
  AutoLockManagers?: boolean;
  Spec?: SwarmSpec;
}

export interface JoinRequest {
  ListenAddr?: string;
  AdvertiseAddr?: string;
  RemoteAddrs?: string[] | null;
  JoinToken?: string;
}

export interface UpdateFlags {
  rotateWorkerToken: boolean;
  rotateManagerToken: boolean;
  rotateManagerUnlockKey: boolean;
}

const SWARM_PORT = 2377;

/** The host part of an `addr[:port]` (brackets of an IPv6 literal dropped). */
function hostOf(addr: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(addr);
  if (m) return m[1];
  const colons = addr.split(':').length - 1;
  return colons === 1 ? addr.slice(0, addr.indexOf(':')) : addr;
}

/** dockerd's choice of advertise address: the flag, else the listen address, else the host's one address. */
export function chooseAdvertiseAddr(advertise: string | undefined, listen: string | undefined): string {
  const byName = (name: string): string | undefined =>
    os.networkInterfaces()[name]?.find((a) => a.family === 'IPv4')?.address ?? os.networkInterfaces()[name]?.[0]?.address;
  for (const candidate of [advertise, listen]) {
    if (!candidate) continue;
    const host = hostOf(candidate);
    if (host === '' || host === '0.0.0.0' || host === '::') continue;
    return byName(host) ?? host;
  }
  const external = Object.values(os.networkInterfaces())
    .flatMap((l) => l ?? [])
    .filter((a) => !a.internal && a.family === 'IPv4');
  if (external.length === 1) return external[0].address;
  if (external.length === 0) throw new InvalidParameter("could not find the system's IP address - specify one with --advertise-addr");
  throw new InvalidParameter(
    `could not choose an IP address to advertise since this system has multiple addresses (${external.map((a) => a.address).join(' and ')}) - specify one with --advertise-addr`,
  );
}

export class SwarmService {
  private readonly local: LocalSwarmState;
  private member: Membership | null;
  private membership: NodeMembership | undefined;
  private responder: LogResponder | undefined;
  readonly nodes: NodeViews;
  readonly services: ServicesApi;
  /** The orchestrator, while this node is the elected leader. */
  private orchestrator: OrchestratorLoop | undefined;
  readonly secrets: SecretStore;
  readonly configs: ConfigStore;

  constructor(private readonly deps: SwarmServiceDeps) {
    this.local = new LocalSwarmState(deps.dataRoot);
    this.member = this.local.read();
    this.nodes = new NodeViews({
      kv: deps.kv,
      now: () => this.now(),
      membership: () => this.member,
      onOwnRoleChange: () => this.membership?.syncRole() ?? Promise.resolve(),
    });
    this.services = new ServicesApi({
      kv: deps.kv,
      keys: () => this.keys(),
      requireManager: () => this.nodes.requireManager(),
      clusterKey: () => Buffer.from((this.member as Membership).clusterKey, 'base64'),
      nodes: async () => (await this.nodes.snapshot()).nodes,
      ...(deps.now ? { now: () => (deps.now as () => Date)().getTime() } : {}),
    });
    const objects: SwarmObjectsDeps = {
      kv: deps.kv,
      cluster: () => this.cluster(),
      requireManager: () => this.nodes.requireManager(),
      now: () => this.now(),
    };
    this.secrets = secretStore(objects);
    this.configs = configStore(objects);
  }

  /** The cluster's key names, this node's ID and the cluster key (throws unless in a cluster). */
  cluster(): { keys: ClusterKeys; clusterKey: Buffer; nodeId: string } {
    const m = this.member;
    if (!m) throw errors.notManager();
    return { keys: clusterKeys(m.clusterId), clusterKey: Buffer.from(m.clusterKey, 'base64'), nodeId: m.nodeId };
  }

  private now(): string {
    return formatRfc3339Nano(this.deps.now?.() ?? new Date());
  }

  /** Whether this node is in a cluster (its routes then answer from etcd). */
  get active(): boolean {
    return this.member !== null;
  }

  /** The ping's Swarm header. */
  pingStatus(): string {
    if (!this.member) return 'inactive';
    return `active/${this.nodes.lastOwnRole ?? 'worker'}`;
  }

  /** Resumes the membership kept in the data root (berthd restarted while in a cluster). */
  async start(): Promise<void> {
    if (!this.member) return;
    await this.startMembership(this.member, true);
  }

  private keys(): ClusterKeys {
    if (!this.member) throw errors.notManager();
    return clusterKeys(this.member.clusterId);
  }

  private async startMembership(m: Membership, background = false): Promise<void> {
    const keys = clusterKeys(m.clusterId);
    this.membership = new NodeMembership({
      kv: this.deps.kv,
      keys,
      nodeId: m.nodeId,
      ttlSeconds: this.deps.nodeTtlSeconds,
      logger: this.deps.logger,
      isManager: async () => (await this.nodes.ownRole()) === 'manager',
      onElected: (term) => this.lead(keys, term),
      onDeposed: () => this.stopLeading(),
    });
    if (background) this.membership.startInBackground();
    else await this.membership.start();
    this.startResponder(m);
    this.deps.agent?.start(m);
  }

  private startResponder(m: Membership): void {
    if (!this.deps.taskLogs) return;
    const responder = new LogResponder({
      kv: this.deps.kv,
      keys: clusterKeys(m.clusterId),
      nodeId: m.nodeId,
      logs: this.deps.taskLogs,
      logger: this.deps.logger,
    });
    this.responder = responder;
    const attempt = (): void => {
      if (this.responder !== responder) return;
      responder.start().catch((err: unknown) => {
        if (this.responder !== responder) return;
        this.deps.logger?.warn({ err }, 'log responder did not start; retrying');
        setTimeout(attempt, 1000).unref();
      });
    };
    attempt();
  }

  private async stopResponder(): Promise<void> {
    const r = this.responder;
    this.responder = undefined;
    await r?.stop();
  }

  /** GET /services/{id}/logs and GET /tasks/{id}/logs: the relayed lines and whether they are a TTY's. */
  async logs(kind: 'service' | 'task', ref: string, opts: SwarmLogsOptions): Promise<{ tty: boolean; lines: AsyncIterable<RelayLine> }> {
    await this.nodes.requireManager();
    const { keys } = this.cluster();
    const target = await logTargets(this.deps.kv, keys, kind, ref, opts.follow);
    return { tty: target.tty, lines: relayLogs({ kv: this.deps.kv, keys }, target, opts) };
  }

  /** This node's membership (cluster and node IDs, the cluster key), null outside a swarm. */
  get membershipInfo(): Membership | null {
    return this.member;
  }

  /** Refuses (dockerd's texts) unless this node is a manager of a swarm. */
  requireManager(): Promise<void> {
    return this.nodes.requireManager();
  }

  /** Swarm-scoped networks, while in a swarm. */
  swarmNetworks(): SwarmNetworks | null {
    return this.member ? new SwarmNetworks(this.deps.kv, clusterKeys(this.member.clusterId), () => this.now()) : null;
  }

  /** Elected: the orchestrator runs for this term. */
  private lead(keys: ClusterKeys, term: number): void {
    this.stopLeading();
    this.deps.logger?.info({ term }, 'swarm: elected leader; orchestrator starting');
    const loop = new OrchestratorLoop({
      kv: this.deps.kv,
      keys,
      term,
      logger: this.deps.logger,
      onDeposed: () => {
        if (this.orchestrator === loop) this.orchestrator = undefined;
        this.membership?.recampaign().catch((err: unknown) => this.deps.logger?.warn({ err: String(err) }, 'swarm: campaign'));
      },
    });
    this.orchestrator = loop;
    loop.start();
  }

  private stopLeading(): void {
    const loop = this.orchestrator;
    if (!loop) return;
    this.orchestrator = undefined;
    this.deps.logger?.info('swarm: no longer the leader; orchestrator stopped');
    void loop.stop();
  }

  private nodeRecord(id: string, role: 'worker' | 'manager', addr: string): NodeRecord {
    const now = this.now();
    return {
      ID: id,
      CreatedAt: now,
      UpdatedAt: now,
      Spec: { Labels: {}, Role: role, Availability: 'active' },
      Description: this.deps.describe(),
      Addr: addr,
    };
  }

  async init(req: InitRequest): Promise<string> {
    if (this.member) throw errors.alreadyInSwarm();
    if (req.AutoLockManagers || req.Spec?.EncryptionConfig?.AutoLockManagers) throw errors.noAutolock();
    const addr = chooseAdvertiseAddr(req.AdvertiseAddr, req.ListenAddr);
    const clusterId = newObjectId();
    const nodeId = newObjectId();
    const key = generateClusterKey();
    const keys = clusterKeys(clusterId);
    const now = this.now();
    const worker = issueToken(clusterId, 'worker', key);
    const manager = issueToken(clusterId, 'manager', key);
    const record: ClusterRecord = {
      ID: clusterId,
      CreatedAt: now,
      UpdatedAt: now,
      Spec: mergeSpec(defaultSwarmSpec(), req.Spec ?? {}),
      DefaultAddrPool: req.DefaultAddrPool && req.DefaultAddrPool.length > 0 ? req.DefaultAddrPool : ['10.0.0.0/8'],
      SubnetSize: req.SubnetSize || 24,
      DataPathPort: req.DataPathPort || 4789,
      tokens: { worker: worker.record, manager: manager.record },
    };
    const r = await this.deps.kv.txn(
      [{ key: keys.cluster, target: 'create', op: '==', revision: 0 }],
      [
        { op: 'put', key: keys.cluster, value: JSON.stringify(record) },
        { op: 'put', key: tokenIndexKey(clusterDigest(clusterId)), value: clusterId },
        { op: 'put', key: keys.node(nodeId), value: JSON.stringify(this.nodeRecord(nodeId, 'manager', addr)) },
      ],
    );
    if (!r.succeeded) throw errors.conflict('a cluster with this ID already exists');
    const m: Membership = { clusterId, nodeId, clusterKey: key.toString('base64'), advertiseAddr: addr, listenAddr: req.ListenAddr ?? '' };
    this.local.write(m);
    this.member = m;
    this.nodes.lastOwnRole = 'manager';
    await this.startMembership(m);
    return nodeId;
  }

  async join(req: JoinRequest): Promise<void> {
    if (this.member) throw errors.alreadyInSwarm();
    if (!req.RemoteAddrs || req.RemoteAddrs.length === 0) throw new InvalidParameter('at least 1 RemoteAddr is required to join');
    const token = req.JoinToken ?? '';
    const parsed = parseJoinToken(token);
    const index = await this.deps.kv.get(tokenIndexKey(parsed.digestHex));
    if (!index) throw errors.badToken();
    const clusterId = index.value;
    const keys = clusterKeys(clusterId);
    const entry = await this.deps.kv.get(keys.cluster);
    if (!entry) throw errors.badToken();
    const record = JSON.parse(entry.value) as ClusterRecord;
    let role: SwarmRole | undefined;
    let key: Buffer | null = null;
    for (const r of ['manager', 'worker'] as const) {
      key = unlockClusterKey(token, r, record.tokens[r]);
      if (key) {
        role = r;
        break;
      }
    }
    if (!role || !key) throw errors.badToken();
    const addr = chooseAdvertiseAddr(req.AdvertiseAddr, req.ListenAddr);
    const nodeId = newObjectId();
    // The token is checked again inside the transaction: a rotation since it was read wins.
    const r = await this.deps.kv.txn(
      [{ key: keys.cluster, target: 'mod', op: '==', revision: entry.modRevision }],
      [{ op: 'put', key: keys.node(nodeId), value: JSON.stringify(this.nodeRecord(nodeId, role, addr)) }],
    );
    if (!r.succeeded) throw errors.badToken();
    const m: Membership = { clusterId, nodeId, clusterKey: key.toString('base64'), advertiseAddr: addr, listenAddr: req.ListenAddr ?? '' };
    this.local.write(m);
    this.member = m;
    this.nodes.lastOwnRole = role;
    await this.startMembership(m);
  }

  async leave(force: boolean): Promise<void> {
    const m = this.member;
    if (!m) throw errors.notInSwarm();
    const keys = clusterKeys(m.clusterId);
    if (!force) {
      const role = await this.nodes.ownRole().catch(() => undefined);
      if (role === 'manager') {
        const { reachable, unreachable } = await this.nodes.managerCounts();
        let msg = 'You are attempting to leave the swarm on a node that is participating as a manager. ';
        if (reachable + unreachable <= 1) {
          msg += 'Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message. ';
          throw errors.leaveRefused(msg);
        }
        if (reachable - 1 <= (reachable + unreachable) / 2) {
          msg += `Removing this node leaves ${reachable - 1} managers out of ${reachable + unreachable}. Without a Raft quorum your swarm will be inaccessible. `;
        }
        msg +=
          'The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message.';
        throw errors.leaveRefused(msg);
      }
    }
    await this.membership?.stop();
    this.membership = undefined;
    await this.stopResponder();
    await this.deps.agent?.leave();
    // A worker's node object stays (shown down, removed with `node rm`), as dockerd; the last
    // manager leaving with --force takes the whole cluster with it.
    try {
      const { managers } = await this.nodes.counts();
      if (force && managers <= 1 && (await this.nodes.ownRole().catch(() => undefined)) === 'manager') {
        await this.deps.kv.txn(
          [],
          [
            { op: 'deletePrefix', prefix: keys.prefix },
            { op: 'delete', key: tokenIndexKey(clusterDigest(m.clusterId)) },
          ],
        );
      } else if ((await this.nodes.ownRole().catch(() => undefined)) === 'manager') {
        await this.deps.kv.txn([], [{ op: 'delete', key: keys.node(m.nodeId) }]);
      }
    } catch (err) {
      if (!force) throw err;
    }
    this.local.clear();
    this.member = null;
  }

  private async readCluster(): Promise<{ record: ClusterRecord; modRevision: number }> {
    const entry = await this.deps.kv.get(this.keys().cluster);
    if (!entry) throw errors.notManager();
    return { record: JSON.parse(entry.value) as ClusterRecord, modRevision: entry.modRevision };
  }

  private clusterInfo(record: ClusterRecord, version: number): Swarm {
    return {
      ID: record.ID,
      Version: { Index: version },
      CreatedAt: record.CreatedAt,
      UpdatedAt: record.UpdatedAt,
      Spec: record.Spec,
      TLSInfo: { TrustRoot: '', CertIssuerSubject: '', CertIssuerPublicKey: '' },
      RootRotationInProgress: false,
      DefaultAddrPool: record.DefaultAddrPool,
      SubnetSize: record.SubnetSize,
      DataPathPort: record.DataPathPort,
    };
  }

  /** GET /swarm (managers only). */
  async inspect(): Promise<Swarm> {
    await this.nodes.requireManager();
    const { record, modRevision } = await this.readCluster();
    const key = Buffer.from((this.member as Membership).clusterKey, 'base64');
    return {
      ...this.clusterInfo(record, modRevision),
      JoinTokens: {
        Worker: revealToken(record.ID, 'worker', key, record.tokens.worker),
        Manager: revealToken(record.ID, 'manager', key, record.tokens.manager),
      },
    };
  }

  /** POST /swarm/update: CAS on the version; rotates tokens as asked. */
  async update(version: number, spec: SwarmSpec, flags: UpdateFlags): Promise<void> {
    await this.nodes.requireManager();
    if (flags.rotateManagerUnlockKey || spec.EncryptionConfig?.AutoLockManagers) throw errors.noAutolock();
    const { record, modRevision } = await this.readCluster();
    if (version !== modRevision) throw errors.outOfSequence();
    const key = Buffer.from((this.member as Membership).clusterKey, 'base64');
    const next: ClusterRecord = { ...record, Spec: spec, UpdatedAt: this.now(), tokens: { ...record.tokens } };
    if (flags.rotateWorkerToken) next.tokens.worker = issueToken(record.ID, 'worker', key).record;
    if (flags.rotateManagerToken) next.tokens.manager = issueToken(record.ID, 'manager', key).record;
    const keys = this.keys();
    const r = await this.deps.kv.txn(
      [{ key: keys.cluster, target: 'mod', op: '==', revision: version }],
      [{ op: 'put', key: keys.cluster, value: JSON.stringify(next) }],
    );
    if (!r.succeeded) throw errors.outOfSequence();
  }

  /** GET /swarm/unlockkey and POST /swarm/unlock: no autolock in Berth. */
  unlock(): never {
    if (!this.member) throw errors.notManager();
    throw errors.noAutolock();
  }

  /** The /info Swarm section. */
  async info(): Promise<SwarmInfo> {
    const m = this.member;
    if (!m) return { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null };
    const base: SwarmInfo = {
      NodeID: m.nodeId,
      NodeAddr: m.advertiseAddr,
      LocalNodeState: 'active',
      ControlAvailable: false,
      Error: '',
      RemoteManagers: [],
    };
    try {
      const view = await this.nodes.snapshot();
      const own = view.nodes.find((n) => n.ID === m.nodeId);
      if (!own) return { ...base, LocalNodeState: 'error', Error: 'this node was removed from the swarm' };
      base.RemoteManagers = view.nodes
        .filter((n) => n.Spec?.Role === 'manager')
        .map((n) => ({ NodeID: n.ID ?? '', Addr: `${n.Status?.Addr ?? ''}:${SWARM_PORT}` }));
      if (own.Spec?.Role !== 'manager') return base;
      const { record, modRevision } = await this.readCluster();
      return {
        ...base,
        ControlAvailable: true,
        Nodes: view.nodes.length,
        Managers: view.nodes.filter((n) => n.Spec?.Role === 'manager').length,
        Cluster: this.clusterInfo(record, modRevision),
      };
    } catch (err) {
      return { ...base, LocalNodeState: 'error', Error: err instanceof Error ? err.message : String(err) };
    }
  }

  async close(): Promise<void> {
    await this.deps.agent?.stop();
    await this.stopResponder();
    this.membership?.release();
    this.stopLeading();
    await this.deps.kv.close();
  }
}
