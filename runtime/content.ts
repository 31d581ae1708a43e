// Blobs in containerd's content store: streamed writes through Content.Write's bidi protocol
// (exactly one response per request), reads through Content.Read, and label upkeep.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { status, type ClientDuplexStream } from '@grpc/grpc-js';
import { InvalidParameter, SystemError } from '../lib/errors';
import type { Containerd } from './containerd';
import {
  WriteAction,
  WriteContentRequest,
  WriteContentResponse,
  type Info,
  type ReadContentResponse,
} from './gen/github.com/containerd/containerd/api/services/content/v1/content';
import { fromGrpcError, isGrpcCode, isNotFound } from './grpc-errors';

/** Largest data message; keeps every request far below the 16 MiB gRPC limit. */
const CHUNK_BYTES = 1024 * 1024;
/** Unanswered WRITE messages allowed in flight: hides the per-message round trip without buffering much. */
const WRITE_WINDOW = 8;
/** How long to wait for another writer of the same digest (its ref lock) before giving up. */
const LOCK_WAIT_MS = 30 * 60 * 1000;
const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$/;

export type BlobSource = { path: string } | { data: Buffer };

export interface WriteBlobOptions {
  lease: string;
  /** Known digest (sha256:…): enables dedup on the first message and a per-digest ingest ref. */
  expected?: string;
  size?: number;
  labels?: Record<string, string>;
}

export interface BlobInfo {
  digest: string;
  size: number;
  labels: Record<string, string>;
  createdAt?: Date;
  updatedAt?: Date;
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

const WRITE_METHOD = '/containerd.services.content.v1.Content/Write';

/** Requests are messages to encode, or WRITE messages already encoded by encodeWrite. */
type WriteMessage = WriteContentRequest | Buffer;

const serializeWrite = (m: WriteMessage): Buffer => (Buffer.isBuffer(m) ? m : Buffer.from(WriteContentRequest.encode(m).finish()));

/** Room reserved in front of the data for a WRITE message's other fields (see encodeWrite). */
const WRITE_HEADER_ROOM = 128;

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

/**
 * A WRITE message (action = WRITE, ref, offset, data) around data already placed at
 * `buf[WRITE_HEADER_ROOM ..]`: the fields are written just in front of it, so the data is copied
 * once, into `buf`, instead of a copy per protobuf encoding step. `ref` must be short ASCII.
 */
function encodeWrite(buf: Buffer, dataLength: number, ref: string, offset: number): Buffer {
  const head = [
    0x08,
    WriteAction.WRITE, // 1: action
    0x12,
    ...varint(ref.length),
    ...Buffer.from(ref, 'ascii'), // 2: ref
    0x28,
    ...varint(offset), // 5: offset
    0x32,
    ...varint(dataLength), // 6: data
  ];
  if (head.length > WRITE_HEADER_ROOM) throw new SystemError('content ref too long for a pre-encoded write');
  const start = WRITE_HEADER_ROOM - head.length;
  buf.set(head, start);
  return buf.subarray(start, WRITE_HEADER_ROOM + dataLength);
}

/** Pairs each request with its response; Content.Write answers every message exactly once, in order. */
class WriteSession {
  private readonly stream: ClientDuplexStream<WriteMessage, WriteContentResponse>;
  private sent = 0;
  private received = 0;
  private last: WriteContentResponse = {};
  private failure: Error | undefined;
  private ended = false;
  private wake: (() => void) | undefined;

  constructor(ctd: Containerd, lease: string) {
    // The generated method's serializer, except that pre-encoded messages pass through.
    this.stream = ctd.clients.content.makeBidiStreamRequest(
      WRITE_METHOD,
      serializeWrite,
      (b: Buffer) => WriteContentResponse.decode(b),
      ctd.metadata({ lease }),
      ctd.callOptions(),
    );
    this.stream.on('data', (res: WriteContentResponse) => {
      this.received++;
      this.last = res;
      this.notify();
    });
    this.stream.on('error', (err: unknown) => {
      this.failure ??= fromGrpcError(err);
      this.notify();
    });
    this.stream.on('end', () => {
      this.ended = true;
      this.notify();
    });
  }

  send(req: WriteMessage): void {
    if (this.failure) throw this.failure;
    this.stream.write(req);
    this.sent++;
  }

  /** Waits until at most `inFlight` requests are unanswered; returns the latest response. */
  async settle(inFlight = 0): Promise<WriteContentResponse> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.sent - this.received <= inFlight) return this.last;
      if (this.ended) throw new SystemError('containerd closed the content write stream early');
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Ends cleanly after a commit; cancelling otherwise releases the ref lock at once. */
  close(ok: boolean): void {
    if (ok) this.stream.end();
    else this.stream.cancel();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

async function* chunksOf(source: BlobSource, from: number): AsyncGenerator<Buffer> {
  if ('data' in source) {
    for (let i = from; i < source.data.length; i += CHUNK_BYTES) yield source.data.subarray(i, i + CHUNK_BYTES);
    return;
  }
  // highWaterMark is the read size for file streams, so no chunk exceeds CHUNK_BYTES.
  for await (const chunk of createReadStream(source.path, { start: from, highWaterMark: CHUNK_BYTES })) {
    yield chunk as Buffer;
  }
}

interface WriteAttempt {
  ref: string;
  source: BlobSource;
  total: number;
  expected: string | undefined;
  labels: Record<string, string> | undefined;
  lease: string;
  allowResume: boolean;
  /** Set by writeOnce when it continued a partial ingest. */
  resumed: boolean;
}
interface WriteOutcome {
  digest: string;
  size: number;
  existed: boolean;
}

async function writeOnce(ctd: Containerd, a: WriteAttempt): Promise<WriteOutcome> {
  const session = new WriteSession(ctd, a.lease);
  let ok = false;
  try {
    session.send({ action: WriteAction.STAT, ref: a.ref, total: a.total, expected: a.expected });
    let stat: WriteContentResponse;
    try {
      stat = await session.settle();
    } catch (err) {
      // With an expected digest the server refuses the first message when the blob exists
      // (and has already added it to our lease).
      if (a.expected && isGrpcCode(err, status.ALREADY_EXISTS)) {
        return { digest: a.expected, size: a.total, existed: true };
      }
      throw err;
    }
    // Resume a partial ingest of the same digest; otherwise offset 0 on the first WRITE truncates it.
    const prior = stat.offset ?? 0;
    const start = a.allowResume && a.expected && prior > 0 && prior <= a.total ? prior : 0;
    a.resumed = start > 0;
    const hash = a.expected ? undefined : createHash('sha256');
    let pos = start;
    for await (const chunk of chunksOf(a.source, start)) {
      hash?.update(chunk);
      session.send({ action: WriteAction.WRITE, ref: a.ref, offset: pos, data: chunk });
      pos += chunk.length;
      await session.settle(WRITE_WINDOW);
    }
    if (pos !== a.total) {
      throw new InvalidParameter(`blob is ${pos} bytes, expected ${a.total}`);
    }
    const digest = a.expected ?? `sha256:${hash?.digest('hex') ?? ''}`;
    session.send({
      action: WriteAction.COMMIT,
      ref: a.ref,
      offset: pos,
      total: a.total,
      expected: digest,
      labels: a.labels,
    });
    let committed: WriteContentResponse;
    try {
      committed = await session.settle();
    } catch (err) {
      // Digest learnt only now: the blob already existed.
      if (isGrpcCode(err, status.ALREADY_EXISTS)) return { digest, size: pos, existed: true };
      throw err;
    }
    if (committed.digest && committed.digest !== digest) {
      throw new SystemError(`containerd committed ${committed.digest}, expected ${digest}`);
    }
    ok = true;
    return { digest, size: pos, existed: false };
  } finally {
    session.close(ok);
  }
}

/**
 * A deduplicated write never reached containerd's digest check, so at least compare sizes, and
 * apply the labels the server skipped.
 */
async function checkExisting(ctd: Containerd, out: WriteOutcome, labels: Record<string, string> | undefined): Promise<void> {
  const stored = labels ? await setBlobLabels(ctd, out.digest, labels) : await blobInfo(ctd, out.digest);
  if (stored && stored.size !== out.size) {
    throw new InvalidParameter(`blob ${out.digest} is ${stored.size} bytes, not ${out.size}`);
  }
}

function isRefLocked(err: unknown): boolean {
  return isGrpcCode(err, status.UNAVAILABLE) && err instanceof Error && err.message.includes('locked');
}

/**
 * Streams a blob into the content store under `lease`. An existing blob counts as written; its
 * labels are then applied with Content.Update, because the server skips them in that case.
 */
export async function writeBlob(ctd: Containerd, source: BlobSource, opts: WriteBlobOptions): Promise<{ digest: string; size: number }> {
  let expected = opts.expected;
  if (expected !== undefined && !DIGEST_RE.test(expected)) throw new InvalidParameter(`invalid digest "${expected}"`);
  let total: number;
  if ('data' in source) {
    total = source.data.length;
    if (opts.size !== undefined && opts.size !== total) {
      throw new InvalidParameter(`blob is ${total} bytes, expected ${opts.size}`);
    }
    // Hashing a buffer is cheap: it buys dedup and a stable ref, and catches a wrong expected
    // digest that dedup would otherwise accept unseen.
    const actual = sha256Digest(source.data);
    if (expected !== undefined && expected.startsWith('sha256:') && expected !== actual) {
      throw new InvalidParameter(`blob digest is ${actual}, expected ${expected}`);
    }
    expected ??= actual;
  } else {
    total = opts.size ?? (await fsp.stat(source.path)).size;
  }
  // One ref per digest: the ref is a lock, so concurrent writers of one blob serialise on it.
  const ref = expected ? `berth-${expected}` : `berth-upload-${randomBytes(8).toString('hex')}`;
  const labels = opts.labels && Object.keys(opts.labels).length > 0 ? opts.labels : undefined;
  const attempt: WriteAttempt = {
    ref,
    source,
    total,
    expected,
    labels,
    lease: opts.lease,
    allowResume: true,
    resumed: false,
  };
  const lockDeadline = Date.now() + LOCK_WAIT_MS;
  let backoff = 20;
  for (;;) {
    try {
      const out = await writeOnce(ctd, attempt);
      if (out.existed) await checkExisting(ctd, out, labels);
      return { digest: out.digest, size: out.size };
    } catch (err) {
      if (isRefLocked(err) && Date.now() < lockDeadline) {
        // Another writer holds this digest's ref; once it commits we will see ALREADY_EXISTS.
        ctd.logger.debug({ ref, backoff }, 'content ref locked by another writer; waiting');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 2_000);
        continue;
      }
      if (attempt.resumed && attempt.allowResume) {
        // A stale partial ingest may hold wrong bytes: drop it and write from scratch once.
        attempt.allowResume = false;
        ctd.logger.debug({ ref, err }, 'resumed content write failed; rewriting from scratch');
        await ctd.content.abort({ ref }, { lease: opts.lease }).catch(() => undefined);
        continue;
      }
      throw fromGrpcError(err);
    }
  }
}

/** A blob streamed into the content store as it arrives, for sources that cannot be read twice. */
export interface BlobWriter {
  /** The expected digest was already stored: writes are discarded and commit only checks the digest. */
  readonly existed: boolean;
  /**
   * Bytes the ingest already holds (a named ref left by an earlier writer, e.g. before a crash):
   * writes continue from there. 0 for a fresh ingest.
   */
  readonly offset: number;
  /** Appends bytes; resolves once the write window has room again. */
  write(chunk: Buffer): Promise<void>;
  /** Commits everything written as `digest` (containerd verifies it); ends the writer. */
  commit(digest: string): Promise<void>;
  /** Drops the partial ingest; safe to call at any time, also after commit. */
  abort(): Promise<void>;
}

/**
 * Opens a streamed write under `lease`. With `expected`, an already stored blob is detected on
 * the first message (and added to the lease) and nothing is sent. Each writer has its own ref,
 * so concurrent writers of one digest never wait on each other: the later commit finds the blob
 * stored and succeeds. With a named `ref` (one writer at a time), what an earlier writer of that
 * ref left in the ingest is kept and `offset` says how much (containerd's Status of the ingest).
 */
export function openBlobWriter(ctd: Containerd, opts: BlobWriterOptions): Promise<BlobWriter> {
  return openWriter(ctd, opts, false);
}

export interface BlobWriterOptions {
  lease: string;
  size?: number;
  expected?: string;
  ref?: string;
}

async function openWriter(ctd: Containerd, opts: BlobWriterOptions, restarted: boolean): Promise<BlobWriter> {
  if (opts.expected !== undefined && !DIGEST_RE.test(opts.expected)) throw new InvalidParameter(`invalid digest "${opts.expected}"`);
  const ref = opts.ref ?? `berth-stream-${randomBytes(8).toString('hex')}`;
  // The ref goes in front of every pre-encoded write (WRITE_HEADER_ROOM).
  if (ref.length > 100 || !/^[\x21-\x7e]+$/.test(ref)) throw new InvalidParameter(`invalid content ref "${ref}"`);
  const session = new WriteSession(ctd, opts.lease);
  let existed = false;
  let start = 0;
  session.send({ action: WriteAction.STAT, ref, total: opts.size ?? 0, expected: opts.expected });
  try {
    const stat = await session.settle();
    start = Number(stat.offset ?? 0);
    if (!Number.isSafeInteger(start) || start < 0 || (opts.size !== undefined && start > opts.size)) start = -1;
  } catch (err) {
    session.close(false);
    if (opts.expected && isGrpcCode(err, status.ALREADY_EXISTS)) existed = true;
    else throw fromGrpcError(err);
  }
  // A fresh ref holds nothing of ours, yet containerd reports an offset when another namespace
  // stores the blob: its writer then stands for that blob whole (its Status gives the blob's
  // size, and a commit without writes takes the blob into our namespace). The caller writes from
  // byte 0 all the same: those bytes are counted and checked (the size when given, the digest at
  // commit), not sent.
  const shared = opts.ref === undefined && start > 0 && opts.expected !== undefined && (opts.size === undefined || start === opts.size);
  if (opts.ref === undefined && start > 0 && !shared) start = -1;
  if (start < 0) {
    // An ingest longer than the blob (or unreadable): start it over, once.
    session.close(false);
    if (restarted) throw new SystemError(`content ingest ${ref} cannot be restarted`);
    await ctd.content.abort({ ref }, { lease: opts.lease }).catch(() => undefined);
    // A named ref is kept (its writers serialise on it); an unnamed one gets a fresh ref, since
    // its caller writes from byte 0 and cannot resume.
    return openWriter(ctd, opts, true);
  }
  // Incoming chunks are gathered into a buffer that becomes the next WRITE message as it is.
  // grpc-js may still read a message after send returns, but not once containerd has answered
  // it: flush keeps at most WRITE_WINDOW unanswered, so a ring of WRITE_WINDOW + 1 buffers is
  // reused safely. No per-message garbage: memory per writer stays flat whatever the blob size.
  const ring: Buffer[] = [];
  let next = 0;
  const take = (): Buffer => {
    const i = next;
    next = (next + 1) % (WRITE_WINDOW + 1);
    ring[i] ??= Buffer.allocUnsafe(WRITE_HEADER_ROOM + CHUNK_BYTES);
    return ring[i];
  };
  let buf: Buffer | undefined;
  let pendingBytes = 0;
  let offset = start;
  let done = false;
  let committed = false;

  const flush = async (window: number): Promise<void> => {
    if (buf !== undefined && pendingBytes > 0) {
      session.send(encodeWrite(buf, pendingBytes, ref, offset));
      offset += pendingBytes;
      buf = undefined;
      pendingBytes = 0;
    }
    await session.settle(window);
  };

  // Bytes the caller wrote that containerd already has (existed, shared).
  let counted = 0;
  return {
    existed,
    offset: shared ? 0 : start,
    async write(chunk: Buffer): Promise<void> {
      if (done) throw new SystemError('write after the blob writer ended');
      if (existed || shared) {
        counted += chunk.length;
        return;
      }
      // Messages of about CHUNK_BYTES: containerd answers each one, so small ones cost round trips.
      for (let i = 0; i < chunk.length;) {
        buf ??= take();
        const n = chunk.copy(buf, WRITE_HEADER_ROOM + pendingBytes, i, Math.min(chunk.length, i + CHUNK_BYTES - pendingBytes));
        pendingBytes += n;
        i += n;
        if (pendingBytes >= CHUNK_BYTES) await flush(WRITE_WINDOW);
      }
    },
    async commit(digest: string): Promise<void> {
      if (done) throw new SystemError('blob writer already ended');
      done = true;
      const written = existed || shared ? counted : offset + pendingBytes;
      if (opts.size !== undefined && written !== opts.size) {
        session.close(false);
        throw new InvalidParameter(`blob is ${written} bytes, expected ${opts.size}`);
      }
      if (shared && digest !== opts.expected) {
        session.close(false);
        throw new InvalidParameter(`blob digest is ${digest}, expected ${opts.expected ?? ''}`);
      }
      if (existed) {
        if (digest !== opts.expected) throw new InvalidParameter(`blob digest is ${digest}, expected ${opts.expected ?? ''}`);
        committed = true;
        return;
      }
      let ok = false;
      try {
        await flush(0);
        session.send({ action: WriteAction.COMMIT, ref, offset, total: offset, expected: digest });
        try {
          const res = await session.settle();
          if (res.digest && res.digest !== digest) {
            throw new SystemError(`containerd committed ${res.digest}, expected ${digest}`);
          }
        } catch (err) {
          // Stored meanwhile by another writer: the content is the same.
          if (!isGrpcCode(err, status.ALREADY_EXISTS)) throw err;
        }
        ok = true;
        committed = true;
      } catch (err) {
        throw fromGrpcError(err);
      } finally {
        session.close(ok);
      }
    },
    async abort(): Promise<void> {
      done = true;
      if (existed || committed) return;
      session.close(false);
      await ctd.content.abort({ ref }, { lease: opts.lease }).catch(() => undefined);
    },
  };
}

async function* readChunks(ctd: Containerd, digest: string, opts: { offset?: number; size?: number }): AsyncGenerator<Buffer> {
  const call = ctd.serverStream(ctd.clients.content, 'read', { digest, offset: opts.offset, size: opts.size });
  // An early stop cancels the call, which then emits CANCELLED after the iterator has detached.
  call.on('error', () => undefined);
  try {
    for await (const raw of call) {
      const data = (raw as ReadContentResponse).data;
      if (data && data.length > 0) yield data;
    }
  } catch (err) {
    throw fromGrpcError(err);
  } finally {
    call.cancel();
  }
}

/** Streams a blob (or the byte range offset..offset+size; size 0/undefined reads to the end). */
export function readBlob(ctd: Containerd, digest: string, opts: { offset?: number; size?: number } = {}): Readable {
  return Readable.from(readChunks(ctd, digest, opts), { objectMode: false });
}

export async function readBlobBuffer(ctd: Containerd, digest: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of readChunks(ctd, digest, {})) parts.push(chunk);
  return Buffer.concat(parts);
}

export async function blobInfo(ctd: Containerd, digest: string): Promise<BlobInfo | undefined> {
  try {
    const { info } = await ctd.content.info({ digest });
    return toBlobInfo(info, digest);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

function toBlobInfo(info: Info | undefined, digest: string): BlobInfo {
  return {
    digest: info?.digest ?? digest,
    size: info?.size ?? 0,
    labels: info?.labels ?? {},
    createdAt: info?.createdAt,
    updatedAt: info?.updatedAt,
  };
}

/** Sets the given labels and leaves others alone; a null value removes that label. Returns the updated info. */
export async function setBlobLabels(
  ctd: Containerd,
  digest: string,
  labels: Readonly<Record<string, string | null>>,
): Promise<BlobInfo | undefined> {
  const keys = Object.keys(labels);
  if (keys.length === 0) return blobInfo(ctd, digest);
  const set: Record<string, string> = {};
  for (const k of keys) {
    const v = labels[k];
    if (v !== null && v !== undefined) set[k] = v;
  }
  // A masked key absent from info.labels is deleted by containerd.
  const res = await ctd.content.update({ info: { digest, labels: set }, updateMask: keys.map((k) => `labels.${k}`) });
  return toBlobInfo(res.info, digest);
}
