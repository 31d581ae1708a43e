// The registry/ client as the registry service uses it (the service takes it injected so unit
// tests fake the network).
import * as os from 'node:os';
import { openRepository } from '../../registry/client';
import { endpointsFor, indexEndpoint } from '../../registry/endpoints';
import { login } from '../../registry/login';
import { search } from '../../registry/search';
import { engineInfo } from '../system/engine';
import type { RegistryClientApi } from './service';

export const registryClient: RegistryClientApi = {
  endpointsFor,
  indexEndpoint,
  login,
  search,
  openRepository: (endpoint, name, opts) => openRepository(endpoint, name, opts),
};

/** dockerd's User-Agent shape (`docker/<v> go/<v> … os/linux arch/amd64`) with Berth's facts. */
export function registryUserAgent(): string {
  const { version, gitCommit } = engineInfo();
  return `berth/${version} node/${process.version.replace(/^v/, '')} git-commit/${gitCommit} kernel/${os.release()} os/linux arch/${process.arch === 'x64' ? 'amd64' : process.arch}`;
}

/** Where TLS material for registries lives, as dockerd's default certs.d. */
export const DEFAULT_CERTS_DIR = '/etc/docker/certs.d';
