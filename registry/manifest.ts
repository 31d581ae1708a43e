// Manifest media types, parsing with validation (a registry's JSON is untrusted), and platform
// selection from an index with containerd's default matcher semantics.
import { isDigest } from './digest';
import { RegistryError, type Descriptor, type FetchedManifest, type Platform } from './types';

export const MediaType = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerUncompressed: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  dockerPluginConfig: 'application/vnd.docker.plugin.v1+json',
  schema1: 'application/vnd.docker.distribution.manifest.v1+json',
  schema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
} as const;

/** What getManifest asks for by default: every manifest kind, schema1 included so it can be refused by type. */
export const DEFAULT_ACCEPT: string[] = [
  MediaType.dockerManifest,
  MediaType.dockerManifestList,
  MediaType.ociManifest,
  MediaType.ociIndex,
  MediaType.schema1Signed,
  MediaType.schema1,
];

export const INDEX_TYPES: ReadonlySet<string> = new Set([MediaType.dockerManifestList, MediaType.ociIndex]);
export const MANIFEST_TYPES: ReadonlySet<string> = new Set([MediaType.dockerManifest, MediaType.ociManifest]);
export const SCHEMA1_TYPES: ReadonlySet<string> = new Set([MediaType.schema1, MediaType.schema1Signed, 'application/json']);

export const LAYER_TYPES: ReadonlySet<string> = new Set([
  MediaType.dockerLayer,
  MediaType.dockerLayerUncompressed,
  MediaType.dockerForeignLayer,
  MediaType.ociLayer,
  MediaType.ociLayerGzip,
  MediaType.ociLayerZstd,
  MediaType.ociLayerNondistributable,
  MediaType.ociLayerNondistributableGzip,
  MediaType.ociLayerNondistributableZstd,
]);

/** Layers a registry need not hold (their `urls` point elsewhere); push skips them, as dockerd does. */
export const FOREIGN_LAYER_TYPES: ReadonlySet<string> = new Set([
  MediaType.dockerForeignLayer,
  MediaType.ociLayerNondistributable,
  MediaType.ociLayerNondistributableGzip,
  MediaType.ociLayerNondistributableZstd,
]);

export function layerCompression(mediaType: string): 'gzip' | 'zstd' | 'none' | undefined {
  switch (mediaType) {
    case MediaType.dockerLayer:
    case MediaType.dockerForeignLayer:
    case MediaType.ociLayerGzip:
    case MediaType.ociLayerNondistributableGzip:
      return 'gzip';
    case MediaType.ociLayerZstd:
    case MediaType.ociLayerNondistributableZstd:
      return 'zstd';
    case MediaType.dockerLayerUncompressed:
    case MediaType.ociLayer:
    case MediaType.ociLayerNondistributable:
      return 'none';
    default:
      return undefined;
  }
}

/** Strips parameters from a Content-Type (`application/json; charset=utf-8`). */
export function bareMediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

// ---- parsing ---------------------------------------------------------------------------------

/** Bounds on what a registry may hand us (far above any real image). */
export const MAX_ENTRIES = 1000;

export type ParsedManifest =
  | { kind: 'index'; mediaType: string; manifests: Descriptor[]; annotations?: Record<string, string> }
  | { kind: 'manifest'; mediaType: string; config: Descriptor; layers: Descriptor[]; annotations?: Record<string, string> }
  | { kind: 'schema1'; mediaType: string };

function invalid(message: string): RegistryError {
  return new RegistryError(`invalid manifest: ${message}`, 0, 'MANIFEST_INVALID');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown, what: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw invalid(`${what} must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, s] of Object.entries(v)) {
    if (typeof s !== 'string') throw invalid(`${what}.${k} must be a string`);
    out[k] = s;
  }
  return out;
}

function parsePlatformField(v: unknown, what: string): Platform | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v) || typeof v.architecture !== 'string' || typeof v.os !== 'string')
    throw invalid(`${what}.platform needs os and architecture`);
  const p: Platform = { architecture: v.architecture, os: v.os };
  if (typeof v.variant === 'string' && v.variant !== '') p.variant = v.variant;
  if (typeof v['os.version'] === 'string' && v['os.version'] !== '') p['os.version'] = v['os.version'];
  if (Array.isArray(v['os.features']) && v['os.features'].every((f) => typeof f === 'string'))
    p['os.features'] = v['os.features'] as string[];
  return p;
}

/** Validates one descriptor: media type, well-formed digest, non-negative safe-integer size. */
export function parseDescriptor(v: unknown, what: string): Descriptor {
  if (!isObject(v)) throw invalid(`${what} must be an object`);
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== 'string' || mediaType === '') throw invalid(`${what} has no mediaType`);
  if (typeof digest !== 'string' || !isDigest(digest)) throw invalid(`${what} has an invalid digest ${JSON.stringify(digest)}`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${what} has an invalid size`);
  const d: Descriptor = { mediaType, digest, size };
  const platform = parsePlatformField(v.platform, what);
  if (platform) d.platform = platform;
  if (v.urls !== undefined && v.urls !== null) {
    if (!Array.isArray(v.urls) || !v.urls.every((u) => typeof u === 'string')) throw invalid(`${what}.urls must be strings`);
    d.urls = v.urls as string[];
  }
  const annotations = stringMap(v.annotations, `${what}.annotations`);
  if (annotations) d.annotations = annotations;
  return d;
}

/**
 * Parses and validates a fetched manifest. The kind follows the media type (the Content-Type the
 * registry sent, or the body's for generic types); a body `mediaType` contradicting it is refused.
 */
export function parseManifest(m: FetchedManifest): ParsedManifest {
  const mt = bareMediaType(m.mediaType);
  if (SCHEMA1_TYPES.has(mt) && mt !== 'application/json') return { kind: 'schema1', mediaType: mt };
  let j: unknown;
  try {
    j = JSON.parse(m.body.toString('utf8'));
  } catch {
    throw invalid('not JSON');
  }
  if (!isObject(j)) throw invalid('not a JSON object');
  if (j.schemaVersion === 1) return { kind: 'schema1', mediaType: MediaType.schema1Signed };
  if (j.schemaVersion !== 2) throw invalid(`unsupported schemaVersion ${JSON.stringify(j.schemaVersion)}`);
  let kind: string = mt;
  if (mt === 'application/json' || mt === '') {
    kind = typeof j.mediaType === 'string' ? j.mediaType : Array.isArray(j.manifests) ? MediaType.ociIndex : MediaType.ociManifest;
  }
  if (typeof j.mediaType === 'string' && j.mediaType !== '' && j.mediaType !== kind) {
    throw invalid(`mediaType in manifest should be '${kind}' not '${j.mediaType}'`);
  }
  const annotations = stringMap(j.annotations, 'annotations');
  if (INDEX_TYPES.has(kind)) {
    if (!Array.isArray(j.manifests)) throw invalid('index has no manifests');
    if (j.manifests.length > MAX_ENTRIES) throw invalid(`index has more than ${MAX_ENTRIES} entries`);
    const manifests = j.manifests.map((d, i) => parseDescriptor(d, `manifests[${i}]`));
    return { kind: 'index', mediaType: kind, manifests, ...(annotations ? { annotations } : {}) };
  }
  if (MANIFEST_TYPES.has(kind)) {
    if (j.config === undefined) throw invalid('manifest has no config');
    const config = parseDescriptor(j.config, 'config');
    if (!Array.isArray(j.layers)) throw invalid('manifest has no layers');
    if (j.layers.length > MAX_ENTRIES) throw invalid(`manifest has more than ${MAX_ENTRIES} layers`);
    const layers = j.layers.map((d, i) => parseDescriptor(d, `layers[${i}]`));
    return { kind: 'manifest', mediaType: kind, config, layers, ...(annotations ? { annotations } : {}) };
  }
  throw new RegistryError(`unsupported manifest media type and no default available: ${kind}`, 0, 'MANIFEST_INVALID');
}

// ---- platforms -------------------------------------------------------------------------------

const PART_RE = /^[A-Za-z0-9_.-]+$/;

/** containerd's normalisation of architecture names and variants. */
export function normalizePlatform(p: Platform): Platform {
  let os = p.os.toLowerCase();
  if (os === 'macos') os = 'darwin';
  let arch = p.architecture.toLowerCase();
  let variant = (p.variant ?? '').toLowerCase();
  switch (arch) {
    case 'i386':
      arch = '386';
      variant = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      arch = 'amd64';
      if (variant === 'v1') variant = '';
      break;
    case 'aarch64':
    case 'arm64':
      arch = 'arm64';
      if (variant === '' || variant === '8' || variant === 'v8.0') variant = 'v8';
      break;
    case 'armhf':
      arch = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      arch = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (variant === '' || variant === '7') variant = 'v7';
      else if (/^[5-8]$/.test(variant)) variant = `v${variant}`;
      break;
    default:
      break;
  }
  const out: Platform = { os, architecture: arch };
  if (variant !== '') out.variant = variant;
  if (p['os.version'] !== undefined) out['os.version'] = p['os.version'];
  if (p['os.features'] !== undefined) out['os.features'] = p['os.features'];
  return out;
}

/** `os/arch[/variant]` of a normalised platform (`linux/arm64/v8`, `linux/amd64`). */
export function formatPlatform(p: Platform): string {
  const n = normalizePlatform(p);
  return [n.os, n.architecture, ...(n.variant ? [n.variant] : [])].join('/');
}

/** The platform this daemon runs (linux and Node's process.arch in Go's names). */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = {
    x64: 'amd64',
    ia32: '386',
    arm64: 'arm64',
    arm: 'arm',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
    mips64el: 'mips64le',
    loong64: 'loong64',
  };
  return normalizePlatform({ os: 'linux', architecture: arch[process.arch] ?? process.arch });
}

const KNOWN_OS = new Set([
  'linux',
  'windows',
  'darwin',
  'freebsd',
  'netbsd',
  'openbsd',
  'solaris',
  'illumos',
  'aix',
  'android',
  'ios',
  'plan9',
  'js',
  'wasip1',
  'dragonfly',
  'macos',
]);

const KNOWN_ARCH = new Set(
  '386 amd64 amd64p32 arm armbe arm64 arm64be ppc64 ppc64le loong64 mips mipsle mips64 mips64le mips64p32 mips64p32le ppc riscv riscv64 s390 s390x sparc sparc64 wasm'.split(
    ' ',
  ),
);

/**
 * Parses `os[/arch[/variant]]` or a lone OS or architecture (containerd's platforms.Parse, with its
 * error texts): a lone OS takes the host architecture, a lone architecture takes linux.
 */
export function parsePlatform(spec: string): Platform {
  const bad = (why: string): RegistryError => new RegistryError(`${why}: invalid argument`, 0, 'PLATFORM_INVALID');
  if (spec.includes('*')) throw bad(`"${spec}": wildcards not yet supported`);
  const parts = spec.split('/');
  for (const p of parts) {
    if (!PART_RE.test(p))
      throw bad(`"${p}" is an invalid component of "${spec}": platform specifier component must match "${PART_RE.source}"`);
  }
  if (parts.length > 3) throw bad(`"${spec}": cannot parse platform specifier`);
  if (parts.length === 1) {
    const one = parts[0].toLowerCase();
    if (KNOWN_OS.has(one)) {
      const host = hostPlatform();
      return normalizePlatform({ os: one, architecture: host.architecture, ...(host.variant ? { variant: host.variant } : {}) });
    }
    const arch = normalizePlatform({ os: 'linux', architecture: one });
    if (!KNOWN_ARCH.has(arch.architecture)) throw bad(`"${spec}": unknown operating system or architecture`);
    return arch;
  }
  return normalizePlatform({ os: parts[0], architecture: parts[1], ...(parts[2] ? { variant: parts[2] } : {}) });
}

/** containerd's platformVector: the wanted platform, then what it can also run, best first. */
function platformVector(p: Platform): Platform[] {
  const out: Platform[] = [p];
  const num = Number((p.variant ?? '').replace(/^v/, ''));
  if (p.architecture === 'amd64') {
    if (Number.isInteger(num) && num > 1)
      for (let v = num - 1; v >= 1; v--) out.push(normalizePlatform({ os: p.os, architecture: 'amd64', variant: `v${v}` }));
    out.push({ os: p.os, architecture: '386' });
  } else if (p.architecture === 'arm') {
    if (Number.isInteger(num) && num > 5) for (let v = num - 1; v >= 5; v--) out.push({ os: p.os, architecture: 'arm', variant: `v${v}` });
  } else if (p.architecture === 'arm64') {
    out.push(...platformVector({ os: p.os, architecture: 'arm', variant: p.variant ?? 'v8' }));
  }
  return out;
}

function samePlatform(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture && (a.variant ?? '') === (b.variant ?? '');
}

/** Attestations (buildx provenance/SBOM) ride in indexes as unknown/unknown manifests. */
export function isAttestation(d: Descriptor): boolean {
  return (
    d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
    (d.platform?.os === 'unknown' && d.platform.architecture === 'unknown')
  );
}

/**
 * The index entries `want` can run, best first, as containerd's platforms.Only orders them:
 * os and architecture must match; a lower variant (amd64 v1..v4, arm v5..v8) or a 32-bit sibling
 * (386 for amd64, arm for arm64) ranks after the exact one. Attestations and entries without a
 * platform never match.
 */
export function matchPlatforms(manifests: Descriptor[], want: Platform): Descriptor[] {
  const vector = platformVector(normalizePlatform(want));
  const ranked: { d: Descriptor; rank: number; i: number }[] = [];
  manifests.forEach((d, i) => {
    if (d.platform === undefined || isAttestation(d) || !(MANIFEST_TYPES.has(d.mediaType) || INDEX_TYPES.has(d.mediaType))) return;
    const p = normalizePlatform(d.platform);
    const rank = vector.findIndex((v) => samePlatform(v, p));
    if (rank >= 0) ranked.push({ d, rank, i });
  });
  ranked.sort((a, b) => a.rank - b.rank || a.i - b.i);
  return ranked.map((r) => r.d);
}

/** The best entry of an index for `want`, or undefined. */
export function selectPlatform(index: { manifests: Descriptor[] }, want: Platform = hostPlatform()): Descriptor | undefined {
  return matchPlatforms(index.manifests, want)[0];
}
