// What the image-archive unit tests share: temp dirs removed when the test file ends, tars and
// layers built entry by entry, image configs, and reading an archive back in small chunks (or
// requiring that it is refused with InvalidParameter and leaves no temp files).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after } from 'node:test';
import { tarBuffer } from '../fixtures/busybox-image';
import { InvalidParameter } from '../../lib/errors';
import { readImageArchive, type ImageArchive } from '../../daemon/images/archive-read';

export const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
export const hex = (d: string): string => d.slice('sha256:'.length);
/** A layer's temp file (always there without a blob store). */
export const fileOf = (l: { path?: string }): string => {
  assert.ok(l.path !== undefined, 'layer has no temp file');
  return l.path;
};

const roots: string[] = [];
export function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'berth-archive-test-'));
  roots.push(d);
  return d;
}
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

export type TarEntry = {
  name: string;
  data?: Buffer | string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  linkname?: string;
  mtime?: Date;
};

/** An archive built entry by entry (tar-stream writes the format). */
export async function tarOf(entries: TarEntry[]): Promise<Buffer> {
  return tarBuffer(
    entries.map((e) => ({
      header: {
        name: e.name,
        type: e.type ?? 'file',
        mtime: e.mtime ?? new Date(0),
        ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
      },
      data: e.data !== undefined ? Buffer.from(e.data) : undefined,
    })),
  );
}

/** A small layer tar with the given files. */
export function layer(files: Record<string, string>): Promise<Buffer> {
  return tarOf(Object.entries(files).map(([name, data]) => ({ name, data })));
}

export function configFor(diffIds: string[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2024-05-06T07:08:09Z',
      config: { Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map(() => ({ created_by: 'test' })),
      ...extra,
    }),
  );
}

export function source(buf: Buffer, chunk = 4096): Readable {
  // Small chunks exercise the sniffing and entry boundaries.
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) parts.push(buf.subarray(i, i + chunk));
  return Readable.from(parts);
}

export async function load(buf: Buffer, dir = tmp()): Promise<ImageArchive> {
  return readImageArchive(source(buf), dir);
}

export async function rejects(buf: Buffer, message: string | RegExp): Promise<void> {
  const dir = tmp();
  await assert.rejects(readImageArchive(source(buf), dir), (err: unknown) => {
    assert.ok(err instanceof InvalidParameter, `expected InvalidParameter, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
  // Temp files are gone after a failure.
  assert.deepEqual(readdirSync(dir), []);
}
