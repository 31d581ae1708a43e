// Streamed response bodies: dockerd's JSON message stream (pull, push, load, import, build,
// create progress) and the 8-byte-header multiplexed stdout/stderr framing (logs, attach, exec
// without a TTY).

import { PassThrough } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { clientMessage } from './errors';
import { SYSTEMERR, type StreamType } from '../lib/stdcopy';

// ---------------------------------------------------------------- JSON message stream

export interface JsonProgressDetail {
  current?: number;
  total?: number;
  start?: number;
  hidecounts?: boolean;
  units?: string;
}

export interface JsonErrorDetail {
  code?: number;
  message: string;
}

/** One line of the stream, with jsonmessage's field names. Empty fields are left out. */
export interface JsonMessage {
  stream?: string;
  status?: string;
  progressDetail?: JsonProgressDetail;
  /** The preformatted progress bar text (older clients print it). */
  progress?: string;
  id?: string;
  error?: string;
  errorDetail?: JsonErrorDetail;
  aux?: unknown;
}

/** dockerd ends every stream message with CRLF. */
const NEWLINE = '\r\n';

/** Encodes one message in jsonmessage's field order, dropping empty fields as Go's omitempty does. */
export function encodeJsonMessage(msg: JsonMessage): string {
  const out: Record<string, unknown> = {};
  if (msg.error) out.error = msg.error;
  if (msg.errorDetail) out.errorDetail = msg.errorDetail;
  if (msg.stream) out.stream = msg.stream;
  if (msg.status) out.status = msg.status;
  if (msg.progressDetail) out.progressDetail = msg.progressDetail;
  if (msg.progress) out.progress = msg.progress;
  if (msg.id) out.id = msg.id;
  if (msg.aux !== undefined) out.aux = msg.aux;
  return JSON.stringify(out) + NEWLINE;
}

/** The stream's error line: `{"error": m, "errorDetail": {"message": m}}`. */
export function errorMessage(err: unknown): JsonMessage {
  const message = clientMessage(err);
  return { error: message, errorDetail: { message } };
}

/**
 * Writes a JSON message stream as the response. Nothing is sent until the first message, so an
 * operation that fails before producing output still answers with a proper HTTP error status;
 * after that, failures can only be reported in-band, as an error line. `signal` aborts when the
 * client goes away.
 */
export class JsonMessageStream {
  private body: PassThrough | undefined;
  private ended = false;
  private readonly abort = new AbortController();

  constructor(private readonly reply: FastifyReply) {
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) this.abort.abort(new Error('client disconnected'));
    });
  }

  /** Aborted when the client disconnects before the stream ends. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Whether the response has started (status and headers are out). */
  get started(): boolean {
    return this.body !== undefined;
  }

  write(msg: JsonMessage): void {
    if (this.ended) return;
    if (!this.body) {
      this.body = new PassThrough();
      this.reply.code(200).type('application/json').send(this.body);
    }
    this.body.write(encodeJsonMessage(msg));
  }

  /**
   * A promise while the client has not taken what was written (the body is over its high-water
   * mark), resolved when it has or has gone; undefined when nothing is pending.
   */
  backpressure(): Promise<void> | undefined {
    const body = this.body;
    if (!body || !body.writableNeedDrain || body.destroyed) return undefined;
    return new Promise((resolve) => {
      const done = (): void => {
        body.off('drain', done);
        body.off('close', done);
        resolve();
      };
      body.on('drain', done);
      body.on('close', done);
    });
  }

  status(status: string, id?: string): void {
    this.write({ status, id });
  }

  stream(text: string): void {
    this.write({ stream: text });
  }

  progress(id: string, status: string, detail: JsonProgressDetail, progress?: string): void {
    this.write({ status, id, progressDetail: detail, progress });
  }

  aux(value: unknown): void {
    this.write({ aux: value });
  }

  error(err: unknown): void {
    this.write(errorMessage(err));
  }

  /** Finishes the response (an empty 200 when nothing was written). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.body) {
      this.body = new PassThrough();
      this.reply.code(200).type('application/json').send(this.body);
    }
    this.body.end();
  }
}

/**
 * Runs `work` with a JSON message stream as the response: errors before the first message become
 * ordinary HTTP errors (rethrown for the error handler), later ones an error line; with
 * `errorsInStream` every error is an error line of a 200 (as dockerd's load answers). Returns the
 * reply, as fastify wants from async handlers that send by themselves.
 */
export async function withJsonMessageStream(
  reply: FastifyReply,
  work: (out: JsonMessageStream) => Promise<void>,
  opts: { errorsInStream?: boolean } = {},
): Promise<FastifyReply> {
  const out = new JsonMessageStream(reply);
  try {
    await work(out);
  } catch (err) {
    if (!out.started && opts.errorsInStream !== true) throw err;
    out.error(err);
  }
  out.end();
  return reply;
}

// ---------------------------------------------------------------- stdout/stderr multiplexing

export { STDIN, STDOUT, STDERR, SYSTEMERR, encodeFrame, type StreamType } from '../lib/stdcopy';

/** The media types dockerd announces for the two framings (API >= 1.42). */
export const MEDIA_TYPE_RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MEDIA_TYPE_MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

export interface Frame {
  type: StreamType;
  payload: Buffer;
}

/** Splits a buffer into whole frames; `rest` is an incomplete tail to prepend to the next chunk. */
export function decodeFrames(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let off = 0;
  while (buf.length - off >= 8) {
    const type = buf[off];
    if (type > SYSTEMERR) throw new Error(`unrecognized stream type ${type} in multiplexed stream`);
    const size = buf.readUInt32BE(off + 4);
    if (buf.length - off - 8 < size) break;
    frames.push({ type: type as StreamType, payload: buf.subarray(off + 8, off + 8 + size) });
    off += 8 + size;
  }
  return { frames, rest: buf.subarray(off) };
}
