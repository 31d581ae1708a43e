// An in-memory ClusterKv with etcd's semantics (one global revision, create/mod revisions,
// transactions, prefix watches replayed from a revision, leases whose keys go with them), for
// unit tests of the layers above. Leases never expire by themselves: a test calls expireLease(),
// so no test depends on the wall clock. `down` makes every call fail as an unreachable etcd.

import { ClusterStoreUnavailable } from '../../lib/errors';
import type { ClusterKv, ClusterLease, KvCompare, KvEntry, KvEvent, KvOp, KvWatch, KvWatchHandlers, TxnResult } from './kv';

/** etcd's default `--max-txn-ops`: compares, success ops and failure ops are each bounded by it. */
export const MAX_TXN_OPS = 128;

interface Watcher {
  prefix: string;
  handlers: KvWatchHandlers;
}

class MemoryLease implements ClusterLease {
  private lost: Array<(err: Error) => void> = [];
  constructor(
    private readonly kv: MemoryKv,
    readonly id: string,
    readonly ttlSeconds: number,
  ) {}
  onLost(cb: (err: Error) => void): void {
    this.lost.push(cb);
  }
  fireLost(err: Error): void {
    const cbs = this.lost;
    this.lost = [];
    for (const cb of cbs) cb(err);
  }
  async revoke(): Promise<void> {
    this.kv.check();
    this.kv.endLease(this.id, false);
  }
  release(): void {
    this.kv.releaseLease(this.id);
  }
}

export class MemoryKv implements ClusterKv {
  private readonly data = new Map<string, KvEntry>();
  private readonly history: KvEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly leases = new Map<string, MemoryLease>();
  private revision = 1;
  private nextLease = 0x1000;
  /** While true every call throws ClusterStoreUnavailable. */
  down = false;

  check(): void {
    if (this.down) throw new ClusterStoreUnavailable('cluster store unavailable: etcd is unreachable');
  }

  async get(key: string): Promise<KvEntry | null> {
    this.check();
    const e = this.data.get(key);
    return e ? { ...e } : null;
  }

  async list(prefix: string): Promise<{ entries: KvEntry[]; revision: number }> {
    this.check();
    const entries = [...this.data.values()].filter((e) => e.key.startsWith(prefix)).map((e) => ({ ...e }));
    entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { entries, revision: this.revision };
  }

  private holds(c: KvCompare): boolean {
    const e = this.data.get(c.key);
    if (c.target === 'value') {
      const v = e?.value;
      return c.op === '==' ? v === c.value : v !== c.value;
    }
    const actual = e ? (c.target === 'create' ? e.createRevision : e.modRevision) : 0;
    switch (c.op) {
      case '==':
        return actual === c.revision;
      case '!=':
        return actual !== c.revision;
      case '<':
        return actual < c.revision;
      case '>':
        return actual > c.revision;
    }
  }

  async txn(compares: KvCompare[], success: KvOp[], failure: KvOp[] = []): Promise<TxnResult> {
    this.check();
    // etcd's --max-txn-ops (128 by default) bounds each list of a transaction.
    if ([compares, success, failure].some((l) => l.length > MAX_TXN_OPS)) {
      throw new ClusterStoreUnavailable('cluster store: etcdserver: too many operations in txn request');
    }
    const succeeded = compares.every((c) => this.holds(c));
    this.apply(succeeded ? success : failure);
    return { succeeded, revision: this.revision };
  }

  private apply(ops: KvOp[]): void {
    for (const op of ops) {
      if (op.op === 'put' && op.lease && op.lease !== '0' && !this.leases.has(op.lease)) {
        throw new ClusterStoreUnavailable(`cluster store: lease ${op.lease} not found`);
      }
    }
    const events: KvEvent[] = [];
    const rev = this.revision + 1;
    for (const op of ops) {
      if (op.op === 'put') {
        const prev = this.data.get(op.key);
        const e: KvEntry = {
          key: op.key,
          value: op.value,
          createRevision: prev?.createRevision ?? rev,
          modRevision: rev,
          lease: op.lease ?? '',
        };
        this.data.set(op.key, e);
        events.push({ type: 'put', key: e.key, value: e.value, modRevision: rev, createRevision: e.createRevision });
      } else {
        const keys = op.op === 'delete' ? [op.key] : [...this.data.keys()].filter((k) => k.startsWith(op.prefix));
        for (const k of keys) {
          const prev = this.data.get(k);
          if (!prev) continue;
          this.data.delete(k);
          events.push({ type: 'delete', key: k, value: '', modRevision: rev, createRevision: prev.createRevision });
        }
      }
    }
    if (events.length === 0) return;
    this.revision = rev;
    this.history.push(...events);
    for (const w of this.watchers) {
      const mine = events.filter((ev) => ev.key.startsWith(w.prefix));
      if (mine.length > 0) queueMicrotask(() => this.watchers.has(w) && w.handlers.onEvents(mine));
    }
  }

  async watch(prefix: string, fromRevision: number, handlers: KvWatchHandlers): Promise<KvWatch> {
    this.check();
    const w: Watcher = { prefix, handlers };
    const replay = this.history.filter((ev) => ev.modRevision >= fromRevision && ev.key.startsWith(prefix));
    this.watchers.add(w);
    if (replay.length > 0) queueMicrotask(() => this.watchers.has(w) && handlers.onEvents(replay));
    return {
      cancel: async () => {
        this.watchers.delete(w);
      },
    };
  }

  async grantLease(ttlSeconds: number): Promise<ClusterLease> {
    this.check();
    const lease = new MemoryLease(this, String(this.nextLease++), ttlSeconds);
    this.leases.set(lease.id, lease);
    return lease;
  }

  /** Test hook: the lease's TTL ran out; its keys are deleted and its holder told. */
  expireLease(id: string): void {
    this.endLease(id, true);
  }

  /** Test hook: every watch ends with this error (a partition, a compaction), as etcd's would. */
  breakWatches(err: Error): void {
    const ws = [...this.watchers];
    this.watchers.clear();
    for (const w of ws) w.handlers.onError(err);
  }

  /** Leases alive now (tests). */
  leaseIds(): string[] {
    return [...this.leases.keys()];
  }

  endLease(id: string, notify: boolean): void {
    const lease = this.leases.get(id);
    if (!lease) return;
    this.leases.delete(id);
    const keys = [...this.data.values()].filter((e) => e.lease === id).map((e) => e.key);
    this.apply(keys.map((key) => ({ op: 'delete', key })));
    if (notify) lease.fireLost(new Error(`lease ${id} expired`));
  }

  /** A released lease is no longer kept alive; it stays until expireLease (its TTL, in tests). */
  releaseLease(_id: string): void {}

  async close(): Promise<void> {
    this.watchers.clear();
  }
}
