// Copies a container's stdout/stderr into a log sink the way moby's logger.Copier does
// (daemon/logger/copier.go): newline-terminated messages without the newline; a line that fills
// the 16 KiB buffer is emitted in 16 KiB partial pieces that share the first piece's timestamp;
// an unterminated last line is flushed at EOF as a partial message. Raw chunks are also fanned
// out to live listeners (attach). The sources are always drained, listeners or not.
import type { Readable } from 'node:stream';
import { nextNanosecond, preciseNow } from '../../lib/time';
import type { LogSink, LogStream, LogTime } from './types';

/** moby's defaultBufSize: the longest message before a line is split into partial pieces. */
export const DEFAULT_LINE_BUFFER = 16 * 1024;
/** dockerd's default max-buffer-size for mode=non-blocking (1m, decimal). */
export const DEFAULT_MAX_BUFFER_SIZE = 1_000_000;
/** In blocking mode the sources pause while the sink has more than this unwritten. */
const DEFAULT_HIGH_WATER = 8 * 1024 * 1024;

export type DataListener = (stream: LogStream, chunk: Buffer) => void;

export interface LogCopierOptions {
  /** Line buffer size (moby SizedLogger.BufSize); default 16 KiB. */
  bufSize?: number;
  /**
   * log-opt mode. 'blocking' (default) stops reading while the sink is far behind, so a slow disk
   * slows the container as in dockerd; 'non-blocking' keeps reading and drops messages once the
   * sink holds more than maxBufferSize unwritten bytes.
   */
  mode?: 'blocking' | 'non-blocking';
  maxBufferSize?: number;
  highWaterMark?: number;
  /** Clock for message timestamps (tests). */
  now?: () => LogTime;
  onError?: (err: Error) => void;
}

export class LogCopier {
  private readonly listeners = new Set<DataListener>();
  private readonly finished: Promise<void>;
  private readonly sources: Readable[] = [];
  private paused = false;
  /** Outstanding hold() calls: live listeners that cannot keep up (attach backpressure). */
  private holds = 0;
  private closed = false;
  private droppedCount = 0;

  constructor(
    sources: { stdout?: Readable | null; stderr?: Readable | null },
    private readonly sink: LogSink,
    private readonly opts: LogCopierOptions = {},
  ) {
    const runs: Promise<void>[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      const src = sources[stream];
      if (src) runs.push(this.copy(stream, src));
    }
    this.finished = Promise.all(runs).then(async () => {
      await this.sink.flush?.();
    });
  }

  /** Live raw chunks of both streams; returns the unsubscribe function. */
  onData(listener: DataListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves after both streams ended and everything they carried reached the sink's file. */
  done(): Promise<void> {
    return this.finished;
  }

  /** Messages dropped in non-blocking mode because the sink was too far behind. */
  get dropped(): number {
    return this.droppedCount;
  }

  /**
   * Stops reading the sources until the returned release is called (once): a live listener is
   * too far behind. The sink's own backpressure works independently.
   */
  hold(): () => void {
    this.holds++;
    if (this.holds === 1) for (const s of this.sources) s.pause();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      if (this.holds === 0 && !this.paused) this.resumeSources();
    };
  }

  /** Stops logging (moby Copier.Close); the sources are still drained and listeners still fed. */
  close(): void {
    this.closed = true;
    this.resume();
  }

  private copy(stream: LogStream, src: Readable): Promise<void> {
    const bufSize = this.opts.bufSize && this.opts.bufSize > 0 ? this.opts.bufSize : DEFAULT_LINE_BUFFER;
    const now = this.opts.now ?? preciseNow;
    let parts: Buffer[] = [];
    let pending = 0;
    let partialTs: LogTime | undefined;
    // The clock is read once per read chunk: the chunk's lines arrived together, and get that
    // time, each a nanosecond after the one before (moby reads it per line, a few hundred
    // nanoseconds apart; the order is the same).
    let last: LogTime | undefined;
    let clockRead = false;
    const fresh = (): LogTime => {
      let t: LogTime;
      if (!clockRead || !last) {
        clockRead = true;
        t = now();
        if (last && (t.sec < last.sec || (t.sec === last.sec && t.nsec <= last.nsec))) t = nextNanosecond(last);
      } else {
        t = nextNanosecond(last);
      }
      last = t;
      return t;
    };

    const emit = (line: Buffer, partial: boolean): void => {
      let ts: LogTime;
      if (partial) {
        partialTs ??= fresh();
        ts = partialTs;
      } else {
        ts = partialTs ?? fresh();
        partialTs = undefined;
      }
      this.deliver({ stream, line, time: ts, partial });
    };
    const takePending = (tail: Buffer): Buffer => {
      if (pending === 0) return tail;
      parts.push(tail);
      const line = Buffer.concat(parts, pending + tail.length);
      parts = [];
      pending = 0;
      return line;
    };

    const onChunk = (chunk: Buffer): void => {
      clockRead = false;
      for (const l of this.listeners) {
        try {
          l(stream, chunk);
        } catch (err) {
          this.opts.onError?.(err instanceof Error ? err : new Error(String(err)));
        }
      }
      let start = 0;
      while (start < chunk.length) {
        const nl = chunk.indexOf(0x0a, start);
        const end = nl < 0 ? chunk.length : nl;
        // The buffer holds bufSize bytes: a line that fills it goes out as a partial piece,
        // even when its newline would be the very next byte.
        while (pending + (end - start) >= bufSize) {
          const take = bufSize - pending;
          emit(takePending(chunk.subarray(start, start + take)), true);
          start += take;
        }
        if (nl < 0) {
          if (start < end) {
            parts.push(chunk.subarray(start, end));
            pending += end - start;
          }
          break;
        }
        emit(takePending(chunk.subarray(start, end)), false);
        start = nl + 1;
      }
      this.applyBackpressure();
    };

    this.sources.push(src);
    return new Promise<void>((resolve) => {
      let ended = false;
      const finish = (err?: Error): void => {
        if (ended) return;
        ended = true;
        src.off('data', onChunk);
        if (err) this.opts.onError?.(err);
        // An unterminated last line: logged as a partial message, as moby does at EOF.
        clockRead = false;
        if (pending > 0) emit(takePending(Buffer.alloc(0)), true);
        resolve();
      };
      src.on('data', onChunk);
      src.once('end', () => finish());
      src.once('error', (err: Error) => finish(err));
      src.once('close', () => finish());
      // A process that printed nothing and exited at once may have closed its FIFO before this
      // copier existed: 'end'/'close' are then gone (an empty stream ends without a reader), and
      // waiting for them would hold every exit up for the full drain timeout.
      if (src.readableEnded || src.destroyed) finish();
    });
  }

  private deliver(msg: Parameters<LogSink['log']>[0]): void {
    if (this.closed) return;
    if (this.opts.mode === 'non-blocking') {
      const limit = this.opts.maxBufferSize ?? DEFAULT_MAX_BUFFER_SIZE;
      if ((this.sink.backlog?.() ?? 0) + msg.line.length > limit) {
        this.droppedCount++;
        return;
      }
    }
    try {
      this.sink.log(msg);
    } catch (err) {
      this.opts.onError?.(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private applyBackpressure(): void {
    if (this.paused || this.closed || this.opts.mode === 'non-blocking' || !this.sink.flush) return;
    const high = this.opts.highWaterMark ?? DEFAULT_HIGH_WATER;
    if ((this.sink.backlog?.() ?? 0) <= high) return;
    this.paused = true;
    for (const s of this.sources) s.pause();
    this.sink.flush().then(
      () => this.resume(),
      () => this.resume(),
    );
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.holds === 0) this.resumeSources();
  }

  private resumeSources(): void {
    for (const s of this.sources) if (!s.destroyed) s.resume();
  }
}
