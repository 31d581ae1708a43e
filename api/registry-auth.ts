// Registry credentials as clients send them: the X-Registry-Auth header (base64 of an AuthConfig
// JSON object) and the /auth body. Decoded here so the services only ever see Credentials.
import type { FastifyRequest } from 'fastify';
import { InvalidParameter } from '../lib/errors';
import type { Credentials } from '../registry/types';

export const AUTH_HEADER = 'x-registry-auth';

/** An AuthConfig as sent (docker's types/registry.AuthConfig), with the server it is for. */
export interface AuthRequest {
  credentials: Credentials;
  serverAddress: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Maps an AuthConfig object; `auth` (base64 "user:pass", what config files hold) fills in a missing pair. */
export function authFromObject(o: unknown, what = 'X-Registry-Auth header'): AuthRequest {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) {
    const kind = Array.isArray(o) ? 'array' : o === null ? 'null' : typeof o;
    throw new InvalidParameter(`invalid ${what}: cannot unmarshal ${kind} into an AuthConfig object`);
  }
  const r = o as Record<string, unknown>;
  let username = str(r.username);
  let password = str(r.password);
  const auth = str(r.auth);
  if (username === undefined && password === undefined && auth !== undefined) {
    const pair = Buffer.from(auth, 'base64').toString('utf8');
    const colon = pair.indexOf(':');
    if (colon > 0) {
      username = pair.slice(0, colon);
      password = pair.slice(colon + 1);
    }
  }
  const credentials: Credentials = {};
  if (username !== undefined) credentials.username = username;
  if (password !== undefined) credentials.password = password;
  const identityToken = str(r.identitytoken);
  if (identityToken !== undefined) credentials.identityToken = identityToken;
  const registryToken = str(r.registrytoken);
  if (registryToken !== undefined) credentials.registryToken = registryToken;
  return { credentials, serverAddress: str(r.serveraddress) ?? '' };
}

/**
 * Decodes X-Registry-Auth. The CLI sends base64url; several SDKs send standard base64 (dockerode):
 * both alphabets are taken, with or without padding. `strict` (push) refuses a header that does not
 * decode, as dockerd does; otherwise (pull) a bad header means anonymous, as in dockerd.
 */
export function registryAuth(request: FastifyRequest, opts: { strict: boolean }): AuthRequest {
  const raw = request.headers[AUTH_HEADER];
  const encoded = Array.isArray(raw) ? raw[0] : raw;
  if (encoded === undefined || encoded === '') return { credentials: {}, serverAddress: '' };
  try {
    const text = Buffer.from(encoded, 'base64').toString('utf8');
    return authFromObject(JSON.parse(text) as unknown);
  } catch (err) {
    if (!opts.strict) return { credentials: {}, serverAddress: '' };
    if (err instanceof InvalidParameter) throw err;
    throw new InvalidParameter(`invalid X-Registry-Auth header: ${(err as Error).message}`);
  }
}
