// `docker logs` of a container: the request and answer shapes the service hands the route, and
// the reading of its json-file log (follow ends when the container stops).
import { readContainerLog, readContainerLogFramed, type LiveLog, type ReadOptions } from '../logs/container-logs';
import type { LogEntry } from '../logs/types';
import type { LiveContainer } from './live-container';

export interface LogsRequest {
  stdout: boolean;
  stderr: boolean;
  follow: boolean;
  timestamps: boolean;
  details: boolean;
  /** Last N lines; -1 for all. */
  tail: number;
  since?: { seconds: number; nanos: number };
  until?: { seconds: number; nanos: number };
  signal: AbortSignal;
}

/** Entries of the container's json-file log; follow ends when the container stops. */
export function readLogsOf(c: LiveContainer, opts: ReadOptions): AsyncIterable<LogEntry> {
  return readContainerLog(c.record, opts, liveLog(c));
}

function liveLog(c: LiveContainer): LiveLog {
  return {
    isRunning: () => c.task !== undefined,
    subscribe: (wake) => c.task?.logger?.subscribe(wake) ?? (() => undefined),
  };
}

/**
 * The response body of `docker logs`, in chunks (never empty; each valid until the next is asked
 * for), and whether it is a TTY's (raw, unframed).
 */
export function containerLogs(c: LiveContainer, req: LogsRequest): { tty: boolean; body: AsyncIterable<Buffer> } {
  const toLogTime = (t?: { seconds: number; nanos: number }): { sec: number; nsec: number } | undefined =>
    t && { sec: t.seconds, nsec: t.nanos };
  const tty = c.record.config.Tty === true;
  const opts: ReadOptions = {
    stdout: req.stdout,
    stderr: req.stderr,
    follow: req.follow,
    tail: req.tail,
    since: toLogTime(req.since),
    until: toLogTime(req.until),
    details: req.details,
    signal: req.signal,
  };
  return { tty, body: readContainerLogFramed(c.record, opts, liveLog(c), { timestamps: req.timestamps, details: req.details, tty }) };
}
