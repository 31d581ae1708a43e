// The manager's side of the log relay (protocol.ts): writes one request per node running the
// selected tasks, attached to a lease of its own, watches the chunks the nodes write, yields their
// lines in dockerd's format (swarm's `com.docker.swarm.node.id`, `.service.id`, `.task.id` among
// the details) and acknowledges each chunk once its lines were taken (so a node never runs more
// than WINDOW chunks ahead of the client). Ending the iteration (done, client gone) revokes the
// lease: every key of the request goes, and the nodes stop reading.

import { formatLogEntry } from '../../logs/format';
import type { LogStream } from '../../logs/types';
import type { ClusterKv, KvEvent } from '../../../store/cluster/kv';
import type { ClusterKeys } from '../keys';
import { newObjectId } from '../local-state';
import { REQUEST_TTL_SECONDS, parseChunk, type LogRequest, type WireMessage } from './protocol';

const SWARM_KEYS = ['com.docker.swarm.node.id', 'com.docker.swarm.service.id', 'com.docker.swarm.task.id'];

export interface RelayTarget {
  tasks: string[];
  services: string[];
  /** Nodes to ask (alive ones). */
  nodes: string[];
  /** Nodes running selected tasks that are down: reported as swarmkit does at the end. */
  unavailable: string[];
}

export interface RelayOptions {
  stdout: boolean;
  stderr: boolean;
  follow: boolean;
  /** Last N lines per task; -1 for all. */
  tail: number;
  since?: { sec: number; nsec: number };
  timestamps: boolean;
  details: boolean;
  signal: AbortSignal;
}

export interface RelayLine {
  /** `system` carries dockerd's "Error grabbing logs: …" lines (the multiplexed stream 3). */
  stream: LogStream | 'system';
  payload: Buffer;
}

/** A queue of watch events the relay consumes one at a time; bounded by the nodes' windows. */
class Inbox {
  private readonly items: KvEvent[] = [];
  private wake: (() => void) | undefined;
  private error: Error | undefined;

  push(events: KvEvent[]): void {
    this.items.push(...events);
    this.wake?.();
  }

  fail(err: Error): void {
    this.error ??= err;
    this.wake?.();
  }

  /** The next event, or undefined once aborted. */
  async next(signal: AbortSignal): Promise<KvEvent | undefined> {
    for (;;) {
      if (signal.aborted) return undefined;
      if (this.error) throw this.error;
      const e = this.items.shift();
      if (e) return e;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          signal.removeEventListener('abort', done);
          this.wake = undefined;
          resolve();
        };
        this.wake = done;
        signal.addEventListener('abort', done);
      });
    }
  }
}

/** One relayed message as dockerd writes it (WriteLogStream: timestamp, details, line). */
export function formatMessage(m: WireMessage, nodeId: string, opts: { timestamps: boolean; details: boolean }): RelayLine {
  const attrs: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.attrs ?? {})) if (!SWARM_KEYS.includes(k)) attrs[k] = v;
  attrs['com.docker.swarm.node.id'] = nodeId;
  attrs['com.docker.swarm.service.id'] = m.service;
  attrs['com.docker.swarm.task.id'] = m.task;
  const time = new Date(m.sec * 1000 + Math.floor(m.nsec / 1e6));
  return formatLogEntry({ stream: m.stream, line: Buffer.from(m.data, 'base64'), time, nsec: m.nsec, attrs }, opts);
}

function systemLine(text: string): RelayLine {
  return { stream: 'system', payload: Buffer.from(`Error grabbing logs: ${text}\n`) };
}

/** The lines of the selected tasks, from every node that runs them. */
export async function* relayLogs(
  deps: { kv: ClusterKv; keys: ClusterKeys },
  target: RelayTarget,
  opts: RelayOptions,
): AsyncGenerator<RelayLine> {
  const { kv, keys } = deps;
  const unavailable = [...target.unavailable];
  if (target.nodes.length > 0) {
    const lease = await kv.grantLease(REQUEST_TTL_SECONDS);
    const inbox = new Inbox();
    lease.onLost((err) => inbox.fail(err));
    try {
      const requestId = newObjectId();
      const request: LogRequest = {
        tasks: target.tasks,
        services: target.services,
        stdout: opts.stdout,
        stderr: opts.stderr,
        follow: opts.follow,
        tail: opts.tail,
        ...(opts.since ? { since: opts.since } : {}),
        acked: 0,
      };
      const body = (acked: number): string => JSON.stringify({ ...request, acked });
      const written = await kv.txn(
        [],
        target.nodes.map((n) => ({ op: 'put' as const, key: keys.logRequest(n, requestId), value: body(0), lease: lease.id })),
      );
      const prefix = keys.logChunksPrefix(requestId);
      const handlers = { onEvents: (ev: KvEvent[]) => inbox.push(ev), onError: (err: Error) => inbox.fail(err) };
      const chunks = await kv.watch(prefix, written.revision, handlers);
      const alive = await kv.watch(keys.alivePrefix, written.revision, handlers);
      try {
        const pending = new Set(target.nodes);
        const acked = new Map<string, number>();
        while (opts.follow || pending.size > 0) {
          const ev = await inbox.next(opts.signal);
          if (!ev) return;
          if (ev.key.startsWith(keys.alivePrefix)) {
            const node = ev.key.slice(keys.alivePrefix.length);
            if (ev.type === 'delete' && pending.delete(node)) unavailable.push(node);
            continue;
          }
          if (ev.type !== 'put' || !ev.key.startsWith(prefix)) continue;
          const node = ev.key.slice(prefix.length).split('/')[0];
          if (!pending.has(node)) continue;
          const chunk = parseChunk(ev.value);
          for (const m of chunk.messages) yield formatMessage(m, node, opts);
          if (chunk.error) yield systemLine(chunk.error);
          const n = (acked.get(node) ?? 0) + 1;
          acked.set(node, n);
          if (chunk.done) {
            pending.delete(node);
            await kv.txn([], [{ op: 'delete', key: ev.key }]);
          } else {
            await kv.txn(
              [],
              [
                { op: 'put', key: keys.logRequest(node, requestId), value: body(n), lease: lease.id },
                { op: 'delete', key: ev.key },
              ],
            );
          }
        }
      } finally {
        await chunks.cancel().catch(() => undefined);
        await alive.cancel().catch(() => undefined);
      }
    } finally {
      await lease.revoke().catch(() => undefined);
    }
  }
  if (unavailable.length > 0 && !opts.signal.aborted) {
    const reasons = unavailable.map((n) => `node ${n} is not available`).join(', ');
    yield systemLine(
      `rpc error: code = Unknown desc = warning: incomplete log stream. some logs could not be retrieved for the following reasons: ${reasons}`,
    );
  }
}
