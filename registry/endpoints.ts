// Where to reach a registry, decided as moby's registry service decides it: docker.io goes through
// its mirrors first, an insecure registry is tried over https without verification then over http,
// any other only over https; TLS material comes from a certs.d-style directory per host[:port].
import { promises as dns } from 'node:dns';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { RegistryError, type Endpoint, type RegistrySettings } from './types';

export const DOCKER_IO = 'docker.io';
export const DOCKER_IO_REGISTRY = 'https://registry-1.docker.io';
export const DOCKER_IO_INDEX = 'https://index.docker.io';

export function isDockerIo(domain: string): boolean {
  const d = domain.toLowerCase();
  return d === 'docker.io' || d === 'index.docker.io' || d === 'registry-1.docker.io';
}

/** Splits `host[:port]` (IPv6 in brackets) into the host and the optional port. */
export function splitHostPort(hostPort: string): { host: string; port?: string } {
  if (hostPort.startsWith('[')) {
    const end = hostPort.indexOf(']');
    if (end > 0) {
      const rest = hostPort.slice(end + 1);
      return { host: hostPort.slice(1, end), ...(rest.startsWith(':') ? { port: rest.slice(1) } : {}) };
    }
  }
  const colon = hostPort.lastIndexOf(':');
  if (colon > 0 && hostPort.indexOf(':') === colon) return { host: hostPort.slice(0, colon), port: hostPort.slice(colon + 1) };
  return { host: hostPort };
}

interface InsecureSets {
  hosts: Set<string>;
  cidrs: net.BlockList;
}

function insecureSets(settings: RegistrySettings): InsecureSets {
  const cidrs = new net.BlockList();
  // Loopback is always insecure, as in moby.
  cidrs.addSubnet('127.0.0.0', 8, 'ipv4');
  cidrs.addSubnet('::1', 128, 'ipv6');
  const hosts = new Set<string>();
  for (const entry of settings.insecureRegistries) {
    const e = entry
      .trim()
      .replace(/^https?:\/\//, '')
      .replace(/\/+$/, '');
    const slash = e.indexOf('/');
    if (slash > 0) {
      const addr = e.slice(0, slash);
      const prefix = Number(e.slice(slash + 1));
      const family = net.isIP(addr);
      if (family !== 0 && Number.isInteger(prefix)) {
        try {
          cidrs.addSubnet(addr, prefix, family === 6 ? 'ipv6' : 'ipv4');
          continue;
        } catch {
          // Not a CIDR after all; keep it as a host name.
        }
      }
    }
    hosts.add(e.toLowerCase());
  }
  return { hosts, cidrs };
}

function ipInSets(ip: string, sets: InsecureSets): boolean {
  const family = net.isIP(ip);
  if (family === 0) return false;
  return sets.cidrs.check(ip, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * True when `hostPort` may be reached without TLS verification (and over http): listed as
 * host[:port], or an address (literal or resolved, as moby's isSecureIndex resolves) in an insecure
 * CIDR. A name that does not resolve is secure.
 */
export async function isInsecure(hostPort: string, settings: RegistrySettings): Promise<boolean> {
  const sets = insecureSets(settings);
  const hp = hostPort.toLowerCase();
  if (sets.hosts.has(hp)) return true;
  const { host } = splitHostPort(hp);
  if (net.isIP(host) !== 0) return ipInSets(host, sets);
  let addrs: { address: string }[];
  try {
    addrs = await dns.lookup(host, { all: true });
  } catch {
    return false;
  }
  return addrs.some((a) => ipInSets(a.address, sets));
}

/**
 * Reads `<certsDir>/<hostPort>/`: `*.crt` are CAs, `*.cert` + `*.key` a client pair. A pair with a
 * half missing is an error (moby's words). A missing directory means no extra TLS material.
 */
export async function loadCerts(certsDir: string, hostPort: string): Promise<{ ca?: Buffer[]; cert?: Buffer; key?: Buffer }> {
  if (certsDir === '' || hostPort.includes('/') || hostPort.startsWith('.')) return {};
  const dir = path.join(certsDir, hostPort);
  let names: string[];
  try {
    names = (await fs.readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return {};
    throw new RegistryError(`reading ${dir}: ${(err as Error).message}`, 0);
  }
  const out: { ca?: Buffer[]; cert?: Buffer; key?: Buffer } = {};
  const has = new Set(names);
  for (const name of names) {
    const full = path.join(dir, name);
    if (name.endsWith('.crt')) {
      (out.ca ??= []).push(await fs.readFile(full));
    } else if (name.endsWith('.cert')) {
      const keyName = `${name.slice(0, -'.cert'.length)}.key`;
      if (!has.has(keyName)) {
        throw new RegistryError(`missing key ${keyName} for client certificate ${name}. CA certificates must use the extension .crt`, 0);
      }
      out.cert = await fs.readFile(full);
      out.key = await fs.readFile(path.join(dir, keyName));
    } else if (name.endsWith('.key')) {
      const certName = `${name.slice(0, -'.key'.length)}.cert`;
      if (!has.has(certName)) throw new RegistryError(`missing client certificate ${certName} for key ${name}`, 0);
    }
  }
  return out;
}

async function tlsFor(hostPort: string, settings: RegistrySettings, skipVerify: boolean): Promise<NonNullable<Endpoint['tls']>> {
  return { skipVerify, ...(await loadCerts(settings.certsDir, hostPort)) };
}

function hostOf(u: string): string {
  return new URL(u).host;
}

function baseUrl(u: string): string {
  const url = new URL(u);
  return `${url.protocol}//${url.host}`;
}

/**
 * The endpoints to try, in order, for a registry domain (`docker.io`, `localhost:5000`, `[::1]:5000`).
 */
export async function endpointsFor(domain: string, settings: RegistrySettings): Promise<Endpoint[]> {
  if (isDockerIo(domain)) {
    const out: Endpoint[] = [];
    for (const m of settings.mirrors) {
      const raw = /^[a-z][a-z0-9+.-]*:\/\//i.test(m) ? m : `https://${m}`;
      const url = baseUrl(raw);
      if (url.startsWith('http://')) {
        out.push({ url, mirror: true });
      } else {
        const host = hostOf(url);
        out.push({ url, mirror: true, tls: await tlsFor(host, settings, await isInsecure(host, settings)) });
      }
    }
    out.push({ url: DOCKER_IO_REGISTRY, mirror: false, tls: await tlsFor(hostOf(DOCKER_IO_REGISTRY), settings, false) });
    return out;
  }
  return hostEndpoints(domain, settings);
}

async function hostEndpoints(domain: string, settings: RegistrySettings): Promise<Endpoint[]> {
  const insecure = await isInsecure(domain, settings);
  const httpsUrl = baseUrl(`https://${domain}`);
  const out: Endpoint[] = [{ url: httpsUrl, mirror: false, tls: await tlsFor(domain, settings, insecure) }];
  if (insecure) out.push({ url: baseUrl(`http://${domain}`), mirror: false });
  return out;
}

/**
 * Where search (/v1/search) and login go for a domain: docker.io's index is https://index.docker.io;
 * others as for pull (https, then http when insecure), without mirrors.
 */
export async function indexEndpoint(domain: string, settings: RegistrySettings): Promise<Endpoint[]> {
  if (isDockerIo(domain)) {
    return [{ url: DOCKER_IO_INDEX, mirror: false, tls: await tlsFor(hostOf(DOCKER_IO_INDEX), settings, false) }];
  }
  return hostEndpoints(domain, settings);
}
