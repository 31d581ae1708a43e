// API version negotiation, as dockerd's version middleware does it: an optional `/vX.Y` path
// prefix picks the version a request speaks; no prefix means the newest one.

import { InvalidParameter } from '../lib/errors';
import { API_VERSION, MIN_API_VERSION } from '../daemon/system/engine';

export { API_VERSION, MIN_API_VERSION };

/** dockerd's route matcher: `/v{version:[0-9.]+}` followed by the route path. */
const PREFIX = /^\/v([0-9.]+)(\/.*)$/;

export interface VersionPrefix {
  /** The version named in the prefix, or undefined when the path had none. */
  version: string | undefined;
  /** The path without the prefix (query string kept). */
  path: string;
}

/** Splits `/v1.41/containers/json?all=1` into `1.41` and `/containers/json?all=1`. */
export function parseVersionPrefix(url: string): VersionPrefix {
  const q = url.indexOf('?');
  const pathname = q === -1 ? url : url.slice(0, q);
  const m = PREFIX.exec(pathname);
  if (!m) return { version: undefined, path: url };
  return { version: m[1], path: m[2] + (q === -1 ? '' : url.slice(q)) };
}

/**
 * Compares dotted versions the way moby's versions.compare does: numerically part by part,
 * missing parts count as 0 and non-numeric parts as 0. Returns -1, 0 or 1.
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  const n = Math.max(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const x = i < pa.length ? toInt(pa[i]) : 0;
    const y = i < pb.length ? toInt(pb[i]) : 0;
    if (x > y) return 1;
    if (x < y) return -1;
  }
  return 0;
}

function toInt(s: string): number {
  return /^[0-9]+$/.test(s) ? Number(s) : 0;
}

export const versionLessThan = (a: string, b: string): boolean => compareVersions(a, b) < 0;
export const versionGreaterThan = (a: string, b: string): boolean => compareVersions(a, b) > 0;

/**
 * The version a request is served at: the prefix's, or the newest when there is none.
 * Throws InvalidParameter with dockerd's exact wording when it is out of range.
 */
export function negotiateVersion(requested: string | undefined): string {
  const version = requested === undefined || requested === '' ? API_VERSION : requested;
  if (versionLessThan(version, MIN_API_VERSION)) {
    throw new InvalidParameter(
      `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
    );
  }
  if (versionGreaterThan(version, API_VERSION)) {
    throw new InvalidParameter(`client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
  }
  return version;
}
