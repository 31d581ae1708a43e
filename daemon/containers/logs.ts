// `docker logs` of a container: the request and answer shapes the service hands the route, and
// the reading of its json-file log (follow ends when the container stops).
import { formattedLines, readContainerLog, type ReadOptions } from '../logs/container-logs';
import type { LogEntry, LogStream } from '../logs/types';
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

export interface LogLine {
  stream: LogStream;
  payload: Buffer;
}

/** Entries of the container's json-file log; follow ends when the container stops. */
export function readLogsOf(c: LiveContainer, opts: ReadOptions): AsyncIterable<LogEntry> {
  return readContainerLog(c.record, opts, {
    isRunning: () => c.task !== undefined,
    subscribe: (wake) => c.task?.logger?.subscribe(wake) ?? (() => undefined),
  });
}

/** The request's log lines, formatted, and whether they come from a TTY. */
export function containerLogs(c: LiveContainer, req: LogsRequest): { tty: boolean; lines: AsyncIterable<LogLine> } {
  const toLogTime = (t?: { seconds: number; nanos: number }): { sec: number; nsec: number } | undefined =>
    t && { sec: t.seconds, nsec: t.nanos };
  const entries = readLogsOf(c, {
    stdout: req.stdout,
    stderr: req.stderr,
    follow: req.follow,
    tail: req.tail,
    since: toLogTime(req.since),
    until: toLogTime(req.until),
    details: req.details,
    signal: req.signal,
  });
  return { tty: c.record.config.Tty === true, lines: formattedLines(entries, { timestamps: req.timestamps, details: req.details }) };
}
