// The json-file log driver's writer: one JSON object per line in <id>-json.log, byte for byte as
// dockerd writes it (moby daemon/logger/jsonfilelog and loggerutils/logfile.go), with rotation
// by size into .1, .2, … and optional gzip of rotated files.
//
// log() encodes synchronously and queues; a single background pump appends queued entries in
// order with writev on an O_APPEND fd, so the event loop never waits on the disk.
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { withFilesExclusive } from './fsop-lock';
import { compressRotatedFile } from './gzip-file';
import { ByteWriter, marshalStringMap, writeJsonString } from './json-encode';
import { PendingEntries } from './pending-entries';
import { formatRFC3339Nano, writeRFC3339Nano } from '../../lib/time';
import type { LogMessage, LogSink } from './types';

const writev = promisify(fs.writev);
const closeFd = promisify(fs.close);
const openFd = promisify(fs.open);
const fstat = promisify(fs.fstat);

/** File mode of log files, as dockerd (before umask). */
export const LOG_FILE_MODE = 0o640;
/** Largest single writev; bounds how long one write keeps the pump busy. */
const MAX_BATCH_BYTES = 1 << 20;

export interface JsonFileLoggerOptions {
  /** <data-root>/containers/<id>/<id>-json.log; its directory must exist. */
  path: string;
  /** Rotate once the file has reached this many bytes (log-opt max-size); unset = never. */
  maxSize?: number;
  /** Files kept including the current one (log-opt max-file); default 1. */
  maxFile?: number;
  /** Gzip rotated files (log-opt compress); needs maxFile >= 2 and maxSize. */
  compress?: boolean;
  /** Written as "attrs" on every entry (labels/env/tag log-opts). */
  extraAttrs?: Record<string, string>;
  /** Write, rotation and compression failures; the entry concerned is dropped, as dockerd does. */
  onError?: (err: Error) => void;
  /**
   * How long close() keeps writing the backlog before it drops the rest (default 2 s): a container's
   * stop and removal wait for close(), and a tiny max-size can make the backlog take minutes.
   */
  closeGraceMs?: number;
}

/**
 * An entry's bytes beyond its log string's worst case (6 per byte: \u00XX, \ufffd): the keys, the
 * stream, the time, the punctuation and the newline, with room to spare. Attrs come on top.
 */
const ENTRY_OVERHEAD = 128;
/** The longest RFC 3339 time with nanoseconds: 2006-01-02T15:04:05.999999999Z, 30 bytes. */
const TIME_ROOM = 30;

const toError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
const isNotFound = (err: unknown): boolean => (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';

export class JsonFileLogger implements LogSink {
  readonly path: string;
  readonly maxSize: number;
  readonly maxFile: number;
  readonly compress: boolean;
  private readonly attrs: Buffer | undefined;
  private readonly onError: (err: Error) => void;
  private readonly encoder = new ByteWriter(16 * 1024);
  /** Encodes log() entries into the pending blocks (its buffer is pointed at one per entry). */
  private readonly blockWriter = new ByteWriter(0);

  private fd: number;
  private size: number;
  private lastTime = '0001-01-01T00:00:00Z'; // Go's zero time, until an entry is written
  private readonly pending = new PendingEntries();
  /** Bytes accepted and not yet written: the pending entries and the batch being written. */
  private queuedBytes = 0;
  private pumping: Promise<void> | undefined;
  private compressing: Promise<void> = Promise.resolve();
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly closeGraceMs: number;
  /**
   * Highest N for which <path>.N (or .N.gz) may exist. Rotation shifts only 1..highest instead of
   * 1..max-file-1, so max-file=100000 costs as many renames as there are files, not 100,000.
   */
  private highest: number;
  private readonly listeners = new Set<() => void>();

  constructor(opts: JsonFileLoggerOptions) {
    this.path = opts.path;
    this.maxSize = opts.maxSize !== undefined && opts.maxSize > 0 ? opts.maxSize : -1;
    this.maxFile = Math.max(1, opts.maxFile ?? 1);
    this.compress = opts.compress === true && this.maxFile > 1 && this.maxSize > 0;
    const attrs = opts.extraAttrs ?? {};
    this.attrs = Object.keys(attrs).length > 0 ? marshalStringMap(attrs) : undefined;
    this.onError = opts.onError ?? (() => undefined);
    this.closeGraceMs = opts.closeGraceMs ?? 2000;
    this.highest = Math.min(highestRotatedIndex(this.path), this.maxFile - 1);
    // One synchronous open at container start; everything after is asynchronous.
    this.fd = fs.openSync(this.path, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, LOG_FILE_MODE);
    this.size = fs.fstatSync(this.fd).size;
  }

  /** The bytes dockerd writes for `msg`: one JSON object and a newline. */
  encode(msg: LogMessage): Buffer {
    this.encoder.reset();
    this.encodeInto(this.encoder, msg);
    return this.encoder.take();
  }

  private encodeInto(w: ByteWriter, msg: LogMessage): void {
    w.byte(0x7b); // {
    const hasLog = msg.line.length > 0 || !msg.partial;
    if (hasLog) {
      w.ascii('"log":');
      if (msg.partial) writeJsonString(w, msg.line);
      else {
        // The newline is part of the logged text: encode line + '\n' without copying the line.
        writeJsonString(w, msg.line);
        w.len--; // drop closing quote
        w.ascii('\\n"');
      }
      w.byte(0x2c);
    }
    w.ascii(msg.stream === 'stderr' ? '"stream":"stderr"' : '"stream":"stdout"');
    if (this.attrs) {
      w.ascii(',"attrs":');
      w.bytes(this.attrs);
    }
    w.ascii(',"time":"');
    w.ensure(TIME_ROOM);
    w.len = writeRFC3339Nano(msg.time, w.buf, w.len);
    w.ascii('"}\n');
  }

  log(msg: LogMessage): void {
    if (this.closed) return;
    const t = msg.time;
    const w = this.blockWriter;
    const block = this.pending.target(msg.line.length * 6 + (this.attrs?.length ?? 0) + ENTRY_OVERHEAD);
    const start = this.pending.offset;
    w.buf = block;
    w.len = start;
    this.encodeInto(w, msg);
    // The room asked for covers the worst case, so the writer never had to move to a buffer of its own.
    if (w.buf !== block) throw new Error('log entry outgrew the room reserved for it');
    this.pending.commit(w.len, t);
    this.queuedBytes += w.len - start;
    this.kick();
  }

  private kick(): void {
    if (this.pumping) return;
    this.pumping = this.pump()
      .catch((err: unknown) => this.onError(toError(err)))
      .finally(() => {
        this.pumping = undefined;
        // An entry queued after the pump's last look but before this ran would otherwise wait.
        if (!this.pending.empty) this.kick();
      });
  }

  /** Drops everything queued; the pump stops after the operation under way. */
  private abandon(): void {
    // The batch being written stays counted until the pump takes it off.
    this.queuedBytes -= this.pending.bytes;
    this.pending.clear();
  }

  backlog(): number {
    return this.queuedBytes;
  }

  /** Resolves once every entry logged so far is in the file. */
  async flush(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  /** Called after entries reach the file, after each rotation, and on close (log followers use it). */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Writes what is queued (for at most closeGraceMs, then the rest is dropped), closes the file,
   * waits for a running compression. Later log() calls are dropped.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.closeGraceMs);
      });
      await Promise.race([this.flush(), grace]);
      clearTimeout(timer);
      if (this.pumping) {
        this.onError(new Error(`log backlog of ${this.queuedBytes} bytes dropped at close`));
        this.abandon();
        await this.flush(); // at most the write or rotation under way
      }
      if (this.fd >= 0) await closeFd(this.fd).catch((err: unknown) => this.onError(toError(err)));
      this.fd = -1;
      await this.compressing;
      this.notify();
    })();
    return this.closing;
  }

  private notify(): void {
    for (const l of this.listeners) {
      try {
        l();
      } catch {
        // a listener's failure is its own business
      }
    }
  }

  private async pump(): Promise<void> {
    while (!this.pending.empty) {
      if (this.maxSize > 0 && this.size >= this.maxSize) {
        try {
          await this.rotate();
        } catch (err) {
          this.onError(new Error(`error rotating log file: ${toError(err).message}`));
        }
      }
      // Entries go into this file while it is below max-size before each one, as dockerd checks.
      const batch = this.pending.take((bytes) => (this.maxSize < 0 || this.size + bytes < this.maxSize) && bytes < MAX_BATCH_BYTES);
      if (!batch) break; // abandoned during the rotation
      const { bytes } = batch;
      try {
        if (this.fd < 0) await this.reopen();
        await this.writeAll(batch.views);
        this.size += bytes;
        this.lastTime = formatRFC3339Nano(batch.last);
      } catch (err) {
        this.onError(new Error(`error writing log entry: ${toError(err).message}`));
        // Part of the batch may have reached the file: take its size from the file itself.
        if (this.fd >= 0)
          this.size = await fstat(this.fd).then(
            (st) => st.size,
            () => this.size,
          );
      }
      this.queuedBytes -= bytes;
      this.notify();
    }
  }

  /** After a failed rotation: append to whatever file is at the path now. */
  private async reopen(): Promise<void> {
    this.fd = await openFd(this.path, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, LOG_FILE_MODE);
    this.size = (await fstat(this.fd)).size;
  }

  private async writeAll(buffers: Buffer[]): Promise<void> {
    let bufs = buffers;
    while (bufs.length > 0) {
      let written = await writev(this.fd, bufs).then((r) => r.bytesWritten);
      if (written === 0) throw new Error('short write');
      const rest: Buffer[] = [];
      for (const b of bufs) {
        if (written >= b.length) written -= b.length;
        else {
          rest.push(written > 0 ? b.subarray(written) : b);
          written = 0;
        }
      }
      bufs = rest;
    }
  }

  /** moby LogFile.rotate: shift the old files, start an empty current file, gzip the newest old one. */
  private async rotate(): Promise<void> {
    // The previous compression must finish before its file is shifted again.
    await this.compressing;
    const name = this.path;
    // -1 until reopened: a stale number could meanwhile belong to another file of this process.
    const old = this.fd;
    this.fd = -1;
    await closeFd(old).catch(() => undefined);
    const lastTime = this.lastTime;
    const { fd, renamed } = await withFilesExclusive(name, async () => {
      let moved = false;
      try {
        this.highest = await shiftRotatedFiles(name, this.maxFile, this.compress, this.highest);
        if (this.maxFile < 2) await fs.promises.unlink(name).catch(ignoreNotFound);
        else {
          await fs.promises.rename(name, `${name}.1`).catch(ignoreNotFound);
          moved = true;
          this.highest = Math.max(this.highest, 1);
        }
      } catch (err) {
        this.onError(new Error(`error rotating log file, log data may have been lost: ${toError(err).message}`));
      }
      // Truncate anyway, in case the rotation did not work out.
      const flags = fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_TRUNC;
      return { fd: await openFd(name, flags, LOG_FILE_MODE), renamed: moved };
    });
    this.fd = fd;
    this.size = 0;
    if (this.compress && renamed) {
      this.compressing = compressRotatedFile(`${name}.1`, lastTime).catch((err: unknown) =>
        this.onError(new Error(`error compressing log file after rotation: ${toError(err).message}`)),
      );
    }
    this.notify();
  }
}

function ignoreNotFound(err: unknown): void {
  if (!isNotFound(err)) throw err;
}

/**
 * moby's rotate(): drop the oldest file and move .i-1 to .i (the .gz names when compressing),
 * but only over the indices that can exist (1..highest). Returns the new highest index.
 */
export async function shiftRotatedFiles(name: string, maxFile: number, compress: boolean, highest: number): Promise<number> {
  if (maxFile < 2) return 0;
  const ext = compress ? '.gz' : '';
  let top = Math.min(highest, maxFile - 1);
  if (top === maxFile - 1) {
    await fs.promises.unlink(`${name}.${top}${ext}`).catch(ignoreNotFound);
    top--;
  }
  for (let i = top + 1; i > 1; i--) {
    await fs.promises.rename(`${name}.${i - 1}${ext}`, `${name}.${i}${ext}`).catch(ignoreNotFound);
  }
  return top + 1 > 1 ? top + 1 : 0;
}

/** The highest N with <path>.N (or .N.gz) in the log's directory: one readdir, not max-file stats. */
export function highestRotatedIndex(path: string): number {
  const slash = path.lastIndexOf('/');
  const dir = slash >= 0 ? path.slice(0, slash) || '/' : '.';
  const base = path.slice(slash + 1);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return 0;
  }
  let highest = 0;
  const prefix = `${base}.`;
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    let rest = n.slice(prefix.length);
    if (rest.endsWith('.gz')) rest = rest.slice(0, -3);
    if (!/^[1-9]\d{0,8}$/.test(rest)) continue;
    highest = Math.max(highest, Number(rest));
  }
  // Plain and .gz names both count: shifting a name that is absent is a no-op.
  return highest;
}
