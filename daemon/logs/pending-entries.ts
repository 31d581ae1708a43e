// Encoded log entries waiting for the json-file writer's pump. Entries are encoded straight into
// append-only blocks (up to 256 KiB) and queued as runs of one block, with each entry's size and time
// alongside: no Buffer or object per entry. A chatty container's entries used to be a Buffer and
// an object each, queued across young-generation collections: promoted garbage, and RSS that
// stayed ~90 MB up after a 200 MiB log.
import type { NanoTime } from '../../lib/time';

/**
 * A logger's first block is this large, each next one twice its predecessor up to BLOCK_SIZE: a
 * container that logs a line now and then holds 16 KiB, not 256 (the logger keeps its current
 * block while the container runs). An entry that needs more gets a block of its own size.
 */
export const FIRST_BLOCK_SIZE = 16 * 1024;
export const BLOCK_SIZE = 256 * 1024;

/** Consecutive entries of one block, [start, end); entries before `head` were taken already. */
interface Run {
  block: Buffer;
  start: number;
  end: number;
  sizes: number[];
  /** Each entry's time (for the gzip header of the file it ends up in), as numbers: a string each would outlive young collections. */
  secs: number[];
  nsecs: number[];
  head: number;
}

/** What the pump writes at once: the entries' bytes as views of their blocks. */
export interface TakenEntries {
  views: Buffer[];
  bytes: number;
  count: number;
  /** The time of the last entry taken. */
  last: NanoTime;
}

export class PendingEntries {
  private runs: Run[] = [];
  private block: Buffer | undefined;
  private used = 0;
  private nextBlockSize = FIRST_BLOCK_SIZE;
  /** Bytes of the entries not taken yet. */
  private queuedBytes = 0;

  /** Bytes committed and not taken yet. */
  get bytes(): number {
    return this.queuedBytes;
  }

  get empty(): boolean {
    return this.runs.length === 0;
  }

  /** The block the next entry is to be encoded into, from `offset`, with room for `need` bytes. */
  target(need: number): Buffer {
    if (!this.block || this.block.length - this.used < need) {
      this.block = Buffer.allocUnsafe(Math.max(this.nextBlockSize, need));
      this.nextBlockSize = Math.min(BLOCK_SIZE, this.nextBlockSize * 2);
      this.used = 0;
    }
    return this.block;
  }

  /** Where in target()'s block the next entry starts. */
  get offset(): number {
    return this.used;
  }

  /** Queues the entry encoded into target()'s block at [offset, end). */
  commit(end: number, time: NanoTime): void {
    const block = this.block!;
    const size = end - this.used;
    const last = this.runs[this.runs.length - 1];
    if (last && last.block === block && last.end === this.used) {
      last.end = end;
      last.sizes.push(size);
      last.secs.push(time.sec);
      last.nsecs.push(time.nsec);
    } else {
      this.runs.push({ block, start: this.used, end, sizes: [size], secs: [time.sec], nsecs: [time.nsec], head: 0 });
    }
    this.used = end;
    this.queuedBytes += size;
  }

  /**
   * Takes entries from the front, in order: the first always, each next one while `more(bytes)`
   * (the bytes taken so far) allows. Undefined when nothing is queued.
   */
  take(more: (bytes: number) => boolean): TakenEntries | undefined {
    const views: Buffer[] = [];
    let bytes = 0;
    let count = 0;
    let last: NanoTime | undefined;
    while (this.runs.length > 0) {
      const r = this.runs[0]!;
      let end = r.start;
      let k = r.head;
      while (k < r.sizes.length && (count === 0 || more(bytes))) {
        end += r.sizes[k]!;
        bytes += r.sizes[k]!;
        k++;
        count++;
      }
      if (k > r.head) last = { sec: r.secs[k - 1]!, nsec: r.nsecs[k - 1]! };
      if (end > r.start) views.push(r.block.subarray(r.start, end));
      if (k < r.sizes.length) {
        r.start = end;
        r.head = k;
        break;
      }
      this.runs.shift();
    }
    this.queuedBytes -= bytes;
    return last ? { views, bytes, count, last } : undefined;
  }

  /** Drops every entry not taken yet. */
  clear(): void {
    this.runs = [];
    this.queuedBytes = 0;
  }
}
