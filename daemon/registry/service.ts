// The registry-facing operations that are not pull or push: login (/auth), distribution inspect
// and search. Endpoint order, error wording and result shapes follow moby's registry service and
// distribution router; the HTTP work is the registry/ client's.
import type { Credentials, Endpoint, FetchedManifest, Platform, RegistrySettings, RepositoryClient } from '../../registry/types';
import { RegistryError } from '../../registry/types';
import { InvalidParameter, SystemError, Unauthorized, errorMessage } from '../../lib/errors';
import { canonicalString, parseAnyReference, tagNameOnly } from '../images/reference';
import { DOCKER_IO, loginRegistryHost, splitSearchTerm } from './address';
import { endpointsOrInvalid, fromRegistryError, registryErrorText } from './errors';

/** One result of an index's /v1/search, as the index sent it (untrusted). */
export interface RawSearchResult {
  name?: unknown;
  description?: unknown;
  star_count?: unknown;
  is_official?: unknown;
  is_automated?: unknown;
}

/** What this service needs from registry/ (injected so unit tests can fake the network). */
export interface RegistryClientApi {
  endpointsFor(domain: string, settings: RegistrySettings): Promise<Endpoint[]>;
  indexEndpoint(domain: string, settings: RegistrySettings): Promise<Endpoint[]>;
  login(endpoint: Endpoint, creds: Credentials, userAgent: string): Promise<{ identityToken?: string }>;
  search(
    endpoint: Endpoint,
    term: string,
    limit: number,
    creds: Credentials | undefined,
    userAgent: string,
  ): Promise<{ results: RawSearchResult[] } | RawSearchResult[]>;
  openRepository(
    endpoint: Endpoint,
    name: string,
    opts: { credentials?: Credentials; actions: ('pull' | 'push')[]; userAgent: string },
  ): RepositoryClient;
}

export interface SearchResult {
  star_count: number;
  is_official: boolean;
  name: string;
  is_automated: boolean;
  description: string;
}

export interface SearchOptions {
  term: string;
  /** 0 means the default (25). */
  limit: number;
  isOfficial?: boolean;
  /** is-automated=true: deprecated, always no results (no request is made). */
  isAutomated?: boolean;
  minStars?: number;
}

export interface DistributionInspect {
  Descriptor: { mediaType: string; digest: string; size: number };
  Platforms: Platform[] | null;
}

export const DEFAULT_SEARCH_LIMIT = 25;
/** Config blobs are JSON from an untrusted registry: read with a cap. */
const CONFIG_CAP = 4 * 1024 * 1024;
/** A search answers or fails within this, whatever the index does (dockerd: the client's timeouts). */
const SEARCH_DEADLINE_MS = 30_000;

const INDEX_TYPES = new Set(['application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.oci.image.index.v1+json']);
const SCHEMA1_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

function limitError(limit: number): InvalidParameter {
  return new InvalidParameter(`limit ${limit} is outside the range of [1, 100]`);
}

export class RegistryService {
  constructor(
    private readonly settings: RegistrySettings,
    private readonly client: RegistryClientApi,
  ) {}

  /**
   * POST /auth: checks credentials against the registry (https first, then http when insecure;
   * never a mirror, which must not see upstream credentials). Stops at the first 401.
   */
  async login(serverAddress: string, creds: Credentials): Promise<{ identityToken?: string }> {
    const host = loginRegistryHost(serverAddress);
    let endpoints: Endpoint[];
    try {
      endpoints = (await this.client.endpointsFor(host, this.settings)).filter((e) => !e.mirror);
    } catch (err) {
      throw new InvalidParameter(errorMessage(err));
    }
    let lastErr: unknown = new SystemError(`no endpoint to log in to ${host}`);
    for (const ep of endpoints) {
      try {
        return await this.client.login(ep, creds, this.settings.userAgent);
      } catch (err) {
        if (err instanceof RegistryError && err.status === 401) throw new Unauthorized(loginErrorText(ep, err));
        lastErr = err;
      }
    }
    throw fromRegistryError(lastErr);
  }

  /** GET /distribution/{name}/json: the descriptor of a tag or digest and the platforms it serves. */
  async distributionInspect(name: string, creds: Credentials): Promise<DistributionInspect> {
    const any = parseAnyReference(name);
    if (any.kind === 'id') throw new SystemError('no manifest found for full image ID');
    const ref = any.named.digest !== undefined ? any.named : tagNameOnly(any.named);
    const reference = ref.digest ?? ref.tag ?? 'latest';
    const endpoints = await endpointsOrInvalid(this.client.endpointsFor(ref.domain, this.settings));
    let lastErr: unknown = new SystemError(`no endpoint for ${ref.domain}`);
    // As dockerd: a mirror that fails is skipped for the next endpoint, whatever the failure.
    for (const ep of endpoints) {
      try {
        const repo = this.client.openRepository(ep, ref.path, {
          credentials: creds,
          actions: ['pull'],
          userAgent: this.settings.userAgent,
        });
        const m = await repo.getManifest(reference);
        return await describe(repo, m, canonicalString(ref));
      } catch (err) {
        lastErr = err;
        if (err instanceof InvalidParameter) break;
      }
    }
    throw fromRegistryError(lastErr);
  }

  /** GET /images/search: asks the index of the term's registry, then filters as dockerd does. */
  async search(opts: SearchOptions, creds: Credentials | undefined): Promise<SearchResult[]> {
    if (opts.isAutomated === true) return [];
    const { index, remoteName } = splitSearchTerm(opts.term);
    const limit = opts.limit === 0 ? DEFAULT_SEARCH_LIMIT : opts.limit;
    if (limit < 1 || limit > 100) throw limitError(limit);
    const endpoints = await this.client.indexEndpoint(index, this.settings);
    const raw = await withDeadline(this.searchEndpoints(index, endpoints, remoteName, limit, creds), SEARCH_DEADLINE_MS, index);
    const out: SearchResult[] = [];
    for (const r of raw) {
      const result = searchResult(r);
      if (result === undefined) continue;
      if (opts.isOfficial !== undefined && result.is_official !== opts.isOfficial) continue;
      if (opts.minStars !== undefined && result.star_count < opts.minStars) continue;
      out.push(result);
    }
    return out;
  }

  private async searchEndpoints(
    index: string,
    endpoints: Endpoint[],
    term: string,
    limit: number,
    creds: Credentials | undefined,
  ): Promise<RawSearchResult[]> {
    const failures: string[] = [];
    for (const ep of endpoints) {
      try {
        const answer = await this.client.search(ep, term, limit, creds, this.settings.userAgent);
        return Array.isArray(answer) ? answer : Array.isArray(answer.results) ? answer.results : [];
      } catch (err) {
        // Only a failure to reach the endpoint moves on to the next one (https → http).
        if (!(err instanceof RegistryError) || !err.transport) throw searchError(err);
        failures.push(err.message);
      }
    }
    if (index === DOCKER_IO || endpoints.length === 0) throw new SystemError(failures[0] ?? `no index endpoint for ${index}`);
    const v1 = (ep: Endpoint): string => `${ep.url}/v1/`;
    if (endpoints.length === 1) {
      const host = new URL(endpoints[0].url).host;
      throw new InvalidParameter(
        `invalid registry endpoint ${v1(endpoints[0])}: ${failures[0]}. If this private registry supports only HTTP or HTTPS with an unknown CA certificate, ` +
          `add \`--insecure-registry ${host}\` to the daemon's arguments. In the case of HTTPS, if you have access to the registry's CA certificate, ` +
          `no need for the flag; place the CA certificate at /etc/docker/certs.d/${host}/ca.crt`,
      );
    }
    throw new InvalidParameter(
      `invalid registry endpoint "${v1(endpoints[endpoints.length - 1])}". HTTPS attempt: ${failures[0]}. HTTP attempt: ${failures[failures.length - 1]}`,
    );
  }
}

/** dockerd's texts: Basic → loginV2's status line; a token server's refusal → the distribution error. */
function loginErrorText(ep: Endpoint, err: RegistryError): string {
  if (/^login attempt to /.test(err.message) || /^Get "/.test(err.message)) return err.message;
  if (err.code === undefined || err.code === 'BASIC') return `login attempt to ${ep.url}/v2/ failed with status: 401 Unauthorized`;
  return `Get "${ep.url}/v2/": ${registryErrorText(err)}`;
}

function searchError(err: unknown): Error {
  if (err instanceof RegistryError && err.status === 200) return new SystemError(`error decoding registry search results: ${err.message}`);
  if (err instanceof RegistryError && !err.transport && err.status !== 0) {
    // dockerd: any non-200 from the index is "unexpected status code N" (an unknown error, 500).
    return new SystemError(`unexpected status code ${err.status}`);
  }
  return fromRegistryError(err);
}

function searchResult(r: unknown): SearchResult | undefined {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return undefined;
  const o = r as RawSearchResult;
  const stars = typeof o.star_count === 'number' && Number.isSafeInteger(o.star_count) ? o.star_count : 0;
  return {
    star_count: stars,
    is_official: o.is_official === true,
    name: typeof o.name === 'string' ? o.name : '',
    // Deprecated and untrustworthy on Docker Hub: always false, as dockerd reports it.
    is_automated: false,
    description: typeof o.description === 'string' ? o.description : '',
  };
}

function withDeadline<T>(p: Promise<T>, ms: number, index: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new SystemError(`search of ${index} timed out after ${ms / 1000}s`)), ms);
    timer.unref();
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** Descriptor and platforms: from the index entries, or from the config blob of a single manifest. */
async function describe(repo: RepositoryClient, m: FetchedManifest, refString: string): Promise<DistributionInspect> {
  if (SCHEMA1_TYPES.has(m.mediaType)) {
    throw new InvalidParameter(
      'Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. ' +
        `Suggest the author of ${refString} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. ` +
        'More information at https://docs.docker.com/go/deprecated-image-specs/',
    );
  }
  const out: DistributionInspect = { Descriptor: { mediaType: m.mediaType, digest: m.digest, size: m.body.length }, Platforms: null };
  let doc: unknown;
  try {
    doc = JSON.parse(m.body.toString('utf8'));
  } catch {
    throw new SystemError(`invalid manifest ${m.digest}: not JSON`);
  }
  if (doc === null || typeof doc !== 'object') return out;
  const o = doc as { manifests?: unknown; config?: unknown };
  if (INDEX_TYPES.has(m.mediaType) || (m.mediaType === '' && Array.isArray(o.manifests))) {
    const entries = Array.isArray(o.manifests) ? (o.manifests as unknown[]) : [];
    out.Platforms = entries.map((e) => platformOf((e as { platform?: unknown } | null)?.platform));
    return out;
  }
  const config = o.config as { digest?: unknown } | undefined;
  if (config !== undefined && config !== null && typeof config.digest === 'string') {
    const p = await configPlatform(repo, config.digest);
    if (p !== undefined && (p.os !== '' || p.architecture !== '')) out.Platforms = [p];
  }
  return out;
}

/** An index entry's platform in ocispec.Platform's JSON shape (absent fields omitted, as Go's omitempty). */
function platformOf(v: unknown): Platform {
  const p = v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  const out: Platform = {
    architecture: typeof p.architecture === 'string' ? p.architecture : '',
    os: typeof p.os === 'string' ? p.os : '',
  };
  if (typeof p['os.version'] === 'string' && p['os.version'] !== '') out['os.version'] = p['os.version'];
  if (Array.isArray(p['os.features']) && p['os.features'].length > 0)
    out['os.features'] = p['os.features'].filter((f): f is string => typeof f === 'string');
  if (typeof p.variant === 'string' && p.variant !== '') out.variant = p.variant;
  return out;
}

/** The platform fields of an image config; undefined when the blob cannot be read (dockerd ignores that). */
async function configPlatform(repo: RepositoryClient, digest: string): Promise<Platform | undefined> {
  try {
    const { body } = await repo.getBlob(digest);
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of body) {
      total += chunk.length;
      if (total > CONFIG_CAP) {
        (body as unknown as { destroy?: () => void }).destroy?.();
        return undefined;
      }
      chunks.push(chunk);
    }
    return platformOf(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
  } catch {
    return undefined;
  }
}
