// A node's live presence in the cluster: an etcd lease (TTL configurable, default 15 s) kept alive
// in the background, `P/alive/<nodeID>` attached to it, and for a manager a campaign on
// `P/leader` attached to the same lease. A lost lease (etcd unreachable past the TTL) is granted
// again and both are put back, retrying until the node leaves.

import type { Logger } from 'pino';
import { errorMessage } from '../../lib/errors';
import { campaign, type Campaign } from '../../store/cluster/election';
import type { ClusterKv, ClusterLease, KvWatch } from '../../store/cluster/kv';
import type { ClusterKeys } from './keys';

export interface MembershipOptions {
  kv: ClusterKv;
  keys: ClusterKeys;
  nodeId: string;
  ttlSeconds: number;
  logger?: Logger;
  /** Whether this node campaigns for leadership now (its role is manager). */
  isManager(): Promise<boolean>;
  /** This node was elected; `term` is the leader key's create revision. */
  onElected?(term: number): void;
  /** This node's term ended (resigned, demoted, lease lost, left). */
  onDeposed?(): void;
}

export class NodeMembership {
  private lease: ClusterLease | undefined;
  private campaign: Campaign | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  /** Watch of this node's own key: a promote or demote made on another manager reaches it here. */
  private ownWatch: KvWatch | undefined;

  constructor(private readonly o: MembershipOptions) {}

  /** Starts (resolves once the first lease is held, or rejects with the store's error). */
  async start(): Promise<void> {
    await this.establish();
  }

  /** Starts, and if the store cannot be reached now, keeps trying in the background. */
  startInBackground(): void {
    this.establish().catch((err: unknown) => {
      this.o.logger?.warn({ err: errorMessage(err) }, 'swarm: cannot reach the cluster store; retrying');
      this.scheduleRetry();
    });
  }

  private async establish(): Promise<void> {
    const { kv, keys, nodeId, ttlSeconds } = this.o;
    const lease = await kv.grantLease(ttlSeconds);
    if (this.stopped) {
      await lease.revoke().catch(() => undefined);
      return;
    }
    this.lease = lease;
    lease.onLost((err) => {
      this.o.logger?.warn({ err: errorMessage(err) }, 'swarm: node lease lost; re-registering');
      this.dropCampaign();
      this.lease = undefined;
      this.scheduleRetry();
    });
    const r = await kv.txn([], [{ op: 'put', key: keys.alive(nodeId), value: nodeId, lease: lease.id }]);
    await this.ownWatch?.cancel();
    this.ownWatch = await kv.watch(keys.node(nodeId), r.revision + 1, {
      onEvents: () => {
        this.syncRole().catch((err: unknown) => this.o.logger?.warn({ err: errorMessage(err) }, 'swarm: role change'));
      },
      onError: (err) => {
        this.o.logger?.warn({ err: errorMessage(err) }, 'swarm: watch of own node ended; re-registering');
        this.lease?.release();
        this.lease = undefined;
        this.dropCampaign();
        this.scheduleRetry();
      },
    });
    await this.syncRole();
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => {
      this.establish().catch((err: unknown) => {
        this.o.logger?.warn({ err: errorMessage(err) }, 'swarm: cannot re-register with the cluster store; retrying');
        this.scheduleRetry();
      });
    }, 1000);
    this.retry.unref();
  }

  /** Campaigns when the node is a manager, resigns when it is not (after a promote or demote). */
  async syncRole(): Promise<void> {
    const lease = this.lease;
    if (!lease || this.stopped) return;
    const manager = await this.o.isManager();
    if (manager && !this.campaign) {
      const c = campaign(this.o.kv, this.o.keys.leader, this.o.nodeId, lease, {
        onError: (err) => this.o.logger?.debug({ err: errorMessage(err) }, 'swarm: election retry'),
      });
      this.campaign = c;
      void c.elected.then((term) => {
        if (this.campaign === c && !this.stopped) this.o.onElected?.(term);
      });
    } else if (!manager && this.campaign) {
      const c = this.campaign;
      this.campaign = undefined;
      this.o.onDeposed?.();
      await c.resign();
    }
  }

  /** Leaves the current campaign (its term, if elected, ends) without waiting. */
  private dropCampaign(): void {
    const c = this.campaign;
    if (!c) return;
    this.campaign = undefined;
    this.o.onDeposed?.();
    void c.resign().catch(() => undefined);
  }

  /** The orchestrator found its term gone (the leader key is another's): campaign afresh. */
  async recampaign(): Promise<void> {
    this.dropCampaign();
    await this.syncRole();
  }

  /** Leaves: resigns, revokes the lease (its keys go with it). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.ownWatch?.cancel();
    const c = this.campaign;
    this.campaign = undefined;
    if (c) this.o.onDeposed?.();
    await c?.resign().catch(() => undefined);
    await this.lease?.revoke().catch(() => undefined);
    this.lease = undefined;
  }

  /** Stops keeping the lease alive without revoking (berthd shutting down: others see it go down after the TTL). */
  release(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    void this.ownWatch?.cancel();
    if (this.campaign) this.o.onDeposed?.();
    this.campaign = undefined;
    this.lease?.release();
  }
}
