// Leases protect what an operation writes (content, snapshots) from containerd's GC until the
// operation has anchored it elsewhere (an image record, a container). The expiry label makes a
// lease left behind by a crashed berthd collectable later.

import { randomBytes } from 'node:crypto';
import { formatRFC3339 } from '../lib/time';
import type { Containerd } from './containerd';

/** containerd's own client default: long enough for any pull, bounded if we crash. */
const DEFAULT_LEASE_TTL_MS = 24 * 60 * 60 * 1000;

export interface LeaseOptions {
  ttlMs?: number;
  /** Run GC synchronously when the lease is deleted (slower; makes released data vanish at once). */
  syncDelete?: boolean;
  /**
   * Names a lease that startup does NOT release (`berth-<kind>-…`): what it holds survives a crash
   * until the lease expires, so a retried operation can reuse it (a pull's complete layers).
   */
  kind?: string;
}

/** The IDs withLease gives its leases; nothing else in the namespace is named like this. */
const TRANSIENT_LEASE_ID = /^berth-[0-9a-z]+-[0-9a-f]{12}$/;

export async function withLease<T>(ctd: Containerd, fn: (lease: string) => Promise<T>, opts: LeaseOptions = {}): Promise<T> {
  const id = `berth-${opts.kind !== undefined ? `${opts.kind}-` : ''}${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
  // RFC 3339 without fractional seconds, the form containerd's label parser is documented for
  const expire = formatRFC3339(new Date(Date.now() + (opts.ttlMs ?? DEFAULT_LEASE_TTL_MS)));
  await ctd.leases.create({ id, labels: { 'containerd.io/gc.expire': expire } });
  try {
    return await fn(id);
  } finally {
    try {
      await ctd.leases.delete({ id, sync: opts.syncDelete ?? false });
    } catch (err) {
      // The work is done or already failed; a stale lease only delays GC until it expires.
      ctd.logger.warn({ err, lease: id }, 'could not delete containerd lease');
    }
  }
}

/** What startup did with the leases a killed berthd left. */
export interface LeftoverLeases {
  /** Leases of cut operations, deleted (their content, snapshots and ingests become collectable). */
  released: string[];
  /** Half-applied layer extractions dropped from the pull leases that are kept. */
  extracts: string[];
}

/** The lease kind whose leases startup keeps (a retried pull resumes from what they hold). */
const KEPT_LEASE_ID = /^berth-pull-[0-9a-z]+-[0-9a-f]{12}$/;

/** unpack.ts's extraction snapshots (`extract-<hex> <chainID>`): never reused once cut. */
const EXTRACT_KEY = /^extract-[0-9a-f]+ /;

/**
 * Deletes the leases of operations a killed berthd never finished. Only for startup, before any
 * operation runs: every withLease lease then belongs to a dead process, and until it expired it
 * would keep that operation's partial content, ingests and snapshots from GC. Pull leases are kept
 * (their complete layers and partial downloads serve a retried pull until they expire), but the
 * extraction snapshots they hold are dropped: a cut extraction is never resumed.
 */
export async function releaseLeftoverLeases(ctd: Containerd): Promise<LeftoverLeases> {
  const { leases } = await ctd.leases.list({ filters: [] });
  const ids = (leases ?? []).map((l) => l.id ?? '');
  const out: LeftoverLeases = { released: [], extracts: [] };
  for (const id of ids) {
    if (KEPT_LEASE_ID.test(id)) {
      const { resources } = await ctd.leases.listResources({ id });
      for (const r of resources ?? []) {
        const key = r.id ?? '';
        if (!(r.type ?? '').startsWith('snapshots/') || !EXTRACT_KEY.test(key)) continue;
        await ctd.leases.deleteResource({ id, resource: { id: key, type: r.type } });
        out.extracts.push(key);
      }
    } else if (TRANSIENT_LEASE_ID.test(id)) {
      await ctd.leases.delete({ id, sync: false });
      out.released.push(id);
    }
  }
  // containerd schedules its GC after a lease's deletion but not after a resource's: an extraction
  // dropped after that GC ran would stay until something else brings one. One more GC, waited
  // for, once everything is dropped (a synchronous delete of an empty lease asks for it).
  if (out.released.length > 0 || out.extracts.length > 0) await withLease(ctd, () => Promise.resolve(), { syncDelete: true });
  return out;
}
