// Registry settings from flags and daemon.json (`--registry-mirror`, `--insecure-registry`),
// validated and normalised as moby's registry.newServiceConfig does, and shown by `docker info`.
import * as net from 'node:net';
import { formatCidr4, maskedCidr, parseCidr4 } from '../network/cidr';
import type { RegistrySettings } from '../registry/types';
import type { RegistryServiceConfig } from './system/types';

/** Always insecure (moby: a stop-gap kept for local registries). */
const LOOPBACK_CIDRS = ['::1/128', '127.0.0.0/8'];

export class RegistryConfigError extends Error {}

/** moby's ValidateMirror: an http(s) URL without query, fragment or user info; kept with a trailing slash. */
export function validateMirror(raw: string): string {
  let uri: URL;
  try {
    uri = new URL(raw);
  } catch {
    throw new RegistryConfigError(`invalid mirror: "${raw}" is not a valid URI`);
  }
  if (uri.protocol !== 'http:' && uri.protocol !== 'https:') {
    throw new RegistryConfigError(`invalid mirror: unsupported scheme "${uri.protocol.replace(/:$/, '')}" in "${raw}"`);
  }
  if (uri.search !== '' || uri.hash !== '') throw new RegistryConfigError(`invalid mirror: query or fragment at end of the URI "${raw}"`);
  if (uri.username !== '' || uri.password !== '') {
    throw new RegistryConfigError(
      `invalid mirror: username/password not allowed in URI "${uri.protocol}//${uri.username}:xxxxx@${uri.host}${uri.pathname}"`,
    );
  }
  return `${raw.replace(/\/+$/, '')}/`;
}

/** A `host[:port]` entry as moby's validateHostPort takes it. */
function validHostPort(s: string): boolean {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(s);
  if (m === null) return false;
  const host = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1];
  if (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535)) return false;
  return net.isIP(host) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host);
}

/** moby's loadInsecureRegistries: CIDRs (normalised to their network) and `host[:port]` names. */
export function validateInsecureRegistry(raw: string): string {
  let r = raw;
  if (/^http:\/\//i.test(r)) r = r.slice(7);
  else if (/^https:\/\//i.test(r)) r = r.slice(8);
  else if (r.includes('://')) throw new RegistryConfigError(`insecure registry ${raw} should not contain '://'`);
  r = r.replace(/\/+$/, '');
  if (r.includes('/')) {
    const v4 = parseCidr4(r);
    if (v4) return formatCidr4(maskedCidr(v4));
    const [addr, bits] = r.split('/');
    if (net.isIPv6(addr) && /^\d+$/.test(bits) && Number(bits) <= 128) return `${addr.toLowerCase()}/${Number(bits)}`;
    throw new RegistryConfigError(`insecure registry ${raw} is not valid`);
  }
  if (!validHostPort(r)) throw new RegistryConfigError(`insecure registry ${raw} is not valid`);
  return r;
}

export interface RegistryConfigInput {
  mirrors: string[];
  insecureRegistries: string[];
}

/** The settings the registry client takes. */
export function registrySettings(cfg: RegistryConfigInput, opts: { certsDir: string; userAgent: string }): RegistrySettings {
  return { mirrors: cfg.mirrors, insecureRegistries: cfg.insecureRegistries, certsDir: opts.certsDir, userAgent: opts.userAgent };
}

/** `docker info`'s RegistryConfig for these settings. */
export function registryServiceConfig(cfg: RegistryConfigInput): RegistryServiceConfig {
  const cidrs = cfg.insecureRegistries.filter((r) => r.includes('/'));
  const names = cfg.insecureRegistries.filter((r) => !r.includes('/'));
  const indexConfigs: RegistryServiceConfig['IndexConfigs'] = {};
  for (const n of names) indexConfigs[n] = { Name: n, Mirrors: [], Secure: false, Official: false };
  indexConfigs['docker.io'] = { Name: 'docker.io', Mirrors: cfg.mirrors, Secure: true, Official: true };
  return {
    InsecureRegistryCIDRs: [...new Set([...cidrs, ...LOOPBACK_CIDRS])],
    IndexConfigs: indexConfigs,
    Mirrors: cfg.mirrors,
  };
}
