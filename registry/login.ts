// Login as moby's loginV2 does it: ping /v2/, answer its challenge with the credentials (a token
// with offline access for Bearer, so the token server may hand out a refresh token to keep as the
// identity token; the Basic header for Basic), and require /v2/ to answer 200 with them.
import { Authorizer, challengesOf } from './auth';
import { registryError, transportFor } from './client';
import { discard } from './transport';
import { RegistryError, type Credentials, type Endpoint } from './types';

export const AUTH_CLIENT_ID = 'docker';

export async function login(endpoint: Endpoint, creds: Credentials, userAgent: string): Promise<{ identityToken?: string }> {
  const transport = transportFor(endpoint, { userAgent });
  const url = `${endpoint.url.replace(/\/+$/, '')}/v2/`;
  const ping = await transport.request({ method: 'GET', url });
  if (ping.status === 200) {
    // A registry without authentication: nothing to check, as in moby.
    discard(ping);
    return {};
  }
  if (ping.status !== 401) {
    const err = await registryError(ping);
    throw new RegistryError(
      `login attempt to ${url} failed with status: ${ping.status} ${ping.statusText}${err.message ? ` (${err.message})` : ''}`,
      ping.status,
      err.code,
      ping.status === 404 || ping.status >= 500,
    );
  }
  discard(ping);
  const auth = new Authorizer(transport, { credentials: creds, scopes: [], offline: true, clientId: AUTH_CLIENT_ID });
  auth.setChallenges(challengesOf(ping));
  const authz = await auth.authorization();
  const headers: Record<string, string> = {};
  if (authz !== undefined) headers.authorization = authz;
  const res = await transport.request({ method: 'GET', url, headers });
  discard(res);
  if (res.status !== 200) {
    throw new RegistryError(
      `login attempt to ${url} failed with status: ${res.status} ${res.statusText}`,
      res.status,
      res.status === 401 ? 'UNAUTHORIZED' : undefined,
    );
  }
  return auth.refreshToken !== undefined ? { identityToken: auth.refreshToken } : {};
}
