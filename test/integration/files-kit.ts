// What the container-files suites share: one berthd per test file with the busybox fixture and a
// running `live` container (useFilesBerth registers its hooks), a host scratch dir, a host canary
// that must stay untouched, and raw archive-API and tar helpers.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before } from 'node:test';
import * as tar from 'tar-stream';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { destroyBerth, startBerth, type Berth, type RunResult } from './harness';

export let b: Berth;
export let host: string;
export let canaryDir: string;
export const CANARY = 'host canary, never served\n';

/**
 * Starts this file's berthd, the host dirs and the `live` container (then `setup`) before its
 * tests; after them removes `live` and the containers in `remove`, berthd and the dirs.
 */
export function useFilesBerth(opts: { setup?: () => Promise<unknown>; remove?: string[] } = {}): void {
  before(async () => {
    b = await startBerth();
    host = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-files-'));
    canaryDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-canary-'));
    fs.writeFileSync(path.join(canaryDir, 'canary.txt'), CANARY);
    await ok(['load'], await buildBusyboxArchive({ tags: ['busybox:latest'] }));
    await ok(['run', '-d', '--name', 'live', 'busybox', 'sleep', '1000']);
    await opts.setup?.();
  });

  after(async () => {
    if (b) {
      await docker(['rm', '-f', 'live', ...(opts.remove ?? [])]);
      await destroyBerth(b);
    }
    fs.rmSync(host, { recursive: true, force: true });
    fs.rmSync(canaryDir, { recursive: true, force: true });
  });
}

export async function docker(args: string[], input?: Buffer | string): Promise<RunResult> {
  return b.docker(args, { input, timeoutMs: 60_000 });
}
export async function ok(args: string[], input?: Buffer | string): Promise<string> {
  const r = await docker(args, input);
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${r.stderr}\n${b.log().slice(-2000)}`);
  return r.stdout;
}
export function assertCanaryUntouched(): void {
  assert.deepEqual(fs.readdirSync(canaryDir).sort(), ['canary.txt']);
  assert.equal(fs.readFileSync(path.join(canaryDir, 'canary.txt'), 'utf8'), CANARY);
}

export interface RawResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export function raw(b: Berth, method: string, urlPath: string, body?: Buffer, contentType = 'application/x-tar'): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath: b.socket, method, path: urlPath, headers: body ? { 'Content-Type': contentType } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export interface Entry {
  name: string;
  type?: tar.Header['type'];
  linkname?: string;
  data?: string;
  mode?: number;
}

export async function makeTar(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    const header = {
      name: e.name,
      type: e.type ?? 'file',
      linkname: e.linkname,
      mode: e.mode ?? (e.type === 'directory' ? 0o755 : 0o644),
      mtime: new Date('2024-01-01T00:00:00Z'),
    };
    await new Promise<void>((resolve, reject) => pack.entry(header, e.data ?? '', (err) => (err ? reject(err) : resolve())));
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function readTar(buf: Buffer): Promise<Map<string, { type: string; data: string; linkname: string | null }>> {
  const out = new Map<string, { type: string; data: string; linkname: string | null }>();
  const ex = tar.extract();
  ex.end(buf);
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    out.set(entry.header.name, {
      type: entry.header.type ?? 'file',
      data: Buffer.concat(chunks).toString(),
      linkname: entry.header.linkname ?? null,
    });
  }
  return out;
}
