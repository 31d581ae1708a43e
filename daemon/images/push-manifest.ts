// The manifest a push PUTs: Docker schema2 as dockerd writes it (distribution's MarshalIndent
// with three spaces, fields in its order), or OCI when a layer is zstd (schema2 has no zstd type).
import { MediaType } from './image-config';

export interface PushedLayer {
  mediaType: string;
  digest: string;
  size: number;
}

export interface BuiltManifest {
  mediaType: string;
  body: Buffer;
}

/** The manifest layer media type for a pushed blob of this compression, in the manifest's family. */
export function manifestLayerType(compression: 'gzip' | 'zstd', oci: boolean): string {
  if (compression === 'zstd') return MediaType.OciLayerZstd;
  return oci ? MediaType.OciLayerGzip : MediaType.DockerLayerGzip;
}

/**
 * Builds the manifest for `config` (the exact config bytes: their digest is the image ID) and the
 * pushed layers, bottom first. `oci` switches to the OCI family (needed for zstd layers).
 */
export function buildManifest(config: { digest: string; size: number }, layers: PushedLayer[], oci = false): BuiltManifest {
  const mediaType = oci ? MediaType.OciManifest : MediaType.DockerManifest;
  // Key order matters for the digest: distribution's schema2 struct order is mediaType, size, digest.
  const doc = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: oci ? MediaType.OciConfig : MediaType.DockerConfig, size: config.size, digest: config.digest },
    layers: layers.map((l) => ({ mediaType: l.mediaType, size: l.size, digest: l.digest })),
  };
  return { mediaType, body: Buffer.from(JSON.stringify(doc, null, 3)) };
}
