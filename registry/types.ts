// The registry layer's vocabulary: a client of the OCI distribution API (Docker registry HTTP API
// v2) that knows nothing of the Engine API. The daemon's image service drives it for pull, push,
// login, distribution inspect and search, and maps RegistryError to its own typed errors.

/** Credentials as the client sends them in X-Registry-Auth or /auth (already decoded). */
export interface Credentials {
  username?: string;
  password?: string;
  /** OAuth2 refresh token a previous login returned (`identitytoken`). */
  identityToken?: string;
  /** A bearer token to send as it is (`registrytoken`). */
  registryToken?: string;
}

/** Daemon-wide registry settings (flags and daemon.json). */
export interface RegistrySettings {
  /** `--insecure-registry`: CIDRs (`10.0.0.0/8`) or `host[:port]`; 127.0.0.0/8 is always insecure. */
  insecureRegistries: string[];
  /** `--registry-mirror`: base URLs tried before docker.io's own registry, for docker.io only. */
  mirrors: string[];
  /** certs.d-style directory: `<certsDir>/<host[:port]>/*.crt` CAs, `*.cert` + `*.key` client pairs. */
  certsDir: string;
  userAgent: string;
}

/** One place to reach a registry, in the order they are tried. */
export interface Endpoint {
  /** `https://host[:port]` or `http://host[:port]`, no path. */
  url: string;
  /** A mirror of docker.io: failures fall back to the next endpoint. */
  mirror: boolean;
  /** TLS settings for https endpoints; skipVerify for insecure registries. */
  tls?: { skipVerify: boolean; ca?: Buffer[]; cert?: Buffer; key?: Buffer };
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  urls?: string[];
  annotations?: Record<string, string>;
  artifactType?: string;
}

/** A manifest or index as fetched: the exact bytes (their digest is what callers record). */
export interface FetchedManifest {
  mediaType: string;
  digest: string;
  body: Buffer;
}

/**
 * A failed registry exchange. `status` is the HTTP status (0 when no answer came); `code` the first
 * error code of the registry's JSON body (MANIFEST_UNKNOWN, NAME_UNKNOWN, UNAUTHORIZED, DENIED,
 * BLOB_UNKNOWN, …). `transport` marks failures to reach the endpoint (connect, TLS, reset): the
 * caller may try its next endpoint.
 */
export class RegistryError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
    readonly transport = false,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

/** What pull and push need from one repository on one endpoint. */
export interface RepositoryClient {
  readonly endpoint: Endpoint;
  /** Repository path on the registry (`library/busybox`). */
  readonly name: string;
  /** GET a manifest or index by tag or digest; by digest, the bytes are verified against it. */
  getManifest(reference: string, accept?: string[]): Promise<FetchedManifest>;
  /** HEAD a manifest: its descriptor, or undefined when unknown. */
  headManifest(reference: string, accept?: string[]): Promise<Descriptor | undefined>;
  /**
   * Every tag of the repository (`GET /v2/<name>/tags/list`), following `Link: <…>; rel="next"`
   * pages on the same endpoint, in the registry's order; more than `MAX_TAGS` fails TOO_LARGE.
   */
  listTags(): Promise<string[]>;
  /** Size of a blob the repository has, or undefined. */
  headBlob(digest: string): Promise<number | undefined>;
  /**
   * Streams a blob from `offset` (Range request; redirects followed without our Authorization on
   * other hosts). `size` is the full blob size when the registry told it; `offset` is where the
   * body really starts (0 when the registry ignored the Range and sent the whole blob).
   */
  getBlob(
    digest: string,
    offset?: number,
  ): Promise<{ body: NodeJS.ReadableStream & AsyncIterable<Buffer>; size?: number; offset?: number }>;
  /** Cross-repository mount; false when the registry started a normal upload instead (cancelled). */
  mountBlob(digest: string, fromRepository: string): Promise<boolean>;
  /**
   * Uploads a blob from a stream (chunked PATCH, then PUT ?digest=): the digest may be known only
   * once the stream ends, so it is computed while sending and must equal `expected` when given.
   */
  pushBlob(
    body: AsyncIterable<Buffer>,
    opts?: { expected?: string; onProgress?: (sent: number) => void },
  ): Promise<{ digest: string; size: number }>;
  /** PUT a manifest or index under a tag or digest; returns the digest the registry reports. */
  putManifest(reference: string, mediaType: string, body: Buffer): Promise<string>;
}
