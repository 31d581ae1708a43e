// Shared shapes of the container logging pipeline: copier → sink (json-file writer) → file → reader.

import type { NanoTime } from '../../lib/time';

export type LogStream = 'stdout' | 'stderr';

/** One message as the copier hands it to a sink; `line` has no trailing newline. */
export interface LogMessage {
  stream: LogStream;
  line: Buffer;
  /** When the copier read it, with nanoseconds. */
  time: LogTime;
  /** A piece of a longer line (or an unterminated last line): written without a newline. */
  partial?: boolean;
}

/** Anything that accepts log messages. `log` never blocks; writing happens in the background. */
export interface LogSink {
  log(msg: LogMessage): void;
  /** Bytes accepted but not yet written; the copier pauses its sources when this grows large. */
  backlog?(): number;
  /** Resolves once everything accepted so far has been written. */
  flush?(): Promise<void>;
}

/** One entry read back from a log file. */
export interface LogEntry {
  stream: LogStream;
  /** The logged bytes as stored: a complete line keeps its trailing '\n', a partial piece has none. */
  line: Buffer;
  /** Whole seconds (and milliseconds) of the entry's timestamp. */
  time: Date;
  /** Exact nanoseconds within the second, as stored in the file. */
  nsec: number;
  attrs?: Record<string, string>;
}

/** A log entry's time, with nanosecond precision. */
export type LogTime = NanoTime;
