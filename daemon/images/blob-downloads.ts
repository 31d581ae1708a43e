// Layer blobs streamed from a registry into containerd's content store. Downloads are shared
// daemon-wide: a second pull of a blob already on its way joins that download instead of fetching
// it again, and at most `limit` downloads run at once (max-concurrent-downloads).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Containerd } from '../../runtime/containerd';
import { openBlobWriter, type BlobWriter } from '../../runtime/content';
import { withLease } from '../../runtime/leases';
import { RegistryError } from '../../registry/types';
import { InvalidParameter } from '../../lib/errors';

/** What the registry side gives for a blob from an offset (`offset` is where the body really starts). */
export interface BlobBody {
  body: AsyncIterable<Buffer> & { destroy?: (err?: Error) => void };
  offset: number;
}

export interface BlobSource {
  digest: string;
  size: number;
  open(offset: number): Promise<BlobBody>;
}

/** One pull's view of a download. */
export interface DownloadListener {
  /** The download waits for a free slot. */
  waiting(): void;
  progress(current: number, total: number): void;
  verifying(): void;
}

interface Shared {
  done: Promise<void>;
  waiters: Set<Waiter>;
  abort: AbortController;
  /** The last progress, for pulls that join late. */
  current: number;
  started: boolean;
}

interface Waiter {
  lease: string;
  listener: DownloadListener;
}

/** A counting semaphore; release functions are idempotent. */
export class Semaphore {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  get available(): boolean {
    return this.active < this.limit;
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.active >= this.limit) {
      await new Promise<void>((resolve, reject) => {
        const go = (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = (): void => {
          const i = this.queue.indexOf(go);
          if (i >= 0) this.queue.splice(i, 1);
          reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.queue.push(go);
      });
    }
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.queue.shift()?.();
    };
  }
}

export class VerificationError extends InvalidParameter {}

/** containerd's refusal of a commit whose bytes do not hash to the expected digest. */
function isDigestMismatch(err: unknown): boolean {
  return err instanceof Error && /unexpected commit digest/.test(err.message);
}

/** A failure worth another attempt from the offset reached: the connection, not the registry's answer. */
function retryable(err: unknown): boolean {
  if (err instanceof RegistryError) return err.transport || err.status === 0 || err.status >= 500;
  return !(err instanceof InvalidParameter);
}

export interface BlobDownloadsOptions {
  limit: number;
  attempts: number;
  /** Pause before attempt n+1 is n times this. */
  retryDelayMs?: number;
  /** How long a download's partial ingest stays for a restarted berthd to resume (default 1 h). */
  keepPartialMs?: number;
  /** Told of every chunk written from a registry (for the pulled-bytes metric). */
  onBytes?: (n: number) => void;
}

/**
 * The ingest ref of a blob's download: one per digest (downloads are shared, so one writer at a
 * time), so that after a crash the next download finds what the last one wrote and resumes.
 */
export function ingestRef(digest: string): string {
  return `berth-pull-${digest}`;
}

const KEEP_PARTIAL_MS = 60 * 60 * 1000;

export class BlobDownloads {
  private readonly inflight = new Map<string, Shared>();
  private readonly slots: Semaphore;

  constructor(
    private readonly ctd: Containerd,
    private readonly opts: BlobDownloadsOptions,
  ) {
    this.slots = new Semaphore(Math.max(1, opts.limit));
  }

  /**
   * Brings `src` into the content store and adds it to `lease`, downloading it or joining the
   * download already running for that digest. Leaving (signal) stops the download when nobody
   * else waits for it.
   */
  async fetch(src: BlobSource, lease: string, listener: DownloadListener, signal?: AbortSignal): Promise<void> {
    let shared = this.inflight.get(src.digest);
    if (shared === undefined) {
      const created: Shared = { waiters: new Set(), abort: new AbortController(), current: 0, started: false, done: Promise.resolve() };
      created.done = this.run(src, created).finally(() => this.inflight.delete(src.digest));
      // Waiters observe the outcome; this keeps a download nobody awaits any more from being unhandled.
      created.done.catch(() => undefined);
      this.inflight.set(src.digest, created);
      shared = created;
    } else if (shared.started) {
      listener.progress(shared.current, src.size);
    } else {
      listener.waiting();
    }
    const waiter: Waiter = { lease, listener };
    shared.waiters.add(waiter);
    const s = shared;
    let leave: (err: Error) => void = () => undefined;
    const left = new Promise<never>((_resolve, reject) => (leave = reject));
    left.catch(() => undefined);
    const onAbort = (): void => {
      s.waiters.delete(waiter);
      if (s.waiters.size === 0) s.abort.abort(new Error('pull cancelled'));
      // This pull stops waiting even while others keep the download going.
      leave(signal?.reason instanceof Error ? signal.reason : new Error('pull cancelled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal?.aborted) onAbort();
      await Promise.race([s.done, left]);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      s.waiters.delete(waiter);
    }
  }

  private async run(src: BlobSource, shared: Shared): Promise<void> {
    const signal = shared.abort.signal;
    // Let the pull that starts the download register before the first report.
    await Promise.resolve();
    if (!this.slots.available) for (const w of shared.waiters) w.listener.waiting();
    const release = await this.slots.acquire(signal);
    try {
      // The download's own lease: it outlives any one waiting pull; each waiter's lease gets the
      // blob before this one goes.
      // A pull lease (kept at startup, until it expires), so the partial ingest outlives a crash.
      await withLease(
        this.ctd,
        async (lease) => {
          await this.download(src, shared, lease);
          for (const w of shared.waiters) {
            await this.ctd.leases.addResource({ id: w.lease, resource: { id: src.digest, type: 'content' } });
          }
        },
        { kind: 'pull', ttlMs: this.opts.keepPartialMs ?? KEEP_PARTIAL_MS },
      );
    } finally {
      release();
    }
  }

  private async download(src: BlobSource, shared: Shared, lease: string): Promise<void> {
    const signal = shared.abort.signal;
    let ref: string | undefined = ingestRef(src.digest);
    // The named ingest may still be locked by a writer containerd has not seen go (a berthd just
    // killed): then this download starts afresh under a ref of its own.
    let writer: BlobWriter = await openBlobWriter(this.ctd, { lease, size: src.size, expected: src.digest, ref }).catch((err: unknown) => {
      if (err instanceof InvalidParameter) throw err;
      ref = undefined;
      return openBlobWriter(this.ctd, { lease, size: src.size, expected: src.digest });
    });
    if (writer.existed) return;
    // Possibly resuming an ingest an earlier berthd left. berthd hashes nothing itself: containerd
    // hashes the whole ingest and refuses a commit of other bytes, resumed or not.
    let offset = writer.offset;
    shared.started = true;
    const report = (): void => {
      shared.current = offset;
      for (const w of shared.waiters) w.listener.progress(offset, src.size);
    };
    if (offset > 0) report();
    try {
      for (let attempt = 1; ; attempt++) {
        signal.throwIfAborted();
        // An ingest a killed berthd had completed but not committed: nothing to fetch (a Range
        // from its size is a 416), only the commit, which checks its digest (as containerd's Copy).
        if (offset >= src.size) break;
        try {
          const got = await src.open(offset);
          if (got.offset !== offset) {
            // The registry ignored the Range: start over.
            await writer.abort();
            writer = await openBlobWriter(this.ctd, { lease, size: src.size, expected: src.digest, ...(ref !== undefined ? { ref } : {}) });
            if (writer.existed) return;
            offset = writer.offset;
            if (offset !== got.offset) {
              got.body.destroy?.(new Error('ingest not empty'));
              throw new Error(`ingest ${ref ?? ''} holds ${offset} bytes after a restart`);
            }
          }
          const onAbort = (): void => got.body.destroy?.(new Error('pull cancelled'));
          signal.addEventListener('abort', onAbort, { once: true });
          try {
            for await (const chunk of got.body) {
              if (offset + chunk.length > src.size) throw new VerificationError(`blob ${src.digest} is larger than its ${src.size} bytes`);
              await writer.write(chunk);
              offset += chunk.length;
              this.opts.onBytes?.(chunk.length);
              report();
            }
          } finally {
            signal.removeEventListener('abort', onAbort);
          }
          if (offset < src.size) throw new Error('unexpected EOF');
          break;
        } catch (err) {
          signal.throwIfAborted();
          if (attempt >= Math.max(1, this.opts.attempts) || !retryable(err)) throw err;
          await sleep((this.opts.retryDelayMs ?? 1000) * attempt, undefined, { signal });
        }
      }
      for (const w of shared.waiters) w.listener.verifying();
      await writer.commit(src.digest).catch((err: unknown) => {
        throw isDigestMismatch(err) ? new VerificationError(`filesystem layer verification failed for digest ${src.digest}`) : err;
      });
    } finally {
      await writer.abort();
    }
  }
}
