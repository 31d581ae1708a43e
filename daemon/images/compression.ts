// Compression by magic bytes, as dockerd's archive.DecompressStream: gzip (and zstd where this
// Node has it) in-process; bzip2, xz and zstd otherwise through Debian's command-line tools.
import { spawn } from 'node:child_process';
import { Duplex, Readable, pipeline, type Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { InvalidParameter } from '../../lib/errors';

export type Compression = 'none' | 'gzip' | 'zstd' | 'bzip2' | 'xz';

/** Bytes needed to tell every supported format apart. */
export const SNIFF_BYTES = 6;

export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 3 && head.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  return 'none';
}

type ZstdFactory = () => Transform;
/** Node >= 22.15 has zstd in zlib; Node 20 does not. */
function zstdFactory(): ZstdFactory | undefined {
  const candidate: unknown = (zlib as Record<string, unknown>)['createZstdDecompress'];
  return typeof candidate === 'function' ? (candidate as ZstdFactory) : undefined;
}

/** An in-process decompressor for `c`, or undefined when this Node has none. */
export function inProcessDecompressor(c: Compression): Transform | undefined {
  if (c === 'gzip') return zlib.createGunzip();
  if (c === 'zstd') return zstdFactory()?.();
  return undefined;
}

const TOOLS: Partial<Record<Compression, string>> = { bzip2: 'bzip2', xz: 'xz', zstd: 'zstd' };

/** `<tool> -dc` as a duplex stream; a missing tool or a failed run is an InvalidParameter. */
function toolDecompressor(c: Compression): Duplex | undefined {
  const tool = TOOLS[c];
  if (!tool) return undefined;
  const proc = spawn(tool, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const duplex = Duplex.from({ writable: proc.stdin, readable: proc.stdout });
  proc.on('error', () => duplex.destroy(new InvalidParameter(`${c} compressed input needs the ${tool} tool`)));
  proc.on('close', (code) => {
    if (code !== 0 && code !== null) duplex.destroy(new InvalidParameter(`${c} decompression failed: ${stderr.trim()}`));
  });
  return duplex;
}

/** A decompressing stream for `c`: in-process when possible, else the command-line tool. */
export function decompressor(c: Compression): Duplex | undefined {
  return inProcessDecompressor(c) ?? toolDecompressor(c);
}

/**
 * `src` inflated if its first bytes say it is compressed, else `src`'s bytes as they are.
 * Errors of either stream surface on the returned one.
 */
export async function decompressStream(src: Readable, what = 'input'): Promise<Readable> {
  const it = src[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headLen = 0;
  let ended = false;
  while (headLen < SNIFF_BYTES) {
    const r = (await it.next()) as IteratorResult<Buffer | string>;
    if (r.done) {
      ended = true;
      break;
    }
    const chunk = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    head.push(chunk);
    headLen += chunk.length;
  }
  const first = Buffer.concat(head);
  async function* rest(): AsyncGenerator<Buffer> {
    if (first.length > 0) yield first;
    if (ended) return;
    for (;;) {
      const r = (await it.next()) as IteratorResult<Buffer | string>;
      if (r.done) return;
      yield typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    }
  }
  const raw = Readable.from(rest(), { objectMode: false });
  const c = detectCompression(first);
  if (c === 'none') return raw;
  const d = decompressor(c);
  if (d === undefined) throw new InvalidParameter(`${c} compressed ${what} is not supported`);
  return pipeline(raw, d, () => undefined);
}
