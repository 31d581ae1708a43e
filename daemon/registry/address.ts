// Registry names as the Engine API receives them: the server address of a login and the index
// part of a search term, normalised as moby's registry service does (registry/service.go Auth,
// search.go splitReposSearchTerm, config.go normalizeIndexName).
import { InvalidParameter } from '../../lib/errors';

export const DOCKER_IO = 'docker.io';
const INDEX_HOSTNAME = 'index.docker.io';

/** The registry host a login is for: `docker.io` for Docker Hub in any of its spellings, else `host[:port]`. */
export function loginRegistryHost(serverAddress: string): string {
  if (serverAddress === '') return DOCKER_IO;
  const withScheme = /^https?:\/\//.test(serverAddress) ? serverAddress : `https://${serverAddress}`;
  try {
    new URL(withScheme);
  } catch (err) {
    throw new InvalidParameter(`unable to parse server address: ${(err as Error).message}`);
  }
  // The authority as written: WHATWG URLs would drop a default port (:443) that Go's url keeps.
  const authority = withScheme.replace(/^https?:\/\//, '').split(/[/?#]/, 1)[0];
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  if (host === '') throw new InvalidParameter(`unable to parse server address: no host in "${serverAddress}"`);
  return host === INDEX_HOSTNAME ? DOCKER_IO : host;
}

/**
 * Splits a search term into the index to ask and the term it is asked: `host/term` when the first
 * component looks like a host (has `.` or `:`, or is `localhost`), Docker Hub otherwise; on the
 * official index, a `library/` prefix is dropped.
 */
export function splitSearchTerm(term: string): { index: string; remoteName: string } {
  if (term.includes('://')) throw new InvalidParameter(`invalid repository name: repository name (${term}) should not have a scheme`);
  const slash = term.indexOf('/');
  let index = DOCKER_IO;
  let remoteName = term;
  if (slash !== -1) {
    const first = term.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      index = first === INDEX_HOSTNAME ? DOCKER_IO : first;
      remoteName = term.slice(slash + 1);
    }
  }
  if (index === DOCKER_IO && remoteName.startsWith('library/')) remoteName = remoteName.slice('library/'.length);
  return { index, remoteName };
}
