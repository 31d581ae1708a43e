// Type checks of the network parts of request bodies (endpoint settings, NetworkingConfig,
// PortBindings), so a wrongly typed field is a 400 with Go's json text, as dockerd answers,
// rather than a TypeError deep in the daemon.
import type { EndpointSettings, NetworkingConfig, PortMap } from '../daemon/containers/api-types';
import { InvalidParameter } from '../lib/errors';

function jsonType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'object' : typeof v;
}

function fail(v: unknown, field: string, goType: string): never {
  throw new InvalidParameter(`json: cannot unmarshal ${jsonType(v)} into Go struct field ${field} of type ${goType}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function optString(o: Record<string, unknown>, k: string, struct: string): void {
  if (o[k] !== undefined && o[k] !== null && typeof o[k] !== 'string') fail(o[k], `${struct}.${k}`, 'string');
}

function optStrings(o: Record<string, unknown>, k: string, struct: string): void {
  const v = o[k];
  if (v === undefined || v === null) return;
  if (!Array.isArray(v)) fail(v, `${struct}.${k}`, '[]string');
  for (const x of v) if (typeof x !== 'string') fail(x, `${struct}.${k}`, 'string');
}

function optStringMap(o: Record<string, unknown>, k: string, struct: string): void {
  const v = o[k];
  if (v === undefined || v === null) return;
  if (!isObject(v)) fail(v, `${struct}.${k}`, 'map[string]string');
  for (const x of Object.values(v)) if (typeof x !== 'string') fail(x, `${struct}.${k}`, 'string');
}

/** One endpoint's settings (network connect's EndpointConfig, NetworkingConfig's entries). */
export function checkEndpointSettings(v: unknown, struct = 'EndpointSettings'): EndpointSettings | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) fail(v, struct, 'network.EndpointSettings');
  const ipam = v.IPAMConfig;
  if (ipam !== undefined && ipam !== null) {
    if (!isObject(ipam)) fail(ipam, `${struct}.IPAMConfig`, 'network.EndpointIPAMConfig');
    optString(ipam, 'IPv4Address', `${struct}.IPAMConfig`);
    optString(ipam, 'IPv6Address', `${struct}.IPAMConfig`);
    optStrings(ipam, 'LinkLocalIPs', `${struct}.IPAMConfig`);
  }
  optStrings(v, 'Links', struct);
  optStrings(v, 'Aliases', struct);
  optString(v, 'MacAddress', struct);
  optStringMap(v, 'DriverOpts', struct);
  if (v.GwPriority !== undefined && v.GwPriority !== null && !Number.isInteger(v.GwPriority))
    fail(v.GwPriority, `${struct}.GwPriority`, 'int');
  return v as EndpointSettings;
}

/** A create request's NetworkingConfig. */
export function checkNetworkingConfig(v: unknown): NetworkingConfig | null {
  if (v === undefined || v === null) return null;
  if (!isObject(v)) fail(v, 'NetworkingConfig', 'network.NetworkingConfig');
  const eps = v.EndpointsConfig;
  if (eps !== undefined && eps !== null) {
    if (!isObject(eps)) fail(eps, 'NetworkingConfig.EndpointsConfig', 'map[string]*network.EndpointSettings');
    for (const s of Object.values(eps)) checkEndpointSettings(s, 'NetworkingConfig.EndpointsConfig');
  }
  return v as NetworkingConfig;
}

/** HostConfig.PortBindings: {"80/tcp": [{"HostIp": "", "HostPort": "8080"}], …}. */
export function checkPortBindings(v: unknown): PortMap | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) fail(v, 'HostConfig.PortBindings', 'nat.PortMap');
  for (const list of Object.values(v)) {
    if (list === null) continue;
    if (!Array.isArray(list)) fail(list, 'HostConfig.PortBindings', '[]nat.PortBinding');
    for (const b of list) {
      if (!isObject(b)) fail(b, 'HostConfig.PortBindings', 'nat.PortBinding');
      optString(b, 'HostIp', 'HostConfig.PortBindings');
      optString(b, 'HostPort', 'HostConfig.PortBindings');
    }
  }
  return v as PortMap;
}
