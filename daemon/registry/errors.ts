// RegistryError (registry/, Docker-agnostic) to the daemon's typed errors, worded as dockerd words
// a distribution error: `<code in words>: <registry's message>` (errcode.Error.Error()).
import { RegistryError } from '../../registry/types';
import { BerthError, Forbidden, InvalidParameter, NotFound, SystemError, Unauthorized } from '../../lib/errors';

/** `MANIFEST_UNKNOWN` + "manifest unknown" → "manifest unknown: manifest unknown", as Go's errcode prints it. */
export function registryErrorText(err: RegistryError): string {
  if (err.code === undefined || err.transport) return err.message;
  const words = err.code.toLowerCase().replace(/_/g, ' ');
  return err.message.startsWith(`${words}:`) ? err.message : `${words}: ${err.message}`;
}

/** The typed error for a registry failure: the registry's 4xx kinds keep their meaning, the rest is a 500. */
export function fromRegistryError(err: unknown): Error {
  if (err instanceof BerthError) return err;
  if (!(err instanceof RegistryError)) return err instanceof Error ? err : new SystemError(String(err));
  const text = registryErrorText(err);
  switch (err.status) {
    case 400:
      return new InvalidParameter(text);
    case 401:
      return new Unauthorized(text);
    case 403:
      return new Forbidden(text);
    case 404:
      return new NotFound(text);
    default:
      return new SystemError(text);
  }
}

/**
 * Deciding a registry's endpoints fails only on local configuration (a certs.d directory with half a
 * client pair, an unreadable file): moby's invalidParamf, a 400, before anything is sent.
 */
export async function endpointsOrInvalid<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw err instanceof RegistryError ? new InvalidParameter(err.message) : err;
  }
}
