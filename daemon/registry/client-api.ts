// The registry/ client as the registry service uses it (the service takes it injected so unit
// tests fake the network).
import { openRepository } from '../../registry/client';
import { endpointsFor, indexEndpoint } from '../../registry/endpoints';
import { login } from '../../registry/login';
import { search } from '../../registry/search';
import type { RegistryClientApi } from './service';

export const registryClient: RegistryClientApi = {
  endpointsFor,
  indexEndpoint,
  login,
  search,
  openRepository: (endpoint, name, opts) => openRepository(endpoint, name, opts),
};
