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
