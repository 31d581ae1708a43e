// One repository on one endpoint: the RepositoryClient the image service drives for pull and push.
// Every call pings /v2/ once first (to learn the auth scheme, and so an unreachable endpoint fails
// before any work), then authorizes, sends, and maps a registry's JSON error body to RegistryError.
import { createHash } from 'node:crypto';
import { Authorizer, challengesOf, errorMessageOf } from './auth';
import { Digester, digestAlgorithm, digestOf, isDigest } from './digest';
import { bareMediaType, DEFAULT_ACCEPT, MediaType } from './manifest';
import { discard, header, readBody, Transport, JSON_BODY_CAP, type HttpResponse } from './transport';
import { RegistryError, type Credentials, type Descriptor, type Endpoint, type FetchedManifest, type RepositoryClient } from './types';

export const MANIFEST_CAP = JSON_BODY_CAP;
/** Tags asked for per page, and the most one listing may hold (the registry is untrusted). */
export const TAGS_PAGE_SIZE = 1000;
export const MAX_TAGS = 100_000;
/** Upload chunk: bounded memory per upload, few enough round trips. */
export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;

export interface OpenOptions {
  credentials?: Credentials;
  actions: ('pull' | 'push')[];
  userAgent: string;
  /** Repositories blobs may be mounted from (their pull scope is asked for up front). */
  mountFrom?: string[];
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** Upload chunk size (tests make it small). */
  chunkSize?: number;
}

/** distribution's repository name grammar (path components of lower-case alphanumerics and separators). */
const NAME_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;

export function validRepositoryName(name: string): boolean {
  return name.length <= 255 && NAME_RE.test(name);
}

export function scopeFor(name: string, actions: string[]): string {
  return `repository:${name}:${actions.join(',')}`;
}

// Transports are shared per endpoint settings, so every repository client of a pull reuses connections.
const transports = new Map<string, Transport>();

/** The shared transport for an endpoint (login and search use it too). */
export function transportFor(endpoint: Endpoint, opts: Pick<OpenOptions, 'userAgent' | 'connectTimeoutMs' | 'idleTimeoutMs'>): Transport {
  const h = createHash('sha256');
  h.update(endpoint.url);
  h.update(String(endpoint.tls?.skipVerify ?? ''));
  for (const b of [...(endpoint.tls?.ca ?? []), endpoint.tls?.cert, endpoint.tls?.key]) {
    h.update(b ?? Buffer.from('-'));
    h.update('\0');
  }
  h.update(`${opts.userAgent}\0${opts.connectTimeoutMs ?? ''}\0${opts.idleTimeoutMs ?? ''}`);
  const key = h.digest('hex');
  let t = transports.get(key);
  if (t === undefined) {
    t = new Transport(endpoint, {
      userAgent: opts.userAgent,
      ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
      ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
    });
    transports.set(key, t);
  }
  return t;
}

/** Closes the shared connections (tests; the daemon at shutdown). */
export function closeTransports(): void {
  for (const t of transports.values()) t.close();
  transports.clear();
}

/** Maps a non-success answer to RegistryError with the registry's own code and message. */
export async function registryError(res: HttpResponse, fallback?: { code: string; message: string }): Promise<RegistryError> {
  const { code, message } = await errorMessageOf(res);
  const s = res.status;
  // RFC 6750's error in a Bearer challenge comes first, as distribution's HandleErrorResponse
  // reads it: a token without the access asked for is DENIED (dockerd's "denied: …" and
  // "pull access denied …"), a bad token UNAUTHORIZED.
  const bearer = s >= 400 && s < 500 ? bearerError(res) : undefined;
  if (bearer !== undefined) return new RegistryError(bearer.message, s, bearer.code);
  let c = code;
  let m = message;
  if (c === undefined && m === undefined) {
    if (s === 401) [c, m] = ['UNAUTHORIZED', 'authentication required'];
    else if (s === 403) [c, m] = ['DENIED', 'requested access to the resource is denied'];
    else if (s === 429) [c, m] = ['TOOMANYREQUESTS', 'too many requests'];
    else if (s === 404 && fallback) [c, m] = [fallback.code, fallback.message];
  }
  if (c === undefined && s === 401) c = 'UNAUTHORIZED';
  return new RegistryError(m ?? `received unexpected HTTP status: ${s} ${res.statusText}`.trim(), s, c);
}

const BEARER_ERRORS: Record<string, { code: string; message: string }> = {
  insufficient_scope: { code: 'DENIED', message: 'requested access to the resource is denied' },
  invalid_token: { code: 'UNAUTHORIZED', message: 'authentication required' },
};

function bearerError(res: HttpResponse): { code: string; message: string } | undefined {
  for (const c of challengesOf(res)) {
    if (c.scheme !== 'bearer') continue;
    const known = BEARER_ERRORS[c.params.error ?? ''];
    if (known === undefined) continue;
    const description = c.params.error_description;
    return { code: known.code, message: description !== undefined && description !== '' ? description : known.message };
  }
  return undefined;
}

export interface RepositoryClientImpl extends RepositoryClient {
  getBlob(digest: string, offset?: number): Promise<{ body: NodeJS.ReadableStream & AsyncIterable<Buffer>; size?: number; offset: number }>;
  /** The refresh token a token server handed out, if any. */
  readonly refreshToken: string | undefined;
}

export function openRepository(endpoint: Endpoint, name: string, opts: OpenOptions): RepositoryClientImpl {
  if (!validRepositoryName(name)) throw new RegistryError(`invalid repository name: ${name}`, 0, 'NAME_INVALID');
  return new Repository(endpoint, name, opts);
}

interface CallOptions {
  headers?: Record<string, string>;
  body?: Buffer | AsyncIterable<Buffer>;
  extraScopes?: string[];
  followRedirects?: boolean;
}

class Repository implements RepositoryClientImpl {
  private readonly transport: Transport;
  private readonly auth: Authorizer;
  private pinged?: Promise<void>;
  private readonly base: string;
  private readonly chunkSize: number;

  constructor(
    readonly endpoint: Endpoint,
    readonly name: string,
    opts: OpenOptions,
  ) {
    this.transport = transportFor(endpoint, opts);
    const actions = opts.actions.length > 0 ? opts.actions : ['pull' as const];
    const scopes = [scopeFor(name, actions)];
    for (const from of opts.mountFrom ?? []) if (from !== name && validRepositoryName(from)) scopes.push(scopeFor(from, ['pull']));
    this.auth = new Authorizer(this.transport, { ...(opts.credentials ? { credentials: opts.credentials } : {}), scopes });
    this.base = `${endpoint.url.replace(/\/+$/, '')}/v2/${name}`;
    this.chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  }

  get refreshToken(): string | undefined {
    return this.auth.refreshToken;
  }

  private ping(): Promise<void> {
    this.pinged ??= (async () => {
      const res = await this.transport.request({ method: 'GET', url: `${this.endpoint.url.replace(/\/+$/, '')}/v2/` });
      if (res.status === 401) {
        this.auth.setChallenges(challengesOf(res));
        discard(res);
        return;
      }
      if (res.status >= 200 && res.status < 300) {
        discard(res);
        return;
      }
      const err = await registryError(res);
      // Not a v2 registry here (or a failing mirror): the caller may try its next endpoint.
      throw new RegistryError(`pinging ${this.endpoint.url}/v2/: ${err.message}`, res.status, err.code, true);
    })();
    // A failed ping is retried by the next call rather than remembered.
    this.pinged.catch(() => {
      this.pinged = undefined;
    });
    return this.pinged;
  }

  private async call(method: string, url: string, o: CallOptions = {}): Promise<HttpResponse> {
    await this.ping();
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      const authz = await this.auth.authorization(o.extraScopes);
      if (authz !== undefined) headers.authorization = authz;
      const res = await this.transport.request({
        method,
        url,
        headers,
        ...(o.body !== undefined ? { body: o.body } : {}),
        ...(o.followRedirects !== undefined ? { followRedirects: o.followRedirects } : {}),
      });
      if (res.status !== 401) return res;
      // A 401 without having authorized: the ping said nothing (or something else); learn and retry once.
      const ch = challengesOf(res);
      const replayable = o.body === undefined || Buffer.isBuffer(o.body);
      if (attempt === 0 && authz === undefined && ch.length > 0 && replayable) {
        discard(res);
        this.auth.setChallenges(ch);
        continue;
      }
      throw await registryError(res);
    }
  }

  private checkReference(reference: string): void {
    if (!isDigest(reference) && !TAG_RE.test(reference)) throw new RegistryError(`invalid reference: ${reference}`, 0, 'TAG_INVALID');
  }

  private checkDigest(digest: string): void {
    if (!isDigest(digest)) throw new RegistryError(`invalid digest: ${digest}`, 0, 'DIGEST_INVALID');
  }

  async getManifest(reference: string, accept: string[] = DEFAULT_ACCEPT): Promise<FetchedManifest> {
    this.checkReference(reference);
    const res = await this.call('GET', `${this.base}/manifests/${reference}`, { headers: { accept: accept.join(', ') } });
    if (res.status !== 200) throw await registryError(res, { code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' });
    const body = await readBody(res, MANIFEST_CAP);
    const mediaType = manifestMediaType(header(res, 'content-type'), body);
    let digest: string;
    if (isDigest(reference)) {
      digest = reference;
      const actual = digestOf(body, digestAlgorithm(reference));
      if (actual !== reference) throw new RegistryError(`manifest verification failed for digest ${reference}`, 0, 'DIGEST_INVALID');
    } else {
      const h = header(res, 'docker-content-digest');
      const computed = digestOf(body);
      if (h !== undefined && isDigest(h)) {
        // Schema 1's digest covers the payload without signatures, so it cannot be checked here.
        if (!isSchema1(mediaType) && digestOf(body, digestAlgorithm(h)) !== h) {
          throw new RegistryError(
            `manifest verification failed: Docker-Content-Digest ${h} does not match the content`,
            0,
            'DIGEST_INVALID',
          );
        }
        digest = h;
      } else {
        digest = computed;
      }
    }
    return { mediaType, digest, body };
  }

  async headManifest(reference: string, accept: string[] = DEFAULT_ACCEPT): Promise<Descriptor | undefined> {
    this.checkReference(reference);
    const res = await this.call('HEAD', `${this.base}/manifests/${reference}`, { headers: { accept: accept.join(', ') } });
    discard(res);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw await registryError(res);
    const h = header(res, 'docker-content-digest');
    const size = Number(header(res, 'content-length'));
    const mediaType = bareMediaType(header(res, 'content-type'));
    if (h !== undefined && isDigest(h) && Number.isSafeInteger(size) && size >= 0 && mediaType !== '') {
      return { mediaType, digest: h, size };
    }
    // Not enough in the headers: fetch it.
    const m = await this.getManifest(reference, accept);
    return { mediaType: m.mediaType, digest: m.digest, size: m.body.length };
  }

  async listTags(): Promise<string[]> {
    const tags: string[] = [];
    const seen = new Set<string>();
    let url: string | undefined = `${this.base}/tags/list?n=${TAGS_PAGE_SIZE}`;
    while (url !== undefined) {
      // A Link that loops would otherwise page forever.
      if (seen.has(url)) throw new RegistryError(`tag listing of ${this.name} loops at ${url}`, 0, 'TAGS_INVALID');
      seen.add(url);
      const res = await this.call('GET', url);
      if (res.status !== 200) throw await registryError(res, { code: 'NAME_UNKNOWN', message: 'repository name not known to registry' });
      const body = await readBody(res, MANIFEST_CAP);
      let page: unknown;
      try {
        page = JSON.parse(body.toString('utf8'));
      } catch {
        throw new RegistryError(`invalid tag listing for ${this.name}`, res.status, 'TAGS_INVALID');
      }
      const list = page !== null && typeof page === 'object' ? (page as { tags?: unknown }).tags : undefined;
      if (list !== undefined && list !== null) {
        if (!Array.isArray(list)) throw new RegistryError(`invalid tag listing for ${this.name}`, res.status, 'TAGS_INVALID');
        for (const t of list) {
          if (typeof t !== 'string' || !TAG_RE.test(t))
            throw new RegistryError(`invalid tag ${JSON.stringify(t)} in the listing of ${this.name}`, res.status, 'TAGS_INVALID');
          tags.push(t);
        }
      }
      if (tags.length > MAX_TAGS) throw new RegistryError(`${this.name} has more than ${MAX_TAGS} tags`, res.status, 'TOO_LARGE');
      url = nextLink(header(res, 'link'), res.url, this.endpoint.url);
    }
    return tags;
  }

  async headBlob(digest: string): Promise<number | undefined> {
    this.checkDigest(digest);
    const res = await this.call('HEAD', `${this.base}/blobs/${digest}`);
    discard(res);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw await registryError(res);
    const size = Number(header(res, 'content-length'));
    if (!Number.isSafeInteger(size) || size < 0)
      throw new RegistryError(`missing or invalid Content-Length for blob ${digest}`, res.status);
    return size;
  }

  async getBlob(
    digest: string,
    offset = 0,
  ): Promise<{ body: NodeJS.ReadableStream & AsyncIterable<Buffer>; size?: number; offset: number }> {
    this.checkDigest(digest);
    const headers: Record<string, string> = {};
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const res = await this.call('GET', `${this.base}/blobs/${digest}`, { headers });
    if (res.status !== 200 && res.status !== 206)
      throw await registryError(res, { code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' });
    const len = Number(header(res, 'content-length'));
    if (res.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header(res, 'content-range') ?? '');
      if (m !== null && Number(m[1]) !== offset) {
        res.body.destroy();
        throw new RegistryError(`registry answered range ${m[1]}- for requested offset ${offset}`, res.status);
      }
      const total = m !== null && m[3] !== '*' ? Number(m[3]) : Number.isSafeInteger(len) ? offset + len : undefined;
      return { body: res.body, offset, ...(total !== undefined ? { size: total } : {}) };
    }
    // 200: the whole blob (a registry may ignore Range); `offset` tells the caller where it starts.
    return { body: res.body, offset: 0, ...(Number.isSafeInteger(len) && len >= 0 ? { size: len } : {}) };
  }

  async mountBlob(digest: string, fromRepository: string): Promise<boolean> {
    this.checkDigest(digest);
    if (!validRepositoryName(fromRepository)) throw new RegistryError(`invalid repository name: ${fromRepository}`, 0, 'NAME_INVALID');
    const q = new URLSearchParams({ mount: digest, from: fromRepository });
    const res = await this.call('POST', `${this.base}/blobs/uploads/?${q.toString()}`, {
      extraScopes: fromRepository === this.name ? [] : [scopeFor(fromRepository, ['pull'])],
    });
    if (res.status === 201) {
      discard(res);
      return true;
    }
    if (res.status === 202) {
      discard(res);
      await this.cancelUpload(res);
      return false;
    }
    throw await registryError(res);
  }

  private async cancelUpload(res: HttpResponse): Promise<void> {
    const loc = header(res, 'location');
    if (loc === undefined) return;
    try {
      const del = await this.call('DELETE', new URL(loc, res.url).toString());
      discard(del);
    } catch {
      // Best effort: the registry expires abandoned uploads itself.
    }
  }

  private nextLocation(res: HttpResponse): string {
    const loc = header(res, 'location');
    if (loc === undefined || loc === '') throw new RegistryError('registry did not give an upload location', res.status);
    return new URL(loc, res.url).toString();
  }

  async pushBlob(
    body: AsyncIterable<Buffer>,
    opts: { expected?: string; onProgress?: (sent: number) => void } = {},
  ): Promise<{ digest: string; size: number }> {
    if (opts.expected !== undefined) this.checkDigest(opts.expected);
    const start = await this.call('POST', `${this.base}/blobs/uploads/`);
    if (start.status !== 202) throw await registryError(start);
    discard(start);
    let location = this.nextLocation(start);
    const digester = new Digester(opts.expected !== undefined ? digestAlgorithm(opts.expected) : 'sha256');
    let sent = 0;
    let patched = false;
    let pending: Buffer[] = [];
    let pendingSize = 0;
    const patch = async (chunk: Buffer): Promise<void> => {
      const res = await this.call('PATCH', location, {
        headers: {
          'content-type': 'application/octet-stream',
          'content-range': `${sent}-${sent + chunk.length - 1}`,
        },
        body: chunk,
        followRedirects: false,
      });
      if (res.status !== 202) throw await registryError(res);
      discard(res);
      location = this.nextLocation(res);
      sent += chunk.length;
      patched = true;
      opts.onProgress?.(sent);
    };
    try {
      for await (const raw of body) {
        const buf = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array);
        digester.update(buf);
        let rest = buf;
        while (pendingSize + rest.length >= this.chunkSize) {
          const take = this.chunkSize - pendingSize;
          pending.push(rest.subarray(0, take));
          rest = rest.subarray(take);
          const chunk = Buffer.concat(pending, this.chunkSize);
          pending = [];
          pendingSize = 0;
          await patch(chunk);
        }
        if (rest.length > 0) {
          pending.push(rest);
          pendingSize += rest.length;
        }
      }
      const digest = digester.digest();
      if (opts.expected !== undefined && digest !== opts.expected) {
        throw new RegistryError(`blob digest ${digest} does not match the expected ${opts.expected}`, 0, 'DIGEST_INVALID');
      }
      const tail = Buffer.concat(pending, pendingSize);
      pending = [];
      // A blob that fits one chunk goes up monolithically with the PUT; else the last piece is a PATCH too.
      if (patched && tail.length > 0) await patch(tail);
      const put = new URL(location);
      put.searchParams.set('digest', digest);
      const monolithic = !patched;
      const res = await this.call('PUT', put.toString(), {
        headers: { 'content-type': 'application/octet-stream' },
        ...(monolithic ? { body: tail } : {}),
        followRedirects: false,
      });
      if (res.status !== 201 && res.status !== 204 && res.status !== 200) throw await registryError(res);
      discard(res);
      if (monolithic) opts.onProgress?.(tail.length);
      const h = header(res, 'docker-content-digest');
      if (h !== undefined && isDigest(h) && h !== digest && digestAlgorithm(h) === digestAlgorithm(digest)) {
        throw new RegistryError(`registry stored digest ${h} for a blob of digest ${digest}`, res.status, 'DIGEST_INVALID');
      }
      return { digest, size: digester.size };
    } catch (err) {
      try {
        const del = await this.call('DELETE', location);
        discard(del);
      } catch {
        // best effort
      }
      throw err;
    }
  }

  async putManifest(reference: string, mediaType: string, body: Buffer): Promise<string> {
    this.checkReference(reference);
    if (body.length > MANIFEST_CAP)
      throw new RegistryError(`manifest of ${body.length} bytes exceeds the ${MANIFEST_CAP} allowed`, 0, 'MANIFEST_INVALID');
    const res = await this.call('PUT', `${this.base}/manifests/${reference}`, { headers: { 'content-type': mediaType }, body });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202) throw await registryError(res);
    discard(res);
    const h = header(res, 'docker-content-digest');
    return h !== undefined && isDigest(h) ? h : digestOf(body);
  }
}

/**
 * The `rel="next"` target of a Link header, resolved against the answer's URL. It must stay on the
 * endpoint: our Authorization goes with it.
 */
export function nextLink(link: string | undefined, base: string, endpoint: string): string | undefined {
  if (link === undefined || link === '') return undefined;
  for (const part of link.split(',')) {
    const m = /^\s*<([^>]*)>\s*((?:;[^;]*)*)$/.exec(part);
    if (m === null || !/;\s*rel="?next"?\s*(?:;|$)/i.test(m[2])) continue;
    const next = new URL(m[1], base);
    if (next.origin !== new URL(endpoint).origin)
      throw new RegistryError(`tag listing points to another host: ${next.origin}`, 0, 'TAGS_INVALID');
    return next.toString();
  }
  return undefined;
}

function isSchema1(mediaType: string): boolean {
  return mediaType === MediaType.schema1 || mediaType === MediaType.schema1Signed;
}

/**
 * The manifest's media type: the Content-Type, unless that is generic (`application/json`,
 * `text/plain`, missing), then the body's own `mediaType`, or schema 1 when `schemaVersion` is 1.
 */
export function manifestMediaType(contentType: string | undefined, body: Buffer): string {
  const ct = bareMediaType(contentType);
  if (ct !== '' && ct !== 'application/json' && ct !== 'text/plain' && ct !== 'application/octet-stream') return ct;
  try {
    const j = JSON.parse(body.toString('utf8')) as { mediaType?: unknown; schemaVersion?: unknown; manifests?: unknown };
    if (typeof j.mediaType === 'string' && j.mediaType !== '') return j.mediaType;
    if (j.schemaVersion === 1) return MediaType.schema1Signed;
    if (j.schemaVersion === 2) return Array.isArray(j.manifests) ? MediaType.ociIndex : MediaType.ociManifest;
  } catch {
    // left to the caller's parser
  }
  return ct === '' ? 'application/json' : ct;
}
