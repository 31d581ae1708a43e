// Reading a json-file log back for GET /containers/{id}/logs, as moby's LogFile.ReadLogs:
// rotated files oldest first (gzip ones streamed through gunzip), then the current file up to
// its size when the read began; tail picks the last N entries across files by scanning backwards;
// since/until as moby's forwarder; follow keeps reading the current file as it grows and across
// rotations until the container has stopped and everything is read, or the reader is aborted.
// Memory stays bounded by the longest line, whatever the size of the log.
import * as fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { withFilesShared } from './fsop-lock';
import { readGzipLastTime } from './gzip-file';
import { LineSplitter, READ_BLOCK, type LineBatch, countGzipLines, gzipLines, rangeLines, tailRange } from './line-reader';
import { compareNanoTime } from '../../lib/time';
import { EntryDecoder, FrameDecoder, type BatchDecoder, type FrameOptions } from './batch-decoders';
import { Forwarder } from './forwarder';
import type { LogEntry, LogTime } from './types';

export interface ReadLogsOptions {
  /** The current log file, <id>-json.log; rotated files are path.1, path.2, … (or .N.gz). */
  path: string;
  maxFile: number;
  /** The log-opt; informational: path.N is looked for first, then path.N.gz, as dockerd does. */
  compress: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Entries before this are skipped, until the first one at or after it (moby's forwarder). */
  since?: LogTime;
  /** Reading stops at the first entry after this. */
  until?: LogTime;
  /** Last N entries of the log (counted before the since/stream filters, as dockerd); -1 = all. */
  tail?: number;
  follow: boolean;
  /** Keep each entry's attrs (details=1); without it attrs are not decoded. */
  details?: boolean;
  signal: AbortSignal;
  /**
   * Whether more entries can still come. Following ends once this is false and the file is read
   * to its end, so it must turn false only after the copier is done and the logger closed.
   */
  isRunning(): boolean;
  /** Wake-ups from the writer in this process (JsonFileLogger.subscribe); files are also watched and polled. */
  notify?: (wake: () => void) => () => void;
  /** Called each time following moves on to a freshly rotated current file. */
  onRotate?: () => void;
  /** Poll interval while following, ms (default 250). */
  pollInterval?: number;
}

const DEFAULT_POLL_MS = 250;
const isNotFound = (err: unknown): boolean => (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';

interface CurrentFile {
  fh: FileHandle;
  ino: number;
  /** Read position: where the next read starts. */
  pos: number;
}

interface RotatedFile {
  fh: FileHandle;
  gzip: boolean;
  size: number;
}

/** A part of one file to read: a byte range of a plain file, or lines of a gzip one. */
type Segment =
  { kind: 'plain'; fh: FileHandle; start: number; end: number } | { kind: 'gzip'; fh: FileHandle; skip: number; limit: number };

async function openIfExists(p: string): Promise<FileHandle | undefined> {
  try {
    return await fs.promises.open(p, 'r');
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * The current file, its read position at the end of its last complete line: a write that is
 * still landing is left for following to pick up whole.
 */
async function openCurrent(p: string): Promise<CurrentFile | undefined> {
  const fh = await openIfExists(p);
  if (!fh) return undefined;
  try {
    const st = await fh.stat();
    const { end } = await tailRange(fh, st.size, 1);
    return { fh, ino: st.ino, pos: end };
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}

/** The current file and the rotated ones (oldest first), opened together while no rotation runs. */
async function openLogFiles(p: string, maxFile: number, withRotated: boolean): Promise<{ current?: CurrentFile; rotated: RotatedFile[] }> {
  return withFilesShared(p, async () => {
    const rotated: RotatedFile[] = [];
    let current: CurrentFile | undefined;
    try {
      current = await openCurrent(p);
      for (let i = withRotated ? maxFile - 1 : 0; i >= 1; i--) {
        let fh = await openIfExists(`${p}.${i}`);
        let gzip = false;
        if (!fh) {
          fh = await openIfExists(`${p}.${i}.gz`);
          gzip = true;
        }
        if (fh) rotated.push({ fh, gzip, size: (await fh.stat()).size });
      }
      return { current, rotated };
    } catch (err) {
      await current?.fh.close().catch(() => undefined);
      for (const r of rotated) await r.fh.close().catch(() => undefined);
      throw err;
    }
  });
}

/** What to read of the files for `tail` (moby getTailFiles): newest first until enough lines. */
async function selectSegments(
  current: CurrentFile | undefined,
  rotated: RotatedFile[],
  tail: number,
  since: LogTime | undefined,
  signal: AbortSignal,
): Promise<Segment[]> {
  if (tail === 0) return [];
  // A compressed file whose last entry is older than since has nothing to offer.
  const usable: RotatedFile[] = [];
  for (const r of rotated) {
    if (r.gzip && since) {
      const last = await readGzipLastTime(r.fh);
      if (last && compareNanoTime(last, since) < 0) continue;
    }
    usable.push(r);
  }
  if (tail < 0) {
    const all: Segment[] = usable.map((r) =>
      r.gzip ? { kind: 'gzip', fh: r.fh, skip: 0, limit: -1 } : { kind: 'plain', fh: r.fh, start: 0, end: r.size },
    );
    if (current && current.pos > 0) all.push({ kind: 'plain', fh: current.fh, start: 0, end: current.pos });
    return all;
  }
  const out: Segment[] = [];
  let need = tail;
  const files: Array<{ fh: FileHandle; gzip: boolean; size: number }> = [...usable];
  if (current && current.pos > 0) files.push({ fh: current.fh, gzip: false, size: current.pos });
  for (let i = files.length - 1; i >= 0 && need > 0; i--) {
    if (signal.aborted) break;
    const f = files[i]!;
    try {
      if (f.gzip) {
        const total = await countGzipLines(f.fh, signal);
        const take = Math.min(total, need);
        out.push({ kind: 'gzip', fh: f.fh, skip: total - take, limit: take });
        need -= take;
      } else {
        const r = await tailRange(f.fh, f.size, need);
        out.push({ kind: 'plain', fh: f.fh, start: r.start, end: r.end });
        need -= r.found;
      }
    } catch {
      // moby skips a file it cannot scan for tail
    }
  }
  return out.reverse();
}

function segmentLines(seg: Segment, signal: AbortSignal): AsyncGenerator<LineBatch> {
  return seg.kind === 'plain' ? rangeLines(seg.fh, seg.start, seg.end, signal) : gzipLines(seg.fh, seg.skip, seg.limit, signal);
}

/** Wakes a follower on writer notifications, directory changes (inotify), abort, or a poll timeout. */
class Waker {
  private pending = false;
  private release: (() => void) | undefined;
  private watcher: fs.FSWatcher | undefined;
  private readonly unsubscribe: (() => void) | undefined;
  private readonly onAbort = (): void => this.wake();

  constructor(
    dir: string,
    notify: ReadLogsOptions['notify'],
    private readonly signal: AbortSignal,
  ) {
    try {
      // The directory, not the file: the file is replaced on rotation.
      this.watcher = fs.watch(dir, { persistent: false }, () => this.wake());
      this.watcher.on('error', () => this.stopWatching());
    } catch {
      this.watcher = undefined; // polling alone then
    }
    this.unsubscribe = notify?.(() => this.wake());
    signal.addEventListener('abort', this.onAbort);
  }

  wake(): void {
    this.pending = true;
    this.release?.();
  }

  wait(ms: number): Promise<void> {
    if (this.pending || this.signal.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.release = undefined;
        self.pending = false;
        resolve();
      }
      this.release = done;
    });
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  close(): void {
    this.stopWatching();
    this.unsubscribe?.();
    this.signal.removeEventListener('abort', this.onAbort);
    this.release?.();
  }
}

/** A follower's read buffer: none while idle, then grown as needed (up to READ_BLOCK) and kept. */
class FollowBuffer {
  private buf: Buffer | undefined;
  get(pending: number): Buffer {
    const want = Math.min(READ_BLOCK, Math.max(64 * 1024, pending));
    if (!this.buf || this.buf.length < want) this.buf = Buffer.allocUnsafe(want);
    return this.buf;
  }
}

/** Complete lines appended to the current file since its read position, in batches; a torn last line waits. */
async function* appendedLines(cur: CurrentFile, split: LineSplitter, reads: FollowBuffer, signal: AbortSignal): AsyncGenerator<LineBatch> {
  const size = (await cur.fh.stat()).size;
  if (size < cur.pos) {
    // Truncated behind our back: start over.
    cur.pos = 0;
    split.reset();
  }
  if (size === cur.pos) return; // nothing new: no buffer for an idle follower's wake-up
  const buf = reads.get(size - cur.pos);
  for (;;) {
    if (signal.aborted) return;
    const { bytesRead } = await cur.fh.read(buf, 0, buf.length, cur.pos);
    if (bytesRead === 0) return;
    cur.pos += bytesRead;
    // The lines are ranges of buf, reused by the next read: valid until the generator resumes.
    const lines = split.push(buf.subarray(0, bytesRead));
    if (lines.length > 0) yield lines;
  }
}

/**
 * After a rotation: the files rotated out after `oldIno` (found by its inode among path.1, .2, …;
 * only more than one rotation between two looks leaves any) oldest first, and the new current file.
 */
async function openAfterRotation(p: string, maxFile: number, oldIno: number): Promise<{ missed: RotatedFile[]; next?: CurrentFile }> {
  return withFilesShared(p, async () => {
    let k = 0;
    for (let i = 1; i < maxFile && k === 0; i++) {
      const st = await fs.promises.stat(`${p}.${i}`).catch(() => undefined);
      if (st?.ino === oldIno) k = i;
    }
    const missed: RotatedFile[] = [];
    for (let i = k - 1; i >= 1; i--) {
      let fh = await openIfExists(`${p}.${i}`);
      let gzip = false;
      if (!fh) {
        fh = await openIfExists(`${p}.${i}.gz`);
        gzip = true;
      }
      if (fh) missed.push({ fh, gzip, size: (await fh.stat()).size });
    }
    const next = await openCurrent(p);
    if (next) next.pos = 0;
    return { missed, next };
  });
}

/** Entries of the log as selected by `opts`; see ReadLogsOptions. */
export async function* readLogs(opts: ReadLogsOptions): AsyncGenerator<LogEntry, void, undefined> {
  for await (const batch of readLogBatches(opts)) for (const e of batch) yield e;
}

/**
 * readLogs in batches (the entries of one block read at a time, never empty): a consumer that
 * writes a batch at once saves a promise round trip per entry, which matters on large logs.
 */
export function readLogBatches(opts: ReadLogsOptions): AsyncGenerator<LogEntry[], void, undefined> {
  return readLogDecoded(opts, (fwd) => new EntryDecoder(fwd, opts.details === true));
}

/**
 * The log as the bytes of GET /containers/{id}/logs, one buffer per block read (never empty).
 * The buffer is reused: each is valid until the next is asked for.
 */
export function readLogFramed(opts: ReadLogsOptions, format: FrameOptions): AsyncGenerator<Buffer, void, undefined> {
  return readLogDecoded(opts, (fwd) => new FrameDecoder(fwd, format));
}

/** The log's lines as selected by `opts`, each block's batch made into T by the decoder. */
async function* readLogDecoded<T>(
  opts: ReadLogsOptions,
  decoderFor: (fwd: Forwarder) => BatchDecoder<T>,
): AsyncGenerator<T, void, undefined> {
  const { signal } = opts;
  const tail = opts.tail ?? -1;
  const decoder = decoderFor(new Forwarder(opts.since, opts.until, opts.stdout, opts.stderr));
  if (signal.aborted) return;
  const wholeFile = (f: RotatedFile): Segment =>
    f.gzip ? { kind: 'gzip', fh: f.fh, skip: 0, limit: -1 } : { kind: 'plain', fh: f.fh, start: 0, end: f.size };

  const files = await openLogFiles(opts.path, opts.maxFile, tail !== 0);
  let current = files.current;
  const rotated = files.rotated;
  const closeRotated = async (): Promise<void> => {
    for (const r of rotated.splice(0)) await r.fh.close().catch(() => undefined);
  };
  let waker: Waker | undefined;
  try {
    const segments = await selectSegments(current, rotated, tail, opts.since, signal);
    for (const seg of segments) {
      try {
        for await (const batch of segmentLines(seg, signal)) {
          const out = decoder.decode(batch);
          if (out !== undefined) yield out;
          if (decoder.stopped) return; // past until
        }
      } catch {
        // A damaged file (e.g. truncated gzip): moby logs it and goes on with the next file.
      }
      if (signal.aborted) return;
    }
    await closeRotated();
    if (!opts.follow) return;

    // Follow: from where the snapshot ended, as the writer appends and rotates.
    waker = new Waker(path.dirname(opts.path), opts.notify, signal);
    const poll = opts.pollInterval ?? DEFAULT_POLL_MS;
    const split = new LineSplitter();
    const reads = new FollowBuffer();
    for (;;) {
      if (signal.aborted) return;
      const running = opts.isRunning();
      if (!current) {
        current = await withFilesShared(opts.path, () => openCurrent(opts.path));
        if (current) current.pos = 0;
      }
      if (current) {
        for await (const batch of appendedLines(current, split, reads, signal)) {
          const out = decoder.decode(batch);
          if (out !== undefined) yield out;
          if (decoder.stopped) return; // past until
        }
        const st = await fs.promises.stat(opts.path).catch((err: unknown) => {
          if (isNotFound(err)) return undefined; // mid-rotation, or removed
          throw err;
        });
        if (st && st.ino !== current.ino) {
          // Rotated: the writer closed the old file before renaming it, so it is complete. Read
          // what was completed since the last look, any files rotated out in between, then move on.
          for await (const batch of appendedLines(current, split, reads, signal)) {
            const out = decoder.decode(batch);
            if (out !== undefined) yield out;
            if (decoder.stopped) return; // past until
          }
          split.reset();
          await current.fh.close().catch(() => undefined);
          const after = await openAfterRotation(opts.path, opts.maxFile, current.ino);
          current = after.next;
          rotated.push(...after.missed);
          for (const f of rotated) {
            try {
              for await (const batch of segmentLines(wholeFile(f), signal)) {
                const out = decoder.decode(batch);
                if (out !== undefined) yield out;
                if (decoder.stopped) return; // past until
              }
            } catch {
              // unreadable: go on with the next
            }
          }
          await closeRotated();
          opts.onRotate?.();
          continue;
        }
      }
      if (!running) return;
      await waker.wait(poll);
    }
  } finally {
    waker?.close();
    await closeRotated();
    await current?.fh.close().catch(() => undefined);
  }
}
