// What a log read makes of each batch of lines: entries (attach's replay, service logs, the
// dashboard), or the bytes of GET /containers/{id}/logs themselves, framed as the API sends
// them. The second writes each line's log bytes, timestamp and frame header straight into one
// buffer per batch: no object, string or Buffer per line, which is what lets `docker logs` of a
// large log run at several times dockerd's throughput.
import { FRAME_HEADER, STDERR, STDOUT, writeFrameHeader } from '../../lib/stdcopy';
import { formatRFC3339NanoFixed } from '../../lib/time';
import { decodeEntry, decodeEntryParsed, decodeWrittenInto, written } from './entry-decode';
import { formatLogEntry, type FormatOptions } from './format';
import type { Forwarder } from './forwarder';
import type { LineBatch } from './line-reader';
import type { LogEntry } from './types';

/** Turns batches of raw lines into T; `stopped` once an entry past `until` was seen. */
export interface BatchDecoder<T> {
  decode(lines: LineBatch): T | undefined;
  readonly stopped: boolean;
}

/** Batches of entries that pass the forwarder. */
export class EntryDecoder implements BatchDecoder<LogEntry[]> {
  stopped = false;
  constructor(
    private readonly fwd: Forwarder,
    private readonly withAttrs: boolean,
  ) {}

  decode(lines: LineBatch): LogEntry[] | undefined {
    const out: LogEntry[] = [];
    for (let i = 0; i < lines.length; i++) {
      const entry = decodeEntry(lines.line(i), this.withAttrs);
      if (!entry) continue;
      const verdict = this.fwd.check(entry);
      if (verdict === 'stop') {
        this.stopped = true;
        break;
      }
      if (verdict === 'emit') out.push(entry);
    }
    return out.length > 0 ? out : undefined;
  }
}

export interface FrameOptions extends FormatOptions {
  /** TTY containers' logs go out raw; others in stdcopy frames. */
  tty: boolean;
}

const STOP = -2;
const HAND_OVER = -1;

/** formatLogEntry's timestamp prefix: 30 characters (years 0000-9999, nine digits, Z) and a space. */
const TIMESTAMP_PREFIX = 31;

/**
 * Batches of the logs response's bytes: formatLogEntry's payloads, framed unless TTY. Each
 * batch is written into one buffer kept for the next: a batch is valid until the next decode.
 */
export class FrameDecoder implements BatchDecoder<Buffer> {
  stopped = false;
  private buf: Buffer | undefined;
  private readonly header: number;
  /** Bytes before each payload: the header and the timestamp, when asked for. */
  private readonly before: number;

  constructor(
    private readonly fwd: Forwarder,
    private readonly opts: FrameOptions,
  ) {
    this.header = opts.tty ? 0 : FRAME_HEADER;
    this.before = this.header + (opts.timestamps ? TIMESTAMP_PREFIX : 0);
  }

  decode(lines: LineBatch): Buffer | undefined {
    const { bufs, starts, ends } = lines;
    const count = bufs.length;
    // A decoded log string is never longer than its line: the fast path always fits.
    let bound = 0;
    for (let i = 0; i < count; i++) bound += ends[i]! - starts[i]! + this.before;
    if (!this.buf || this.buf.length < bound) this.buf = Buffer.allocUnsafe(bound);
    let out = this.buf;
    let off = 0;
    for (let i = 0; i < count; i++) {
      if (!this.opts.details) {
        const start = starts[i]!;
        const end = ends[i]!;
        // The bound holds unless a reference-path line before took more than its share.
        if (out.length - off < end - start + this.before) out = this.grow(off, off + end - start + this.before);
        const next = this.fast(bufs[i]!, start, end, lines.utf8, out, off);
        if (next === STOP) {
          this.stopped = true;
          break;
        }
        if (next !== HAND_OVER) {
          off = next;
          continue;
        }
      }
      // The reference path: any line the fast path hands over, and every line with details.
      const entry = decodeEntryParsed(lines.line(i), this.opts.details);
      if (!entry) continue;
      const verdict = this.fwd.check(entry);
      if (verdict === 'stop') {
        this.stopped = true;
        break;
      }
      if (verdict === 'skip') continue;
      const formatted = formatLogEntry(entry, this.opts);
      // Details (query-escaped attrs) can be longer than the line they came from.
      const need = off + this.header + formatted.payload.length;
      if (need > out.length) out = this.grow(off, need);
      off = this.place(out, off, formatted);
    }
    return off > 0 ? out.subarray(0, off) : undefined;
  }

  /** The fast path for the line src[start, end) at out[off, …): the offset after it (off itself when skipped), STOP or HAND_OVER. */
  private fast(src: Buffer, start: number, end: number, utf8: boolean, out: Buffer, off: number): number {
    const n = decodeWrittenInto(src, start, end, out, off + this.before, utf8);
    if (n < 0) return HAND_OVER;
    const verdict = this.fwd.checkAt(written.sec, written.nsec, written.stream);
    if (verdict === 'stop') return STOP;
    if (verdict === 'skip') return off;
    if (this.opts.timestamps) {
      const prefix = formatRFC3339NanoFixed(written) + ' ';
      // Not for any time the fast path reads (four-digit years, Z), but the reference path copes.
      if (prefix.length !== TIMESTAMP_PREFIX) return HAND_OVER;
      out.write(prefix, off + this.header, 'latin1');
    }
    const size = this.before - this.header + n;
    if (this.header > 0) writeFrameHeader(out, off, written.stream === 'stdout' ? STDOUT : STDERR, size);
    return off + this.header + size;
  }

  /** A bigger buffer holding at least `need` bytes, with the `used` bytes written so far. */
  private grow(used: number, need: number): Buffer {
    const old = this.buf!;
    const bigger = Buffer.allocUnsafe(Math.max(need, old.length * 2));
    old.copy(bigger, 0, 0, used);
    this.buf = bigger;
    return bigger;
  }

  /** A formatted payload at out[off, …); returns the offset after it. */
  private place(out: Buffer, off: number, f: ReturnType<typeof formatLogEntry>): number {
    if (this.header > 0) writeFrameHeader(out, off, f.stream === 'stdout' ? STDOUT : STDERR, f.payload.length);
    return off + this.header + f.payload.copy(out, off + this.header);
  }
}
