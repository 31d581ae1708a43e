// The classic builder's platform (moby 20.10 GetImage with a platform): an image's config must
// name a platform the wanted one runs (platforms.Only, or the same os/architecture when the image
// names no variant); otherwise the image counts as missing, is pulled for that platform, and fails
// the step if it still does not match.
import { InvalidParameter, NotFound } from '../../lib/errors';
import type { Platform } from '../../registry/types';
import { matchPlatforms, MediaType, normalizePlatform, parsePlatform } from '../../registry/manifest';
import type { ImageConfig } from '../images/image-config';

function imagePlatform(c: ImageConfig): Platform {
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  return { os: str(c.os), architecture: str(c.architecture), ...(c.variant ? { variant: c.variant } : {}) };
}

/** moby's OnlyPlatformWithFallback(want).Match(the image's platform). */
export function platformMatches(c: ImageConfig, want: Platform): boolean {
  const have = imagePlatform(c);
  if (matchPlatforms([{ mediaType: MediaType.ociManifest, digest: '', size: 0, platform: have }], want).length > 0) {
    return true;
  }
  if (have.variant !== undefined) return false;
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  return w.os === h.os && w.architecture === h.architecture;
}

/** As containerd's platforms.Format prints a parsed platform (arm64's implied v8 left out). */
function format(p: Platform, normalize: boolean): string {
  const n = normalize ? normalizePlatform(p) : p;
  const variant = n.architecture === 'arm64' && n.variant === 'v8' && normalize ? undefined : n.variant;
  return [n.os, n.architecture, ...(variant ? [variant] : [])].join('/');
}

export function platformMismatchError(ref: string, c: ImageConfig, want: Platform): NotFound {
  return new NotFound(
    `image with reference ${ref} was found but does not match the specified platform: wanted ${format(want, true)}, actual: ${format(imagePlatform(c), false)}`,
  );
}

/** `FROM --platform=…` after expansion: containerd's platforms.Parse, its error wrapped as moby does. */
export function stagePlatform(spec: string): Platform {
  try {
    return parsePlatform(spec);
  } catch (err) {
    throw new InvalidParameter(`failed to parse platform ${spec}: ${(err as Error).message}`);
  }
}
