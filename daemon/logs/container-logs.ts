// A container's logging: the configured driver's logger for a run, and reading the json-file
// log back for `docker logs` and attach's log replay. It takes the few facts it needs of a
// container, so the logging plumbing does not depend on the container area.
import { NotImplemented } from '../../lib/errors';
import { extraAttributes, type LogContainerInfo } from './attrs';
import { formatLogEntry, parseLogOpts, type LogConfig } from './format';
import { JsonFileLogger } from './json-file';
import { readLogs } from './reader';
import type { LogEntry, LogSink, LogStream, LogTime } from './types';

/** What logging needs to know of a container. */
export interface LoggedContainer {
  id: string;
  name: string;
  imageId: string;
  created?: string;
  path: string;
  args: string[];
  logPath: string;
  config: { Image?: string | null; Labels?: Record<string, string> | null; Env?: string[] | null; Tty?: boolean | null };
  hostConfig: { LogConfig?: { Type?: string | null; Config?: Record<string, string> | null } | null };
}

export interface ReadOptions {
  stdout: boolean;
  stderr: boolean;
  follow: boolean;
  tail: number;
  since?: LogTime;
  until?: LogTime;
  details?: boolean;
  signal?: AbortSignal;
}

/** Where the reader learns about the current run: whether it goes on, and when lines arrive. */
export interface LiveLog {
  isRunning(): boolean;
  /** Calls `wake` on every new write; returns the unsubscribe. */
  subscribe(wake: () => void): () => void;
}

/** Where output goes for a container logging to `none`: nowhere, but it is still drained. */
export const NULL_SINK: LogSink = { log: () => undefined };

export function logConfigOf(r: LoggedContainer): LogConfig {
  return parseLogOpts(r.hostConfig.LogConfig?.Type ?? 'json-file', r.hostConfig.LogConfig?.Config ?? {});
}

function logInfo(r: LoggedContainer): LogContainerInfo {
  return {
    id: r.id,
    name: r.name,
    imageId: r.imageId,
    imageName: r.config.Image ?? '',
    labels: r.config.Labels ?? {},
    env: r.config.Env ?? [],
    entrypoint: r.path,
    args: r.args,
    daemonName: 'berth',
    logPath: r.logPath,
  };
}

/** The logger of one run: a json-file logger, or undefined for drivers that keep nothing. */
export function openRunLogger(r: LoggedContainer, cfg: LogConfig, onError: (err: unknown) => void): JsonFileLogger | undefined {
  if (cfg.driver !== 'json-file') return undefined;
  return new JsonFileLogger({
    path: r.logPath,
    maxSize: cfg.maxSize > 0 ? cfg.maxSize : undefined,
    maxFile: cfg.maxFile,
    compress: cfg.compress,
    extraAttrs: extraAttributes(cfg.opts, logInfo(r)),
    onError,
  });
}

/** Entries of a container's json-file log; follow ends when the run ends. */
export function readContainerLog(r: LoggedContainer, opts: ReadOptions, live: LiveLog): AsyncIterable<LogEntry> {
  const cfg = logConfigOf(r);
  if (cfg.driver !== 'json-file') throw new NotImplemented('configured logging driver does not support reading');
  return readLogs({
    path: r.logPath,
    maxFile: cfg.maxFile,
    compress: cfg.compress,
    stdout: opts.stdout,
    stderr: opts.stderr,
    since: opts.since,
    until: opts.until,
    tail: opts.tail,
    follow: opts.follow,
    details: opts.details,
    signal: opts.signal ?? new AbortController().signal,
    isRunning: () => live.isRunning(),
    notify: (wake) => live.subscribe(wake),
  });
}

/** `docker logs`' lines, framed as the API sends them. */
export async function* formattedLines(
  entries: AsyncIterable<LogEntry>,
  format: { timestamps: boolean; details: boolean },
): AsyncGenerator<{ stream: LogStream; payload: Buffer }> {
  for await (const e of entries) yield formatLogEntry(e, format);
}
