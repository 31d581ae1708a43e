// ClusterKv over a real etcd v3 cluster (the `etcd3` client: gRPC, one channel per endpoint with
// fail-over, leases kept alive in the background, watches that reconnect from their last
// revision). Errors from etcd become ClusterStoreUnavailable, so the API answers 503.

import * as fs from 'node:fs';
import { Etcd3, GRPCUnavailableError, type IKeyValue, type IOptions, type Lease } from 'etcd3';
import { ClusterStoreUnavailable, errorMessage } from '../../lib/errors';
import type { ClusterKv, ClusterLease, KvCompare, KvEntry, KvEvent, KvOp, KvWatch, KvWatchHandlers, TxnResult } from './kv';

export interface EtcdConnectOptions {
  /** `host:port` endpoints (no scheme): https:// is used when a CA is given. */
  endpoints: string[];
  /** PEM file paths for TLS to etcd (`cluster-store-opts` etcd.cacert / etcd.cert / etcd.key). */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Deadline of each unary call, ms (default 5000). */
  callTimeoutMs?: number;
}

const CALL_TIMEOUT_MS = 5000;

function entryOf(kv: IKeyValue): KvEntry {
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    lease: kv.lease === '0' ? '' : String(kv.lease),
  };
}

function unavailable(err: unknown): ClusterStoreUnavailable {
  if (err instanceof ClusterStoreUnavailable) return err;
  return new ClusterStoreUnavailable(`cluster store unavailable: ${errorMessage(err)}`);
}

/**
 * How long a call is tried again while it cannot reach any member. The etcd3 client opens a
 * host's circuit breaker after 3 consecutive failures and lets one call through after 5 s; with
 * members restarted one after another, every host can be open at once although a quorum is back
 * ("Execution prevented because the circuit breaker is open"), and its own 3 attempts can all
 * land on a member that is down (gRPC UNAVAILABLE "No connection established"). Neither reached
 * a member, so trying again cannot apply a write twice.
 */
const RETRY_WAIT_MS = 6000;
const RETRY_STEP_MS = 250;

function neverSent(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if ((err as { isBrokenCircuitError?: unknown }).isBrokenCircuitError === true) return true;
  return /^14 UNAVAILABLE: No connection established/.test(errorMessage(err));
}

/**
 * Whether the call is tried again: one that never reached a member always; a read also on any
 * UNAVAILABLE, as etcd's own Go client retries its immutable calls. A member answers a read
 * "etcdserver: leader changed" (or "no leader") while an election, after a member is lost, is
 * under way; a read changes nothing, so trying it again is safe. A write that reached a member
 * may have been applied, so it is tried again only when the member says it never proposed it.
 */
export function retriable(err: unknown, read: boolean): boolean {
  return neverSent(err) || neverApplied(err) || (read && err instanceof GRPCUnavailableError);
}

/** A member refused the call before proposing it to raft: no leader to take it, so nothing was applied. */
function neverApplied(err: unknown): boolean {
  return /etcdserver: no leader|raft proposal dropped/.test(errorMessage(err));
}

async function guarded<T>(fn: () => Promise<T>, read = false): Promise<T> {
  const deadline = Date.now() + RETRY_WAIT_MS;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!retriable(err, read) || Date.now() >= deadline) throw unavailable(err);
    }
    await new Promise((r) => setTimeout(r, RETRY_STEP_MS));
  }
}

const TARGET = { create: 'Create', mod: 'Mod', value: 'Value' } as const;

class EtcdLease implements ClusterLease {
  private lostCbs: Array<(err: Error) => void> = [];
  private fired = false;
  constructor(
    private readonly lease: Lease,
    readonly id: string,
    readonly ttlSeconds: number,
  ) {
    lease.on('lost', (err: Error) => {
      if (this.fired) return;
      this.fired = true;
      for (const cb of this.lostCbs) cb(err);
    });
  }
  onLost(cb: (err: Error) => void): void {
    this.lostCbs.push(cb);
  }
  async revoke(): Promise<void> {
    this.fired = true;
    await guarded(() => this.lease.revoke());
  }
  release(): void {
    this.fired = true;
    this.lease.release();
  }
}

export class EtcdKv implements ClusterKv {
  private readonly client: Etcd3;

  constructor(opts: EtcdConnectOptions) {
    const tls = opts.caFile !== undefined;
    const timeout = opts.callTimeoutMs ?? CALL_TIMEOUT_MS;
    const options: IOptions = {
      hosts: opts.endpoints.map((e) => `${tls ? 'https' : 'http'}://${e}`),
      dialTimeout: timeout,
      // Unary calls get a deadline so an unreachable cluster fails instead of hanging a request;
      // streams (watches, keepalives) must not.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
    };
    if (tls) {
      options.credentials = {
        rootCertificate: fs.readFileSync(opts.caFile as string),
        ...(opts.certFile ? { certChain: fs.readFileSync(opts.certFile) } : {}),
        ...(opts.keyFile ? { privateKey: fs.readFileSync(opts.keyFile) } : {}),
      };
    }
    this.client = new Etcd3(options);
  }

  get(key: string): Promise<KvEntry | null> {
    return guarded(async () => {
      const res = await this.client.get(key).exec();
      return res.kvs.length > 0 ? entryOf(res.kvs[0]) : null;
    }, true);
  }

  list(prefix: string): Promise<{ entries: KvEntry[]; revision: number }> {
    return guarded(async () => {
      const res = await this.client.getAll().prefix(prefix).exec();
      return { entries: res.kvs.map(entryOf), revision: Number(res.header.revision) };
    }, true);
  }

  private ops(ops: KvOp[]): Array<ReturnType<Etcd3['put']> | ReturnType<Etcd3['delete']>> {
    return ops.map((op) => {
      if (op.op === 'put') {
        const put = this.client.put(op.key).value(op.value);
        return op.lease ? put.lease(op.lease) : put;
      }
      if (op.op === 'delete') return this.client.delete().key(op.key);
      return this.client.delete().prefix(op.prefix);
    });
  }

  txn(compares: KvCompare[], success: KvOp[], failure: KvOp[] = []): Promise<TxnResult> {
    return guarded(async () => {
      let builder = this.client.if(...first(compares));
      for (const c of compares.slice(1)) builder = builder.and(...compareArgs(c));
      const res = await builder
        .then(...this.ops(success))
        .else(...this.ops(failure))
        .commit();
      return { succeeded: res.succeeded, revision: Number(res.header.revision) };
    });
  }

  watch(prefix: string, fromRevision: number, handlers: KvWatchHandlers): Promise<KvWatch> {
    return guarded(async () => {
      const watcher = await this.client.watch().prefix(prefix).startRevision(String(fromRevision)).create();
      let ended = false;
      watcher.on('data', (res) => {
        const events: KvEvent[] = res.events.map((ev) => ({
          type: ev.type === 'Put' ? 'put' : 'delete',
          key: ev.kv.key.toString(),
          value: ev.type === 'Put' ? ev.kv.value.toString() : '',
          modRevision: Number(ev.kv.mod_revision),
          createRevision: Number(ev.kv.create_revision),
        }));
        if (events.length > 0 && !ended) handlers.onEvents(events);
      });
      watcher.on('error', (err: Error) => {
        if (ended) return;
        ended = true;
        handlers.onError(unavailable(err));
      });
      return {
        cancel: async () => {
          ended = true;
          await watcher.cancel().catch(() => undefined);
        },
      };
    });
  }

  grantLease(ttlSeconds: number): Promise<ClusterLease> {
    return guarded(async () => {
      const lease = this.client.lease(ttlSeconds);
      // Until granted, a 'lost' is the grant failing: keep it from being an unhandled 'error'.
      lease.on('lost', () => undefined);
      const id = await lease.grant();
      return new EtcdLease(lease, String(id), ttlSeconds);
    });
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

type CompareArgs = [string, 'Create' | 'Mod' | 'Value', '==' | '!=' | '<' | '>', string | number];

function compareArgs(c: KvCompare): CompareArgs {
  return [c.key, TARGET[c.target], c.op, c.target === 'value' ? c.value : c.revision];
}

function first(compares: KvCompare[]): CompareArgs {
  // etcd takes a transaction without compares; the client's builder needs one, so use one that
  // always holds: no key has a negative create revision.
  return compares.length > 0 ? compareArgs(compares[0]) : ['\u0000', 'Create', '>', -1];
}
