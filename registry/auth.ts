// Registry authentication as distribution's docker client does it: the /v2/ ping's WWW-Authenticate
// challenges choose Bearer (token server, token cached per scope set until it expires) or Basic
// (credentials on each request); a registry token from the caller is sent as it is.
import { readBody, type HttpResponse, type Transport } from './transport';
import { RegistryError, type Credentials } from './types';

export interface Challenge {
  /** Lower-cased scheme: `bearer`, `basic`, … */
  scheme: string;
  /** Parameter names lower-cased; values unquoted. */
  params: Record<string, string>;
}

const TOKEN_CAP = 1024 * 1024;
/** distribution's minimum token lifetime, also the default when the server gives none. */
export const MIN_TOKEN_LIFETIME_S = 60;

function isTokenChar(c: string): boolean {
  return c !== '' && !/[\s,="]/.test(c);
}

/**
 * Parses WWW-Authenticate values (RFC 7235): several challenges may share one value, parameters
 * are `name=token` or `name="quoted \"string\""`.
 */
export function parseChallenges(values: string[]): Challenge[] {
  const out: Challenge[] = [];
  for (const value of values) {
    let i = 0;
    let current: Challenge | undefined;
    const skip = (): void => {
      while (i < value.length && /[\s,]/.test(value[i])) i++;
    };
    const readToken = (): string => {
      const start = i;
      while (i < value.length && isTokenChar(value[i])) i++;
      return value.slice(start, i);
    };
    for (;;) {
      skip();
      if (i >= value.length) break;
      const tok = readToken();
      if (tok === '') {
        i++; // stray character
        continue;
      }
      let j = i;
      while (j < value.length && value[j] === ' ') j++;
      if (value[j] === '=' && current !== undefined) {
        i = j + 1;
        while (i < value.length && value[i] === ' ') i++;
        let v = '';
        if (value[i] === '"') {
          i++;
          while (i < value.length && value[i] !== '"') {
            if (value[i] === '\\' && i + 1 < value.length) i++;
            v += value[i];
            i++;
          }
          i++; // closing quote
        } else {
          v = readToken();
        }
        current.params[tok.toLowerCase()] = v;
      } else {
        current = { scheme: tok.toLowerCase(), params: {} };
        out.push(current);
        // token68 (e.g. `Negotiate abc==`) is not used by registries; skip it.
        if (value[j] !== '=') i = j;
      }
    }
  }
  return out;
}

export interface AuthOptions {
  credentials?: Credentials;
  /** `repository:<name>:pull,push` … */
  scopes: string[];
  /** Ask for a refresh token (login): `offline_token=true` / `access_type=offline`. */
  offline?: boolean;
  clientId?: string;
  /** Use the OAuth2 POST with grant_type=password when there is no refresh token. */
  forceOAuth?: boolean;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

interface TokenAnswer {
  token?: unknown;
  access_token?: unknown;
  expires_in?: unknown;
  issued_at?: unknown;
  refresh_token?: unknown;
}

/** Reads a registry or token server error body into a message (errors[], details, message). */
export async function errorMessageOf(res: HttpResponse): Promise<{ code?: string; message?: string }> {
  let body: Buffer;
  try {
    body = await readBody(res, 64 * 1024);
  } catch {
    return {};
  }
  try {
    const j = JSON.parse(body.toString('utf8')) as {
      errors?: unknown;
      details?: unknown;
      message?: unknown;
      error?: unknown;
      error_description?: unknown;
    };
    if (Array.isArray(j.errors) && j.errors.length > 0) {
      const e = j.errors[0] as { code?: unknown; message?: unknown };
      const code = typeof e.code === 'string' ? e.code : undefined;
      const message = typeof e.message === 'string' && e.message !== '' ? e.message : code?.toLowerCase().replace(/_/g, ' ');
      return { ...(code !== undefined ? { code } : {}), ...(message !== undefined ? { message } : {}) };
    }
    for (const m of [j.details, j.error_description, j.message, j.error]) {
      if (typeof m === 'string' && m !== '') return { message: m };
    }
  } catch {
    // not JSON
  }
  return {};
}

export class Authorizer {
  private challenges: Challenge[] = [];
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<CachedToken>>();
  /** A refresh token the token server handed out (login with offline access). */
  refreshToken?: string;

  constructor(
    private readonly transport: Transport,
    private readonly opts: AuthOptions,
  ) {}

  setChallenges(ch: Challenge[]): void {
    this.challenges = ch;
    this.tokens.clear();
  }

  get scheme(): 'bearer' | 'basic' | undefined {
    if (this.challenges.some((c) => c.scheme === 'bearer')) return 'bearer';
    if (this.challenges.some((c) => c.scheme === 'basic')) return 'basic';
    return undefined;
  }

  /** The Authorization header for the next request, if any. */
  async authorization(extraScopes: string[] = []): Promise<string | undefined> {
    const creds = this.opts.credentials;
    const scheme = this.scheme;
    if (scheme === 'bearer') {
      if (creds?.registryToken) return `Bearer ${creds.registryToken}`;
      const bearer = this.challenges.find((c) => c.scheme === 'bearer');
      if (bearer === undefined) return undefined;
      const scopes = [...new Set([...this.opts.scopes, ...extraScopes])];
      const key = scopes.join(' ');
      const cached = this.tokens.get(key);
      if (cached && Date.now() < cached.expiresAt) return `Bearer ${cached.token}`;
      // Concurrent requests (parallel layer downloads) share one token fetch.
      let pending = this.inflight.get(key);
      if (pending === undefined) {
        pending = this.fetchToken(bearer.params, scopes).finally(() => this.inflight.delete(key));
        this.inflight.set(key, pending);
      }
      const t = await pending;
      this.tokens.set(key, t);
      return `Bearer ${t.token}`;
    }
    if (scheme === 'basic' && creds?.username !== undefined && creds.username !== '') {
      return `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`;
    }
    return undefined;
  }

  private realmOf(params: Record<string, string>): URL {
    const realm = params.realm;
    if (realm === undefined || realm === '') throw new RegistryError('no realm specified for token auth challenge', 401, 'UNAUTHORIZED');
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError(`invalid token auth challenge realm: ${realm}`, 401, 'UNAUTHORIZED');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new RegistryError(`invalid token auth challenge realm: ${realm}`, 401, 'UNAUTHORIZED');
    return url;
  }

  private async fetchToken(params: Record<string, string>, scopes: string[]): Promise<CachedToken> {
    const creds = this.opts.credentials;
    const realm = this.realmOf(params);
    const service = params.service;
    const refresh = this.refreshToken ?? creds?.identityToken;
    const hasPassword = creds?.username !== undefined && creds.username !== '';
    const viaPost = (refresh !== undefined && refresh !== '') || (this.opts.forceOAuth === true && hasPassword);
    if (viaPost) {
      const res = await this.postToken(realm, service, scopes, refresh);
      if (res !== undefined) return res;
    }
    const got = await this.getToken(realm, service, scopes, hasPassword && !viaPost);
    if (got !== undefined) return got;
    // The token server does not do GET (404/405): it wants the OAuth2 password grant.
    const posted = await this.postToken(realm, service, scopes, undefined);
    if (posted === undefined) throw new RegistryError('token server accepts neither GET nor POST', 405, 'UNAUTHORIZED');
    return posted;
  }

  /** OAuth2 POST; undefined when the server does not do it (404/405) and a GET may work instead. */
  private async postToken(
    realm: URL,
    service: string | undefined,
    scopes: string[],
    refresh: string | undefined,
  ): Promise<CachedToken | undefined> {
    const creds = this.opts.credentials;
    const form = new URLSearchParams();
    if (scopes.length > 0) form.set('scope', scopes.join(' '));
    if (service !== undefined) form.set('service', service);
    form.set('client_id', this.opts.clientId ?? 'docker');
    if (refresh !== undefined && refresh !== '') {
      form.set('grant_type', 'refresh_token');
      form.set('refresh_token', refresh);
    } else {
      form.set('grant_type', 'password');
      form.set('username', creds?.username ?? '');
      form.set('password', creds?.password ?? '');
    }
    if (this.opts.offline) form.set('access_type', 'offline');
    const res = await this.transport.request({
      method: 'POST',
      url: realm.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(form.toString()),
    });
    const hasPassword = creds?.username !== undefined && creds.username !== '';
    if ((res.status === 404 || res.status === 405) && hasPassword) {
      res.body.resume();
      return undefined;
    }
    return this.tokenFrom(res);
  }

  /** The GET flow; undefined when it answers 404/405 and `postFallback` allows the OAuth2 POST instead. */
  private async getToken(
    realm: URL,
    service: string | undefined,
    scopes: string[],
    postFallback = false,
  ): Promise<CachedToken | undefined> {
    const creds = this.opts.credentials;
    const url = new URL(realm);
    if (service !== undefined && service !== '') url.searchParams.set('service', service);
    for (const s of scopes) url.searchParams.append('scope', s);
    if (this.opts.offline) {
      url.searchParams.set('offline_token', 'true');
      url.searchParams.set('client_id', this.opts.clientId ?? 'docker');
    }
    const headers: Record<string, string> = {};
    if (creds?.username !== undefined && creds.username !== '') {
      headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`;
    }
    const res = await this.transport.request({ method: 'GET', url: url.toString(), headers });
    if (postFallback && (res.status === 404 || res.status === 405)) {
      res.body.resume();
      return undefined;
    }
    return this.tokenFrom(res);
  }

  private async tokenFrom(res: HttpResponse): Promise<CachedToken> {
    if (res.status !== 200) {
      const { code, message } = await errorMessageOf(res);
      if (res.status === 401) throw new RegistryError(message ?? 'authentication required', 401, code ?? 'UNAUTHORIZED');
      if (res.status === 403) throw new RegistryError(message ?? 'requested access to the resource is denied', 403, code ?? 'DENIED');
      throw new RegistryError(`token server answered ${res.status} ${res.statusText}${message ? `: ${message}` : ''}`, res.status, code);
    }
    const body = await readBody(res, TOKEN_CAP);
    let j: TokenAnswer;
    try {
      j = JSON.parse(body.toString('utf8')) as TokenAnswer;
    } catch {
      throw new RegistryError('unable to decode token response', res.status);
    }
    if (j === null || typeof j !== 'object') throw new RegistryError('unable to decode token response', res.status);
    const token = typeof j.token === 'string' && j.token !== '' ? j.token : typeof j.access_token === 'string' ? j.access_token : '';
    if (token === '') throw new RegistryError('authorization server did not include a token in the response', res.status, 'UNAUTHORIZED');
    if (typeof j.refresh_token === 'string' && j.refresh_token !== '') this.refreshToken = j.refresh_token;
    let lifetime = typeof j.expires_in === 'number' && Number.isFinite(j.expires_in) ? j.expires_in : MIN_TOKEN_LIFETIME_S;
    if (lifetime < MIN_TOKEN_LIFETIME_S) lifetime = MIN_TOKEN_LIFETIME_S;
    let issued = Date.now();
    if (typeof j.issued_at === 'string') {
      const t = Date.parse(j.issued_at);
      // A server clock far off ours would make the token look expired (or eternal); trust only sane values.
      if (Number.isFinite(t) && Math.abs(t - issued) < 24 * 3600_000) issued = Math.min(t, issued);
    }
    return { token, expiresAt: issued + lifetime * 1000 };
  }
}

/** The challenges of a 401 answer. */
export function challengesOf(res: HttpResponse): Challenge[] {
  const v = res.headers['www-authenticate'];
  if (v === undefined) return [];
  return parseChallenges(Array.isArray(v) ? v : [v]);
}
