// The index's search endpoint (/v1/search), as dockerd queries it: anonymous first, then answering
// the index's challenge with the caller's credentials; the answer is untrusted and capped.
import { Authorizer, challengesOf } from './auth';
import { registryError, transportFor } from './client';
import { discard, readBody } from './transport';
import { RegistryError, type Credentials, type Endpoint } from './types';

export const SEARCH_BODY_CAP = 4 * 1024 * 1024;

export interface SearchResult {
  name: string;
  description: string;
  star_count: number;
  is_official: boolean;
  is_automated: boolean;
}

export interface SearchResponse {
  num_results: number;
  query: string;
  results: SearchResult[];
}

function toResult(v: unknown): SearchResult | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Record<string, unknown>;
  if (typeof r.name !== 'string') return undefined;
  return {
    name: r.name,
    description: typeof r.description === 'string' ? r.description : '',
    star_count: typeof r.star_count === 'number' && Number.isSafeInteger(r.star_count) ? r.star_count : 0,
    is_official: r.is_official === true,
    is_automated: r.is_automated === true,
  };
}

export async function search(
  index: Endpoint,
  term: string,
  limit: number,
  creds: Credentials | undefined,
  userAgent: string,
): Promise<SearchResponse> {
  const transport = transportFor(index, { userAgent });
  const u = new URL(`${index.url.replace(/\/+$/, '')}/v1/search`);
  u.searchParams.set('q', term);
  if (limit > 0) u.searchParams.set('n', String(limit));
  let res = await transport.request({ method: 'GET', url: u.toString() });
  if (res.status === 401 && creds !== undefined) {
    const auth = new Authorizer(transport, { credentials: creds, scopes: ['registry:catalog:search'] });
    auth.setChallenges(challengesOf(res));
    discard(res);
    const authz = await auth.authorization();
    res = await transport.request({ method: 'GET', url: u.toString(), headers: authz !== undefined ? { authorization: authz } : {} });
  }
  if (res.status !== 200) throw await registryError(res);
  const body = await readBody(res, SEARCH_BODY_CAP);
  let j: unknown;
  try {
    j = JSON.parse(body.toString('utf8'));
  } catch {
    throw new RegistryError(`invalid search answer from ${index.url}`, res.status);
  }
  if (typeof j !== 'object' || j === null || !Array.isArray((j as { results?: unknown }).results)) {
    throw new RegistryError(`invalid search answer from ${index.url}`, res.status);
  }
  const o = j as { results: unknown[]; num_results?: unknown; query?: unknown };
  const results = o.results.map(toResult).filter((r): r is SearchResult => r !== undefined);
  return {
    num_results: typeof o.num_results === 'number' ? o.num_results : results.length,
    query: typeof o.query === 'string' ? o.query : term,
    results,
  };
}
