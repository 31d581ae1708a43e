// The cluster key-value store as the daemon sees it: a small, Docker-agnostic view of etcd v3
// (keys and values are strings, revisions are etcd's). Implemented over etcd by etcd-kv.ts and in
// memory by memory-kv.ts (for unit tests of the layers above). Every method throws
// ClusterStoreUnavailable (lib/errors.ts) when the store cannot be reached.

/** One stored key, with etcd's revisions: `createRevision` 0 never appears (absent keys are null). */
export interface KvEntry {
  key: string;
  value: string;
  /** Revision of the transaction that created the key (reset by a delete and re-create). */
  createRevision: number;
  /** Revision of the last write of the key: the `Version.Index` of the Docker object stored there. */
  modRevision: number;
  /** Lease the key is attached to, '' for none. */
  lease: string;
}

/** A compare of a transaction. Revisions of an absent key are 0, so `create == 0` means "absent". */
export type KvCompare =
  | { key: string; target: 'create' | 'mod'; op: '==' | '!=' | '<' | '>'; revision: number }
  | { key: string; target: 'value'; op: '==' | '!='; value: string };

export type KvOp =
  | { op: 'put'; key: string; value: string; /** lease ID to attach the key to */ lease?: string }
  | { op: 'delete'; key: string }
  | { op: 'deletePrefix'; prefix: string };

export interface TxnResult {
  /** Whether every compare held (and the success ops were applied). */
  succeeded: boolean;
  /** Store revision after the transaction. */
  revision: number;
}

export interface KvEvent {
  type: 'put' | 'delete';
  key: string;
  /** '' for a delete. */
  value: string;
  modRevision: number;
  createRevision: number;
}

export interface KvWatchHandlers {
  /** Events of one revision batch, in revision order. */
  onEvents(events: KvEvent[]): void;
  /**
   * The watch ended for good: its start revision was compacted away, or it failed. The caller lists
   * again and re-watches from the listed revision + 1.
   */
  onError(err: Error): void;
}

export interface KvWatch {
  cancel(): Promise<void>;
}

export interface ClusterLease {
  /** etcd's lease ID, as a decimal string. */
  readonly id: string;
  readonly ttlSeconds: number;
  /** Called once if the lease is lost (expired, revoked elsewhere, keepalive failing past its TTL). */
  onLost(cb: (err: Error) => void): void;
  /** Stops keeping the lease alive and revokes it (its keys go). */
  revoke(): Promise<void>;
  /** Stops keeping it alive without revoking (it expires after its TTL): what a crash does. */
  release(): void;
}

export interface ClusterKv {
  get(key: string): Promise<KvEntry | null>;
  /** Every key under `prefix`, sorted by key, and the store revision the listing was read at. */
  list(prefix: string): Promise<{ entries: KvEntry[]; revision: number }>;
  /** One atomic transaction: if every compare holds, `success` is applied, else `failure`. */
  txn(compares: KvCompare[], success: KvOp[], failure?: KvOp[]): Promise<TxnResult>;
  /** Watches every key under `prefix` from `fromRevision` (inclusive), resuming across reconnects. */
  watch(prefix: string, fromRevision: number, handlers: KvWatchHandlers): Promise<KvWatch>;
  /** A lease with this TTL, kept alive until revoked or released. */
  grantLease(ttlSeconds: number): Promise<ClusterLease>;
  close(): Promise<void>;
}

/** The smallest key greater than every key starting with `prefix` (etcd's range end for a prefix). */
export function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}
