// A node's side of the log relay (protocol.ts): one watch on `P/logs/req/<own node ID>/`; each
// request starts a session that reads the logs of this node's task containers (found by their
// `com.docker.swarm.task.id` / `.service.id` labels) through Berth's own log reader and writes
// them as bounded chunks attached to the request's lease, never more than WINDOW chunks ahead of
// the manager's acknowledgement. A request deleted (its lease revoked or expired) aborts its
// session. Memory per session: one bounded queue of messages and one chunk being built.

import type { Logger } from 'pino';
import type { ReadOptions } from '../../logs/container-logs';
import type { LogEntry } from '../../logs/types';
import type { ClusterKv, KvEvent, KvWatch } from '../../../store/cluster/kv';
import type { ClusterKeys } from '../keys';
import {
  CHUNK_BYTES,
  LINGER_MS,
  MAX_MESSAGE_BYTES,
  WINDOW,
  messageSize,
  parseRequest,
  type LogChunk,
  type LogRequest,
  type WireMessage,
} from './protocol';

export const TASK_ID_LABEL = 'com.docker.swarm.task.id';
export const SERVICE_ID_LABEL = 'com.docker.swarm.service.id';
/** How often a following session looks for task containers that started since, ms. */
const RESCAN_MS = 1000;

/** This node's containers as the responder needs them. */
export interface LocalTaskLogs {
  /** Containers labelled as swarm tasks. */
  taskContainers(): Array<{ containerId: string; taskId: string; serviceId: string }>;
  read(containerId: string, opts: ReadOptions): AsyncIterable<LogEntry>;
}

export interface ResponderDeps {
  kv: ClusterKv;
  keys: ClusterKeys;
  nodeId: string;
  logs: LocalTaskLogs;
  logger?: Logger;
  /** Messages a session queues before its readers wait (default 256). */
  queueLimit?: number;
}

/** One request being answered. */
class Session {
  private readonly abort = new AbortController();
  private readonly queue: WireMessage[] = [];
  private queueWaiters: Array<() => void> = [];
  private writerWake: (() => void) | undefined;
  private windowWake: (() => void) | undefined;
  private readersLeft = 0;
  private readonly reading = new Set<string>();
  private rescan: NodeJS.Timeout | undefined;
  private failure: string | undefined;
  private written = 0;
  private acked: number;

  constructor(
    private readonly deps: ResponderDeps,
    private readonly requestId: string,
    private readonly req: LogRequest,
    private readonly lease: string,
    private readonly createRevision: number,
  ) {
    this.acked = req.acked;
  }

  get aborted(): boolean {
    return this.abort.signal.aborted;
  }

  ack(n: number): void {
    if (n > this.acked) this.acked = n;
    this.windowWake?.();
  }

  cancel(): void {
    clearInterval(this.rescan);
    this.abort.abort();
    this.writerWake?.();
    this.windowWake?.();
    for (const w of this.queueWaiters.splice(0)) w();
  }

  run(): void {
    this.startReaders();
    // Following, tasks that start here later are read too (swarmkit's agent adds them).
    if (this.req.follow) {
      this.rescan = setInterval(() => this.startReaders(), RESCAN_MS);
      this.rescan.unref();
    }
    void this.writeLoop().catch((err: unknown) => {
      this.deps.logger?.debug({ err, request: this.requestId }, 'log relay session ended');
      this.cancel();
    });
  }

  private startReaders(): void {
    if (this.aborted) return;
    for (const c of this.deps.logs.taskContainers()) {
      if (this.reading.has(c.containerId)) continue;
      if (!this.req.tasks.includes(c.taskId) && !this.req.services.includes(c.serviceId)) continue;
      this.reading.add(c.containerId);
      this.readersLeft++;
      void this.readOne(c.containerId, c.taskId, c.serviceId).finally(() => {
        this.readersLeft--;
        this.writerWake?.();
      });
    }
  }

  private async push(m: WireMessage): Promise<void> {
    const limit = this.deps.queueLimit ?? 256;
    while (this.queue.length >= limit && !this.aborted) await new Promise<void>((r) => this.queueWaiters.push(r));
    if (this.aborted) return;
    this.queue.push(m);
    this.writerWake?.();
  }

  private async readOne(containerId: string, task: string, service: string): Promise<void> {
    const entries = this.deps.logs.read(containerId, {
      stdout: this.req.stdout,
      stderr: this.req.stderr,
      follow: this.req.follow,
      tail: this.req.tail,
      since: this.req.since,
      details: true,
      signal: this.abort.signal,
    });
    try {
      for await (const e of entries) {
        if (this.aborted) break;
        for (let off = 0; off < e.line.length || off === 0; off += MAX_MESSAGE_BYTES) {
          const piece = e.line.subarray(off, off + MAX_MESSAGE_BYTES);
          const m: WireMessage = {
            task,
            service,
            stream: e.stream,
            sec: Math.floor(e.time.getTime() / 1000),
            nsec: e.nsec,
            data: piece.toString('base64'),
          };
          if (e.attrs && Object.keys(e.attrs).length > 0) m.attrs = e.attrs;
          await this.push(m);
          if (e.line.length === 0) break;
        }
      }
    } catch (err) {
      if (!this.aborted) {
        this.deps.logger?.debug({ err, container: containerId }, 'reading task logs failed');
        this.failure = err instanceof Error ? err.message : String(err);
      }
    }
  }

  private wait(set: (wake: () => void) => void, ms?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(resolve, ms);
      set(() => {
        if (timer) clearTimeout(timer);
        resolve();
      });
    });
  }

  private async writeLoop(): Promise<void> {
    for (;;) {
      if (this.aborted) return;
      const finished = this.readersLeft === 0 && !this.req.follow;
      if (this.queue.length === 0 && !finished) {
        await this.wait((w) => (this.writerWake = w));
        continue;
      }
      // Linger briefly so a burst goes out as one chunk.
      if (!finished && this.bytesQueued() < CHUNK_BYTES) await this.wait((w) => (this.writerWake = w), LINGER_MS);
      while (this.written - this.acked >= WINDOW && !this.aborted) await this.wait((w) => (this.windowWake = w));
      if (this.aborted) return;
      const messages: WireMessage[] = [];
      let bytes = 0;
      while (this.queue.length > 0 && bytes < CHUNK_BYTES) {
        const m = this.queue.shift() as WireMessage;
        messages.push(m);
        bytes += messageSize(m);
      }
      for (const w of this.queueWaiters.splice(0)) w();
      const done = this.readersLeft === 0 && !this.req.follow && this.queue.length === 0;
      const chunk: LogChunk = { messages, ...(done ? { done: true } : {}), ...(done && this.failure ? { error: this.failure } : {}) };
      await this.write(chunk);
      if (done) return;
    }
  }

  private bytesQueued(): number {
    let n = 0;
    for (const m of this.queue) n += messageSize(m);
    return n;
  }

  private async write(chunk: LogChunk): Promise<void> {
    const { kv, keys, nodeId } = this.deps;
    const seq = this.written + 1;
    const r = await kv.txn(
      [{ key: keys.logRequest(nodeId, this.requestId), target: 'create', op: '==', revision: this.createRevision }],
      [{ op: 'put', key: keys.logChunk(this.requestId, nodeId, seq), value: JSON.stringify(chunk), lease: this.lease }],
    );
    if (!r.succeeded) throw new Error('the log request is gone');
    this.written = seq;
  }
}

/** Answers this node's log requests until stopped. */
export class LogResponder {
  private readonly sessions = new Map<string, Session>();
  private watch: KvWatch | undefined;
  private stopped = false;

  constructor(private readonly deps: ResponderDeps) {}

  /** Starts watching; requests already there (from before a restart) are answered too. */
  async start(): Promise<void> {
    if (this.stopped) return;
    const prefix = this.deps.keys.logRequestsPrefix(this.deps.nodeId);
    const { entries, revision } = await this.deps.kv.list(prefix);
    for (const e of entries) this.onPut(e.key, e.value, e.lease, e.createRevision);
    const watch = await this.deps.kv.watch(prefix, revision + 1, {
      onEvents: (events) => {
        for (const ev of events) this.onEvent(ev);
      },
      onError: (err) => {
        this.deps.logger?.warn({ err }, 'log request watch failed; restarting it');
        this.cancelAll();
        if (!this.stopped) void this.restart();
      },
    });
    // Stopped while the watch was being set up: it must not outlive the responder.
    if (this.stopped) await watch.cancel().catch(() => undefined);
    else this.watch = watch;
  }

  private async restart(): Promise<void> {
    await this.watch?.cancel().catch(() => undefined);
    for (let delay = 1000; !this.stopped;) {
      try {
        await this.start();
        return;
      } catch (err) {
        this.deps.logger?.debug({ err }, 'log responder restart failed');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private onEvent(ev: KvEvent): void {
    const id = ev.key.slice(ev.key.lastIndexOf('/') + 1);
    if (ev.type === 'delete') {
      this.sessions.get(id)?.cancel();
      this.sessions.delete(id);
      return;
    }
    // The watch event has no lease: it is read back once, for a new request.
    const existing = this.sessions.get(id);
    if (existing) {
      existing.ack(parseRequest(ev.value)?.acked ?? 0);
      return;
    }
    void this.deps.kv
      .get(ev.key)
      .then((e) => {
        if (e && !this.sessions.has(id) && !this.stopped) this.onPut(e.key, e.value, e.lease, e.createRevision);
      })
      .catch((err: unknown) => this.deps.logger?.debug({ err }, 'reading a log request failed'));
  }

  private onPut(key: string, value: string, lease: string, createRevision: number): void {
    const id = key.slice(key.lastIndexOf('/') + 1);
    const req = parseRequest(value);
    // A request without a lease would leave chunks behind forever: not answered.
    if (!req || lease === '' || lease === '0') return;
    const s = new Session(this.deps, id, req, lease, createRevision);
    this.sessions.set(id, s);
    s.run();
  }

  private cancelAll(): void {
    for (const s of this.sessions.values()) s.cancel();
    this.sessions.clear();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelAll();
    await this.watch?.cancel().catch(() => undefined);
  }
}
