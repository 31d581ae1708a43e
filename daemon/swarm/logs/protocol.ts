// The etcd log relay's wire shapes (docs/swarm.md, "Service and task logs"). A manager asked for
// service or task logs writes one request per node running the tasks, under
// `P/logs/req/<nodeID>/<requestID>`, attached to a short lease it keeps alive while its client
// reads. Each node's responder answers with chunks under `P/logs/out/<requestID>/<nodeID>/<seq>`,
// attached to the same lease, at most WINDOW chunks ahead of what the manager acknowledged (the
// manager rewrites the request with `acked` and deletes each chunk it relayed). The last chunk of a
// node that is done (not following) has `done`. Revoking the lease ends everything: the keys go,
// the node's watch sees its request deleted and stops reading.

import type { LogStream } from '../../logs/types';

/** Lease TTL of a request, seconds: a manager that dies takes its requests with it soon. */
export const REQUEST_TTL_SECONDS = 10;
/** Chunks a node may have written beyond the manager's acknowledgement. */
export const WINDOW = 4;
/** A chunk is written once its messages reach this many bytes of data (or on a short linger). */
export const CHUNK_BYTES = 64 * 1024;
/** A single message's data is cut at this many bytes (a longer line arrives in pieces). */
export const MAX_MESSAGE_BYTES = 16 * 1024;
/** How long messages wait for more before a partial chunk is written, ms. */
export const LINGER_MS = 50;

export interface LogRequest {
  /** Task IDs whose logs are asked for. */
  tasks: string[];
  /** Service IDs: every task of these on the node. */
  services: string[];
  stdout: boolean;
  stderr: boolean;
  follow: boolean;
  /** Last N lines per task; -1 for all. */
  tail: number;
  /** Entries before this are skipped. */
  since?: { sec: number; nsec: number };
  /** Chunks the manager relayed so far (rewritten by the manager as it goes). */
  acked: number;
}

/** One log line of a task, as a node sends it. */
export interface WireMessage {
  task: string;
  service: string;
  stream: LogStream;
  /** Seconds and nanoseconds of the entry's timestamp. */
  sec: number;
  nsec: number;
  /** The container's log attributes (labels/env chosen by log-opts), if any. */
  attrs?: Record<string, string>;
  /** base64 of the line's bytes. */
  data: string;
}

export interface LogChunk {
  messages: WireMessage[];
  /** This node has nothing more for the request. */
  done?: boolean;
  /** A failure the manager reports as dockerd does ("Error grabbing logs: …"). */
  error?: string;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** A request read from etcd (any manager may have written it: fields checked, not trusted). */
export function parseRequest(text: string): LogRequest | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObj(v)) return null;
  const since = isObj(v.since) && typeof v.since.sec === 'number' && typeof v.since.nsec === 'number' ? v.since : undefined;
  return {
    tasks: strings(v.tasks),
    services: strings(v.services),
    stdout: v.stdout === true,
    stderr: v.stderr === true,
    follow: v.follow === true,
    tail: typeof v.tail === 'number' && Number.isInteger(v.tail) ? v.tail : -1,
    ...(since ? { since: { sec: since.sec as number, nsec: since.nsec as number } } : {}),
    acked: typeof v.acked === 'number' && Number.isInteger(v.acked) ? v.acked : 0,
  };
}

function parseMessage(v: unknown): WireMessage | null {
  if (!isObj(v)) return null;
  const { task, service, stream, sec, nsec, data, attrs } = v;
  if (typeof task !== 'string' || typeof service !== 'string' || typeof data !== 'string') return null;
  if ((stream !== 'stdout' && stream !== 'stderr') || typeof sec !== 'number' || typeof nsec !== 'number') return null;
  const m: WireMessage = { task, service, stream, sec, nsec, data };
  if (isObj(attrs)) {
    const a: Record<string, string> = {};
    for (const [k, val] of Object.entries(attrs)) if (typeof val === 'string') a[k] = val;
    m.attrs = a;
  }
  return m;
}

/** A chunk read from etcd; a malformed one is an error chunk (the node is then taken as done). */
export function parseChunk(text: string): LogChunk {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { messages: [], done: true, error: 'malformed log chunk' };
  }
  if (!isObj(v) || !Array.isArray(v.messages)) return { messages: [], done: true, error: 'malformed log chunk' };
  const messages: WireMessage[] = [];
  for (const m of v.messages) {
    const p = parseMessage(m);
    if (p) messages.push(p);
  }
  return {
    messages,
    ...(v.done === true ? { done: true } : {}),
    ...(typeof v.error === 'string' ? { error: v.error } : {}),
  };
}

/** The bytes a message accounts for in a chunk (its data, base64). */
export function messageSize(m: WireMessage): number {
  return m.data.length + 64;
}
