// A raw HTTP/1.1 client over the daemon's unix socket, so every protocol abuse is possible:
// clients that vanish after sending or after the headers, Connection: Upgrade then vanish, slow
// readers that stop reading, bodies shorter than their Content-Length, and garbage requests.
import * as net from 'node:net';
import type { Mode } from './generators';

export interface WireRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface Outcome {
  status?: number;
  /** The start of the body (capped). */
  body: string;
  /** A client-side error (connection refused, timeout ...). */
  error?: string;
  ms: number;
}

export const BODY_CAP = 64 * 1024;
/** How long a streaming answer is read before the client leaves (a normal end of the case). */
const STREAM_READ_MS = 700;

const GARBAGE = [
  'GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /containers/json?filters=%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n',
  'BREW /coffee HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /_ping HTTP/9.9\r\nHost: x\r\n\r\n',
  `GET /info HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`,
  'POST /containers/create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
  'POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n{}',
  'GET /v0.1/info HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /v1.99/info HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET //..//../_ping HTTP/1.1\r\nHost: x\r\n\r\n',
  '\u0000\u0001\u0002\r\n\r\n',
];

export function garbageRequest(i: number): string {
  return GARBAGE[i % GARBAGE.length];
}

/** The request's bytes (headers as given, Content-Length from the body unless already set). */
export function encodeRequest(r: WireRequest, extraHeaders: Record<string, string> = {}): Buffer {
  const headers: Record<string, string> = { Host: 'berth', ...r.headers, ...extraHeaders };
  if (r.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) {
    headers['Content-Length'] = String(r.body.length);
  }
  let head = `${r.method} ${r.path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v.replace(/[\r\n]/g, ' ')}\r\n`;
  return Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), r.body ?? Buffer.alloc(0)]);
}

/** Sends `r` as `mode` says and collects what came back within `timeoutMs`. */
export function send(socketPath: string, r: WireRequest, mode: Mode, timeoutMs: number, garbageIndex = 0): Promise<Outcome> {
  const start = performance.now();
  return new Promise((resolve) => {
    const sock = net.connect(socketPath);
    const chunks: Buffer[] = [];
    let size = 0;
    let status: number | undefined;
    let done = false;
    let streamTimer: NodeJS.Timeout | undefined;
    const finish = (error?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(streamTimer);
      sock.destroy();
      resolve({ status, body: Buffer.concat(chunks).toString('utf8'), error, ms: performance.now() - start });
    };
    const timer = setTimeout(() => finish(status === undefined ? 'timeout' : undefined), timeoutMs);
    sock.on('error', (e: NodeJS.ErrnoException) => finish(status === undefined ? (e.code ?? e.message) : undefined));
    sock.on('close', () => finish(status === undefined && mode === 'normal' ? 'closed without answer' : undefined));
    sock.on('connect', () => {
      switch (mode) {
        case 'raw-garbage':
          sock.write(garbageRequest(garbageIndex));
          break;
        case 'truncated-body': {
          const body = r.body ?? Buffer.from('{"Image":"busybox"}');
          const bytes = encodeRequest(
            { ...r, body: body.subarray(0, Math.floor(body.length / 2)) },
            { 'Content-Length': String(body.length + 100) },
          );
          sock.write(bytes);
          // The client goes away without the rest.
          setTimeout(() => finish(), 50);
          return;
        }
        case 'upgrade-vanish':
          sock.write(encodeRequest(r, { Connection: 'Upgrade', Upgrade: 'tcp' }));
          setTimeout(() => finish(), Math.floor(Math.random() * 5));
          return;
        case 'vanish-after-send':
          sock.end(encodeRequest(r));
          setImmediate(() => finish());
          return;
        default:
          sock.write(encodeRequest(r, { Connection: 'close' }));
      }
    });
    sock.on('data', (d: Buffer) => {
      if (status === undefined) {
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(d.toString('latin1', 0, 20));
        status = m ? Number(m[1]) : 0;
        if (mode === 'vanish-after-headers') return finish();
        if (mode === 'slow-reader') {
          // Stop reading: the daemon's writes back up; then leave.
          sock.pause();
          streamTimer = setTimeout(() => finish(), 300);
          return;
        }
        streamTimer = setTimeout(() => finish(), STREAM_READ_MS);
      }
      if (size < BODY_CAP) {
        chunks.push(d);
        size += d.length;
      }
    });
    sock.on('end', () => finish());
  });
}
