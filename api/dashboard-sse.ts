// Server-sent event streams of the dashboard: the container list (again after every container
// event) and a container's log lines (the stats stream is framed in dashboard-server.ts). One helper frames the events, keeps the
// connection alive with comments and stops writing to a client that does not read.

import type * as http from 'node:http';
import type { DashboardBackend, DashboardLogLine } from '../daemon/dashboard/backend';

/** A client that does not read gets no more while this much waits for it. */
const MAX_PENDING_BYTES = 1024 * 1024;
const HEARTBEAT_MS = 15_000;
/** Container events come in bursts (create, attach, start...): one list per burst. */
const LIST_DEBOUNCE_MS = 50;

export interface Sse {
  send(event: string, data: unknown): boolean;
  /** Resolves once the client has read what waits (or is gone). */
  drained(): Promise<void>;
  readonly closed: boolean;
  onClose(fn: () => void): void;
}

export function openSse(res: http.ServerResponse): Sse {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    Connection: 'keep-alive',
  });
  res.flushHeaders();
  let closed = false;
  const closers: Array<() => void> = [];
  const heartbeat = setInterval(() => {
    if (!closed && res.writableLength < MAX_PENDING_BYTES) res.write(': ping\n\n');
  }, HEARTBEAT_MS);
  res.once('close', () => {
    closed = true;
    clearInterval(heartbeat);
    for (const fn of closers.splice(0)) fn();
  });
  return {
    send(event, data) {
      if (closed || res.writableLength > MAX_PENDING_BYTES) return false;
      return res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    drained: () =>
      closed || res.writableLength === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const done = (): void => {
              res.off('drain', done);
              res.off('close', done);
              resolve();
            };
            res.on('drain', done);
            res.on('close', done);
          }),
    get closed() {
      return closed;
    },
    onClose(fn) {
      if (closed) fn();
      else closers.push(fn);
    },
  };
}

export function streamContainers(backend: DashboardBackend, sse: Sse, onError: (err: unknown) => void): void {
  let timer: NodeJS.Timeout | undefined;
  let sending = false;
  let again = false;
  const push = (): void => {
    if (sending) {
      again = true;
      return;
    }
    sending = true;
    backend
      .containers()
      .then(
        (list) => sse.send('containers', { now: new Date().toISOString(), containers: list }),
        (err: unknown) => onError(err),
      )
      .finally(() => {
        sending = false;
        if (again && !sse.closed) {
          again = false;
          push();
        }
      })
      .catch(onError);
  };
  const unwatch = backend.watch(() => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      push();
    }, LIST_DEBOUNCE_MS);
  });
  sse.onClose(() => {
    unwatch();
    if (timer) clearTimeout(timer);
  });
  push();
}

/** Follows the log until the container stops or the client leaves; then an `end` event. */
export async function streamLogs(lines: AsyncIterable<DashboardLogLine>, sse: Sse): Promise<void> {
  for await (const line of lines) {
    if (!sse.send('line', line)) await sse.drained();
    if (sse.closed) return;
  }
  sse.send('end', {});
}
