// Compression of rotated log files as dockerd does it: gzip with the last entry's timestamp as
// JSON in the header's FEXTRA field ({"lastTime":"…"}), so readers asking for newer logs can skip
// the whole file. Node's gzip stream cannot write FEXTRA, so the member is assembled here: Go's
// header (MTIME 0, XFL 0, OS 255), raw deflate, CRC-32 and size trailer.
import * as fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { parseRFC3339Nano } from '../../lib/time';
import type { LogTime } from './types';

const FEXTRA = 0x04;

function gzipHeader(extra: Buffer): Buffer {
  const h = Buffer.alloc(12 + extra.length);
  h[0] = 0x1f;
  h[1] = 0x8b;
  h[2] = 8; // deflate
  h[3] = FEXTRA;
  // MTIME (4..7) stays 0, XFL (8) 0 for the default level.
  h[9] = 255; // OS unknown, as Go writes
  h.writeUInt16LE(extra.length, 10);
  extra.copy(h, 12);
  return h;
}

const isNotFound = (err: unknown): boolean => (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';

/**
 * Compresses `src` into `src.gz` and removes `src` once the archive is complete; on failure the
 * partial archive goes and `src` stays. A missing `src` is not an error (nothing to compress).
 * `lastTime` is the RFC 3339 timestamp of the file's last entry.
 */
export async function compressRotatedFile(src: string, lastTime: string): Promise<void> {
  let input: fs.ReadStream;
  try {
    const fd = await fs.promises.open(src, 'r');
    input = fd.createReadStream();
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  const dst = `${src}.gz`;
  let crc = 0;
  let size = 0;
  try {
    await pipeline(
      input,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          crc = zlib.crc32(chunk, crc);
          size += chunk.length;
          yield chunk;
        }
      },
      zlib.createDeflateRaw({ level: zlib.constants.Z_DEFAULT_COMPRESSION }),
      async function* (deflated: AsyncIterable<Buffer>) {
        yield gzipHeader(Buffer.from(JSON.stringify({ lastTime }), 'utf8'));
        for await (const chunk of deflated) yield chunk;
        const trailer = Buffer.alloc(8);
        trailer.writeUInt32LE(crc >>> 0, 0);
        trailer.writeUInt32LE(size >>> 0, 4); // ISIZE is the size modulo 2^32
        yield trailer;
      },
      fs.createWriteStream(dst, { flags: 'w', mode: 0o640 }),
    );
  } catch (err) {
    await fs.promises.unlink(dst).catch(() => undefined);
    throw err;
  }
  await fs.promises.unlink(src).catch((err: unknown) => {
    if (!isNotFound(err)) throw err;
  });
}

/** The `lastTime` recorded in a gzip member's FEXTRA field, if it has a readable one. */
export async function readGzipLastTime(fh: FileHandle): Promise<LogTime | undefined> {
  const head = Buffer.alloc(12);
  const { bytesRead } = await fh.read(head, 0, 12, 0);
  if (bytesRead < 12 || head[0] !== 0x1f || head[1] !== 0x8b || (head[3]! & FEXTRA) === 0) return undefined;
  const xlen = head.readUInt16LE(10);
  const extra = Buffer.alloc(xlen);
  const r = await fh.read(extra, 0, xlen, 12);
  if (r.bytesRead < xlen) return undefined;
  try {
    const meta: unknown = JSON.parse(extra.toString('utf8'));
    if (typeof meta !== 'object' || meta === null) return undefined;
    const last = (meta as { lastTime?: unknown }).lastTime;
    if (typeof last !== 'string') return undefined;
    const t = parseRFC3339Nano(last);
    // Go's zero time (year 1) means "unknown".
    return t && t.sec > -62135596800 ? t : undefined;
  } catch {
    return undefined;
  }
}
