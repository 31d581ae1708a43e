// A registry's refusal in dockerd's words (moby distribution/errors.go translatePullError):
// denied, unknown manifest and unknown repository are "not found" for the client; everything
// else keeps the registry's message.
import { RegistryError } from '../../registry/types';
import { NotFound, SystemError } from '../../lib/errors';
import { familiarName, familiarString, type Named } from './reference';

/** errcode's text for a code: "MANIFEST_UNKNOWN" → "manifest unknown". */
export function codeText(code: string): string {
  return code.toLowerCase().replace(/_/g, ' ');
}

export function pullError(err: unknown, named: Named, anonymous: boolean): Error {
  if (!(err instanceof RegistryError)) return err instanceof Error ? err : new SystemError(String(err));
  const cause = (fallback: string): string => `${codeText(err.code ?? fallback)}: ${err.message}`;
  // DENIED is the registry's word (a 403, or a Bearer 401 with error="insufficient_scope", mapped by
  // the registry client). A Basic registry's 401 to an anonymous pull carries no such word: it is
  // answered as denied too, as Docker Hub users know it (dockerd says "no basic auth credentials").
  if (err.code === 'DENIED' || (anonymous && err.status === 401)) {
    const detail = err.code === 'DENIED' ? err.message : 'requested access to the resource is denied';
    return new NotFound(
      `pull access denied for ${familiarName(named)}, repository does not exist or may require 'docker login': denied: ${detail}`,
    );
  }
  if (err.code === 'MANIFEST_UNKNOWN') return new NotFound(`manifest for ${familiarString(named)} not found: ${cause('MANIFEST_UNKNOWN')}`);
  if (err.code === 'NAME_UNKNOWN') return new NotFound(`repository ${familiarName(named)} not found: ${cause('NAME_UNKNOWN')}`);
  if (err.code !== undefined && !err.transport) return new SystemError(cause(err.code));
  return new SystemError(err.message);
}
