// X-Registry-Config: the client's credentials for every registry it knows, keyed by server as the
// CLI's config file keys them. A FROM image is pulled with its registry's entry, as dockerd's
// builder picks it (registry.ResolveAuthConfig: Docker Hub under its index address).
import type { Credentials } from '../../registry/types';
import { parseNormalizedNamed } from '../images/reference';

const HUB_KEYS = ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];

export function credentialsFor(ref: string, configs: Readonly<Record<string, Credentials>>): Credentials {
  let domain: string;
  try {
    domain = parseNormalizedNamed(ref).domain;
  } catch {
    return {};
  }
  const keys = domain === 'docker.io' ? HUB_KEYS : [domain, `https://${domain}`, `http://${domain}`];
  for (const [server, creds] of Object.entries(configs)) {
    const bare = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    if (keys.includes(server) || keys.includes(bare)) return creds;
  }
  return {};
}
