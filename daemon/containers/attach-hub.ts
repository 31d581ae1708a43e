// Who is attached to a container: output fans out from the running task to every attached
// client, and attached stdin is forwarded to the task (buffered until it starts, since
// `docker run -i` attaches before it starts). One hub per container, living across restarts.

export type OutputStream = 'stdout' | 'stderr';

export interface AttachClient {
  /**
   * Output chunk for this client (already filtered by the streams it asked for). A promise means
   * the client holds more than its bound unsent: it resolves once the client can take more.
   */
  onOutput(stream: OutputStream, chunk: Buffer): void | Promise<void>;
  /** The container stopped: no more output will come for this run. */
  onEnd(): void;
}

export interface StdinTarget {
  write(chunk: Buffer): void;
  /** EOF to the process (CloseIO), for StdinOnce. */
  close(): void;
}

/** Where the output comes from: paused while an attached client is too far behind. */
export interface OutputSource {
  pause(): void;
  resume(): void;
}

export class AttachHub {
  private readonly clients = new Set<AttachClient>();
  /** Clients over their bound: the source stays paused until each drained or left. */
  private readonly blocked = new Set<AttachClient>();
  private source?: OutputSource;
  private sourcePaused = false;
  private stdin?: StdinTarget;
  private pending: Buffer[] = [];
  private pendingClose = false;

  add(client: AttachClient): () => void {
    this.clients.add(client);
    return () => {
      this.clients.delete(client);
      this.unblock(client);
    };
  }

  get size(): number {
    return this.clients.size;
  }

  /** Whether the source is paused for a client that does not read. */
  get paused(): boolean {
    return this.sourcePaused;
  }

  /**
   * The running task's output. As dockerd, whose attach copier blocks the container's stdout
   * while a client does not read, a client over its bound pauses the source (and with it the
   * log copier of this container only) until it reads again or leaves; nothing is dropped and
   * nothing is buffered without bound.
   */
  connectSource(source: OutputSource): void {
    this.source = source;
    if (this.blocked.size > 0) this.pauseSource();
  }

  /** The task exited: what is left in its pipes flows (bounded by the pipe), no more pausing. */
  releaseSource(): void {
    const src = this.source;
    this.source = undefined;
    if (this.sourcePaused) {
      this.sourcePaused = false;
      src?.resume();
    }
  }

  output(stream: OutputStream, chunk: Buffer): void {
    for (const c of this.clients) {
      const full = c.onOutput(stream, chunk);
      if (full === undefined || this.blocked.has(c)) continue;
      this.blocked.add(c);
      full.then(
        () => this.unblock(c),
        () => this.unblock(c),
      );
    }
    if (this.blocked.size > 0) this.pauseSource();
  }

  /** The run ended; every client is told and forgotten. */
  end(): void {
    this.stdin = undefined;
    this.releaseSource();
    this.blocked.clear();
    const clients = [...this.clients];
    this.clients.clear();
    for (const c of clients) c.onEnd();
  }

  private pauseSource(): void {
    if (this.sourcePaused || !this.source) return;
    this.sourcePaused = true;
    this.source.pause();
  }

  private unblock(c: AttachClient): void {
    if (!this.blocked.delete(c) || this.blocked.size > 0 || !this.sourcePaused) return;
    this.sourcePaused = false;
    this.source?.resume();
  }

  /** A task started: stdin written while it was starting goes to it now. */
  connectStdin(target: StdinTarget): void {
    this.stdin = target;
    for (const chunk of this.pending) target.write(chunk);
    this.pending = [];
    if (this.pendingClose) {
      this.pendingClose = false;
      target.close();
    }
  }

  writeStdin(chunk: Buffer): void {
    if (this.stdin) this.stdin.write(chunk);
    else this.pending.push(chunk);
  }

  closeStdin(): void {
    if (this.stdin) this.stdin.close();
    else this.pendingClose = true;
  }
}

/** Scans stdin for the detach sequence (default ctrl-p ctrl-q), across chunk boundaries. */
export class DetachKeys {
  private matched = 0;

  constructor(private readonly keys: Buffer) {}

  /**
   * Returns the bytes to forward and whether the sequence completed. Bytes that may begin the
   * sequence are held back until it is clear they do not, as dockerd's escape proxy does.
   */
  feed(chunk: Buffer): { forward: Buffer; detach: boolean } {
    if (this.keys.length === 0) return { forward: chunk, detach: false };
    const out: number[] = [];
    for (const byte of chunk) {
      if (byte === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) return { forward: Buffer.from(out), detach: true };
        continue;
      }
      if (this.matched > 0) {
        out.push(...this.keys.subarray(0, this.matched));
        this.matched = 0;
        if (byte === this.keys[0]) {
          this.matched = 1;
          continue;
        }
      }
      out.push(byte);
    }
    return { forward: Buffer.from(out), detach: false };
  }
}

/** Parses a detach-keys spec ("ctrl-p,ctrl-q", "a,ctrl-@"), as dockerd's term.ToBytes. */
export function parseDetachKeys(spec: string): Buffer {
  const out: number[] = [];
  for (const raw of spec.split(',')) {
    const key = raw.trim();
    if (key.length === 1) {
      out.push(key.charCodeAt(0));
      continue;
    }
    const m = /^ctrl-(.)$/i.exec(key);
    if (!m) throw new Error(`Unknown character: '${key}'`);
    const c = m[1].toLowerCase();
    if (c >= 'a' && c <= 'z') out.push(c.charCodeAt(0) - 96);
    else if (c === '@') out.push(0);
    else if (c === '[') out.push(27);
    else if (c === '\\') out.push(28);
    else if (c === ']') out.push(29);
    else if (c === '^') out.push(30);
    else if (c === '_') out.push(31);
    else throw new Error(`Unknown character: '${key}'`);
  }
  return Buffer.from(out);
}
