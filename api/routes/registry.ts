// Registry operations that are not pull or push: POST /auth (SystemAuth), GET /images/search
// (ImageSearch), GET /distribution/{name}/json (DistributionInspect). Parameters are validated
// here with dockerd's texts; daemon/registry/service.ts does the work.
import { InvalidParameter } from '../../lib/errors';
import { atoi } from '../../lib/go-strconv';
import type { DistributionInspect, SearchOptions, SearchResult } from '../../daemon/registry/service';
import type { Credentials } from '../../registry/types';
import { readJsonBody } from '../body';
import { Filters } from '../filters';
import { pathParam, queryOf, queryString } from '../query';
import { authFromObject, registryAuth } from '../registry-auth';
import { sendJson } from '../reply';
import type { Operations } from './operations';

export interface RegistryBackend {
  login(serverAddress: string, creds: Credentials): Promise<{ identityToken?: string }>;
  distributionInspect(name: string, creds: Credentials): Promise<DistributionInspect>;
  search(opts: SearchOptions, creds: Credentials | undefined): Promise<SearchResult[]>;
}

const SEARCH_FILTERS = ['is-automated', 'is-official', 'stars'];

/** The `limit` parameter: absent or empty → 0 (the default); not a number or negative → 400. */
export function parseSearchLimit(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 0;
  let n: number;
  try {
    n = atoi(raw);
  } catch (err) {
    throw new InvalidParameter(`invalid limit specified: ${(err as Error).message}`);
  }
  if (n < 0) throw new InvalidParameter('invalid limit specified');
  return n;
}

/** The `filters` of a search, validated as moby's registry.Service.Search validates them. */
export function searchFilterOptions(filters: Filters): Pick<SearchOptions, 'isOfficial' | 'isAutomated' | 'minStars'> {
  filters.validate(SEARCH_FILTERS);
  const out: Pick<SearchOptions, 'isOfficial' | 'isAutomated' | 'minStars'> = {};
  const isAutomated = filters.boolValue('is-automated', false);
  if (isAutomated) out.isAutomated = true;
  const isOfficial = filters.boolValue('is-official', false);
  if (filters.has('is-official')) out.isOfficial = isOfficial;
  if (filters.has('stars')) {
    let min = 0;
    for (const v of filters.get('stars')) {
      let n: number;
      try {
        n = atoi(v);
      } catch (err) {
        throw new InvalidParameter(`invalid filter 'stars=${v}': ${(err as Error).message}`);
      }
      if (n > min) min = n;
    }
    out.minStars = min;
  }
  return out;
}

export function registryOperations(backend: RegistryBackend): Operations {
  return {
    SystemAuth: async (request, reply) => {
      const body = readJsonBody(request);
      // moby's authconfig.DecodeRequestBody: no body is a decode error, not Docker Hub.
      if (body === undefined) throw new InvalidParameter('invalid X-Registry-Auth header: invalid JSON: EOF');
      const { credentials, serverAddress } = authFromObject(body, 'request body');
      const { identityToken } = await backend.login(serverAddress, credentials);
      // IdentityToken is omitempty in dockerd's AuthResponse.
      return sendJson(
        reply,
        identityToken !== undefined && identityToken !== ''
          ? { Status: 'Login Succeeded', IdentityToken: identityToken }
          : { Status: 'Login Succeeded' },
      );
    },

    ImageSearch: async (request, reply) => {
      const query = queryOf(request);
      const limit = parseSearchLimit(queryString(query, 'limit'));
      const filterOpts = searchFilterOptions(Filters.fromQuery(query));
      // For a search, a missing or invalid X-Registry-Auth means anonymous, as in dockerd.
      const { credentials } = registryAuth(request, { strict: false });
      const results = await backend.search({ term: queryString(query, 'term') ?? '', limit, ...filterOpts }, credentials);
      return sendJson(reply, results);
    },

    DistributionInspect: async (request, reply) => {
      const { credentials } = registryAuth(request, { strict: false });
      return sendJson(reply, await backend.distributionInspect(pathParam(request, 'name'), credentials));
    },
  };
}
