// Types for the image config JSON (OCI image-spec config with docker's extensions) and for OCI
// manifests/indexes, media type constants, and validated parsing of untrusted config bytes.

import { exactParse } from '../../lib/int64';
import { InvalidParameter } from '../../lib/errors';
import { isValidDigest } from './reference';
import type { ContainerConfig } from '../containers/api-types';

export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OciLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OciLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

export type LayerCompression = 'none' | 'gzip' | 'zstd';

const MANIFEST_TYPES: ReadonlySet<string> = new Set([MediaType.OciManifest, MediaType.DockerManifest]);
const INDEX_TYPES: ReadonlySet<string> = new Set([MediaType.OciIndex, MediaType.DockerManifestList]);

export function isManifestMediaType(t: string | undefined): boolean {
  return t !== undefined && MANIFEST_TYPES.has(t);
}
export function isIndexMediaType(t: string | undefined): boolean {
  return t !== undefined && INDEX_TYPES.has(t);
}

/** Compression implied by a layer media type, or undefined if it is not a layer type we know. */
export function layerMediaTypeCompression(t: string): LayerCompression | undefined {
  switch (t) {
    case MediaType.OciLayer:
    case MediaType.OciLayerNondistributable:
    case MediaType.DockerLayer:
      return 'none';
    case MediaType.OciLayerGzip:
    case MediaType.OciLayerNondistributableGzip:
    case MediaType.DockerLayerGzip:
    case MediaType.DockerForeignLayer:
      return 'gzip';
    case MediaType.OciLayerZstd:
      return 'zstd';
    default:
      return undefined;
  }
}

/** The OCI layer media type for a compression. */
export function ociLayerMediaType(c: LayerCompression): string {
  return c === 'gzip' ? MediaType.OciLayerGzip : c === 'zstd' ? MediaType.OciLayerZstd : MediaType.OciLayer;
}

/**
 * The runtime part of an image config ("config", "container_config"): Docker writes the full
 * container.Config here, so it is the API's ContainerConfig (HealthConfig durations are Go
 * nanoseconds). Fields the spec no longer lists (e.g. MacAddress) stay in the parsed JSON and
 * round-trip unchanged; nothing reads them.
 */
export type { ContainerConfig, HealthConfig } from '../containers/api-types';

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface RootFS {
  type: string;
  diff_ids: string[];
}

export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
  created?: string;
  author?: string;
  config?: ContainerConfig;
  container?: string;
  container_config?: ContainerConfig;
  docker_version?: string;
  comment?: string;
  parent?: string;
  rootfs: RootFS;
  history?: HistoryEntry[];
  [extra: string]: unknown;
}

// One shape for OCI descriptors and platforms: the registry layer's.
import type { Descriptor, Platform } from '../../registry/types';

export type { Descriptor, Platform };

export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface Index {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** Annotations used on index.json entries by docker save and containerd. */
export const Annotation = {
  ImageName: 'io.containerd.image.name',
  RefName: 'org.opencontainers.image.ref.name',
  DockerReferenceType: 'vnd.docker.reference.type',
} as const;

// ---- validation ----

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJson(buf: Buffer | string, what: string): unknown {
  try {
    // Exact: a healthcheck duration (int64 nanoseconds) may be beyond 2^53 and must read back as written.
    return exactParse(typeof buf === 'string' ? buf : buf.toString('utf8'));
  } catch (err) {
    throw new InvalidParameter(`invalid ${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function checkStringArray(v: unknown, field: string, what: string): void {
  if (v === undefined || v === null) return;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw new InvalidParameter(`invalid ${what}: ${field} must be an array of strings`);
  }
}

function checkString(v: unknown, field: string, what: string): void {
  if (v !== undefined && typeof v !== 'string') throw new InvalidParameter(`invalid ${what}: ${field} must be a string`);
}

function checkStringMap(v: unknown, field: string, what: string): void {
  if (v === undefined || v === null) return;
  if (!isObject(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw new InvalidParameter(`invalid ${what}: ${field} must be an object of strings`);
  }
}

function checkObjectSet(v: unknown, field: string, what: string): void {
  if (v === undefined || v === null) return;
  if (!isObject(v)) throw new InvalidParameter(`invalid ${what}: ${field} must be an object`);
}

function validateContainerConfig(v: unknown, field: string, what: string): void {
  if (v === undefined || v === null) return;
  if (!isObject(v)) throw new InvalidParameter(`invalid ${what}: ${field} must be an object`);
  for (const k of ['Env', 'Entrypoint', 'Cmd', 'OnBuild', 'Shell']) checkStringArray(v[k], `${field}.${k}`, what);
  for (const k of ['User', 'WorkingDir', 'StopSignal']) checkString(v[k], `${field}.${k}`, what);
  checkStringMap(v.Labels, `${field}.Labels`, what);
  checkObjectSet(v.ExposedPorts, `${field}.ExposedPorts`, what);
  checkObjectSet(v.Volumes, `${field}.Volumes`, what);
  if (v.Healthcheck !== undefined && v.Healthcheck !== null) {
    if (!isObject(v.Healthcheck)) throw new InvalidParameter(`invalid ${what}: ${field}.Healthcheck must be an object`);
    checkStringArray(v.Healthcheck.Test, `${field}.Healthcheck.Test`, what);
  }
}

/**
 * Parses and validates image config bytes from an untrusted source (archive, registry). Checks the
 * structure the daemon relies on: os/architecture strings, rootfs of type "layers" with valid
 * diff_ids, typed config fields. Unknown fields are preserved.
 */
export function parseImageConfig(buf: Buffer | string): ImageConfig {
  const what = 'image config';
  const v = parseJson(buf, what);
  if (!isObject(v)) throw new InvalidParameter(`invalid ${what}: not a JSON object`);
  const rootfs = v.rootfs;
  if (!isObject(rootfs)) throw new InvalidParameter(`invalid ${what}: missing rootfs`);
  if (rootfs.type !== 'layers') {
    throw new InvalidParameter(`invalid ${what}: rootfs type must be "layers", got ${JSON.stringify(rootfs.type ?? null)}`);
  }
  const diffIds = rootfs.diff_ids ?? [];
  if (!Array.isArray(diffIds)) throw new InvalidParameter(`invalid ${what}: rootfs.diff_ids must be an array`);
  for (const d of diffIds) {
    if (typeof d !== 'string' || !isValidDigest(d)) {
      throw new InvalidParameter(`invalid ${what}: invalid diff ID ${JSON.stringify(d)}`);
    }
  }
  rootfs.diff_ids = diffIds;
  // dockerd treats a missing os as the host's (linux); architecture is required by the spec but
  // old images lack it, so only the type is enforced.
  if (v.os === undefined) v.os = 'linux';
  checkString(v.os, 'os', what);
  if (v.architecture === undefined) v.architecture = '';
  checkString(v.architecture, 'architecture', what);
  for (const k of ['variant', 'os.version', 'created', 'author', 'docker_version', 'comment']) checkString(v[k], k, what);
  if (typeof v.created === 'string' && v.created !== '' && Number.isNaN(Date.parse(v.created))) {
    throw new InvalidParameter(`invalid ${what}: created is not a valid timestamp: ${v.created}`);
  }
  validateContainerConfig(v.config, 'config', what);
  validateContainerConfig(v.container_config, 'container_config', what);
  if (v.history !== undefined && v.history !== null) {
    if (!Array.isArray(v.history) || v.history.some((h) => !isObject(h))) {
      throw new InvalidParameter(`invalid ${what}: history must be an array of objects`);
    }
  }
  return v as ImageConfig;
}

function validateDescriptor(v: unknown, field: string, what: string): Descriptor {
  if (!isObject(v)) throw new InvalidParameter(`invalid ${what}: ${field} must be an object`);
  if (typeof v.mediaType !== 'string') throw new InvalidParameter(`invalid ${what}: ${field}.mediaType must be a string`);
  if (typeof v.digest !== 'string' || !isValidDigest(v.digest)) {
    throw new InvalidParameter(`invalid ${what}: ${field}.digest is not a valid digest: ${JSON.stringify(v.digest ?? null)}`);
  }
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) {
    throw new InvalidParameter(`invalid ${what}: ${field}.size must be a non-negative integer`);
  }
  checkStringMap(v.annotations, `${field}.annotations`, what);
  if (v.platform !== undefined && !isObject(v.platform)) {
    throw new InvalidParameter(`invalid ${what}: ${field}.platform must be an object`);
  }
  return v as unknown as Descriptor;
}

/** Parses an OCI image manifest or docker schema2 manifest. */
export function parseManifest(buf: Buffer | string): Manifest {
  const what = 'image manifest';
  const v = parseJson(buf, what);
  if (!isObject(v)) throw new InvalidParameter(`invalid ${what}: not a JSON object`);
  if (v.schemaVersion !== 2)
    throw new InvalidParameter(`invalid ${what}: unsupported schemaVersion ${JSON.stringify(v.schemaVersion ?? null)}`);
  if (v.mediaType !== undefined && !isManifestMediaType(String(v.mediaType))) {
    throw new InvalidParameter(`invalid ${what}: unexpected mediaType ${JSON.stringify(v.mediaType)}`);
  }
  validateDescriptor(v.config, 'config', what);
  if (!Array.isArray(v.layers)) throw new InvalidParameter(`invalid ${what}: layers must be an array`);
  v.layers.forEach((l, i) => validateDescriptor(l, `layers[${i}]`, what));
  return v as unknown as Manifest;
}

/** Parses an OCI image index or docker manifest list. */
export function parseIndex(buf: Buffer | string): Index {
  const what = 'image index';
  const v = parseJson(buf, what);
  if (!isObject(v)) throw new InvalidParameter(`invalid ${what}: not a JSON object`);
  if (v.schemaVersion !== 2)
    throw new InvalidParameter(`invalid ${what}: unsupported schemaVersion ${JSON.stringify(v.schemaVersion ?? null)}`);
  if (v.mediaType !== undefined && !isIndexMediaType(String(v.mediaType))) {
    throw new InvalidParameter(`invalid ${what}: unexpected mediaType ${JSON.stringify(v.mediaType)}`);
  }
  if (!Array.isArray(v.manifests)) throw new InvalidParameter(`invalid ${what}: manifests must be an array`);
  v.manifests.forEach((m, i) => validateDescriptor(m, `manifests[${i}]`, what));
  return v as unknown as Index;
}

/** GOARCH name of the host, as used in image configs and platforms. */
export function hostArchitecture(): string {
  switch (process.arch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    case 'arm64':
      return 'arm64';
    case 'arm':
      return 'arm';
    case 'ppc64':
      return 'ppc64le';
    case 's390x':
      return 's390x';
    case 'riscv64':
      return 'riscv64';
    default:
      return process.arch;
  }
}
