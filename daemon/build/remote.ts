// `remote=<url>`: the context fetched by the daemon (moby builder/remotecontext: newURLRemote).
// An http(s) answer that is a tar (plain or compressed) is the context; anything else is taken as
// the Dockerfile itself, put alone into a context under the name asked for. Git URLs are not
// implemented. Failures are worded as Go's client words them.
import * as http from 'node:http';
import * as https from 'node:https';
import { PassThrough, Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { InvalidParameter, NotFound, NotImplemented, SystemError } from '../../lib/errors';
import { detectCompression } from '../images/compression';

const MAX_REDIRECTS = 10;
const DOCKERFILE_CAP = 4 * 1024 * 1024;
const HEAD = 512;

function get(url: URL, signal: AbortSignal | undefined, redirects = 0): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.get(url, { signal, headers: { 'user-agent': 'berth-builder' } }, (res) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (status >= 300 && status < 400 && location !== undefined) {
        res.resume();
        if (redirects >= MAX_REDIRECTS) return reject(new SystemError(`Get "${url.toString()}": stopped after ${MAX_REDIRECTS} redirects`));
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          return reject(new SystemError(`Get "${url.toString()}": bad redirect location`));
        }
        if (next.protocol !== 'http:' && next.protocol !== 'https:')
          return reject(new SystemError(`Get "${next.toString()}": unsupported protocol scheme`));
        get(next, signal, redirects + 1).then(resolve, reject);
        return;
      }
      resolve(res);
    });
    req.on('error', (err) => reject(new SystemError(`Get "${url.toString()}": ${err.message}`)));
    req.setTimeout(60_000, () => req.destroy(new Error('timeout awaiting response headers')));
  });
}

async function readAtMost(src: AsyncIterable<unknown>, cap: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of src) {
    const b = c as Buffer;
    chunks.push(b);
    total += b.length;
    if (total > cap) break;
  }
  return Buffer.concat(chunks).subarray(0, cap);
}

/** The first bytes of the body, and a stream of the whole body again. */
async function sniff(res: http.IncomingMessage): Promise<{ head: Buffer; body: Readable }> {
  const it = res[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const seen: Buffer[] = [];
  let size = 0;
  while (size < HEAD) {
    const r = await it.next();
    if (r.done === true) break;
    seen.push(r.value);
    size += r.value.length;
  }
  async function* all(): AsyncGenerator<Buffer> {
    yield* seen;
    for (;;) {
      const r = await it.next();
      if (r.done === true) return;
      yield r.value;
    }
  }
  return { head: Buffer.concat(seen), body: Readable.from(all()) };
}

function isArchive(head: Buffer): boolean {
  if (detectCompression(head) !== 'none') return true;
  return head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar';
}

/** The context a remote URL gives: a tar stream. */
export async function remoteContext(remote: string, dockerfileName: string, signal?: AbortSignal): Promise<Readable> {
  if (/^(git@|git:\/\/|github\.com\/)/.test(remote) || /\.git(#.*)?$/.test(remote)) {
    throw new NotImplemented('git build contexts are not implemented; send the context as the body');
  }
  let url: URL;
  try {
    url = new URL(remote);
  } catch {
    throw new InvalidParameter(`unable to prepare context: unknown remote context type: ${remote}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new InvalidParameter(`unable to prepare context: unsupported remote ${remote}`);
  const res = await get(url, signal);
  const status = res.statusCode ?? 0;
  if (status >= 400) {
    const body = (await readAtMost(res, 4096)).toString('utf8').trim();
    const msg = `error downloading remote context ${remote}: failed to GET ${remote} with status ${status} ${res.statusMessage ?? ''}: ${body}`;
    throw status === 404 ? new NotFound(msg) : new SystemError(msg);
  }
  const { head, body } = await sniff(res);
  if (isArchive(head)) return body;
  const dockerfile = await readAtMost(body, DOCKERFILE_CAP + 1);
  if (dockerfile.length > DOCKERFILE_CAP) throw new InvalidParameter(`the Dockerfile at ${remote} is larger than 4 MiB`);
  const pack = tar.pack();
  pack.entry({ name: dockerfileName || 'Dockerfile', mode: 0o644, size: dockerfile.length }, dockerfile);
  pack.finalize();
  const out = new PassThrough();
  pack.pipe(out);
  return out;
}
