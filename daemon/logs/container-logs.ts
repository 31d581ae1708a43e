// A container's logging: the configured driver's logger for a run, and reading the json-file
// log back for `docker logs` and attach's log replay. It takes the few facts it needs of a
// container, so the logging plumbing does not depend on the container area.
import { NotImplemented } from '../../lib/errors';
import { extraAttributes, type LogContainerInfo } from './attrs';
import { parseLogOpts, type LogConfig } from './format';
import { JsonFileLogger } from './json-file';
import type { FrameOptions } from './batch-decoders';
import { readLogFramed, readLogs, type ReadLogsOptions } from './reader';
import type { LogEntry, LogSink, LogTime } from './types';

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

function readOptions(r: LoggedContainer, opts: ReadOptions, live: LiveLog): ReadLogsOptions {
  const cfg = logConfigOf(r);
  if (cfg.driver !== 'json-file') throw new NotImplemented('configured logging driver does not support reading');
  return {
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
  };
}

/** Entries of a container's json-file log; follow ends when the run ends. */
export function readContainerLog(r: LoggedContainer, opts: ReadOptions, live: LiveLog): AsyncIterable<LogEntry> {
  return readLogs(readOptions(r, opts, live));
}

/**
 * A container's json-file log as the bytes of GET /containers/{id}/logs (stdcopy frames unless
 * TTY), one buffer per block read: a large log is a million lines, read at the disk's pace.
 * The buffer is reused: each is valid until the next is asked for.
 */
export function readContainerLogFramed(r: LoggedContainer, opts: ReadOptions, live: LiveLog, format: FrameOptions): AsyncIterable<Buffer> {
  return readLogFramed(readOptions(r, opts, live), format);
}
