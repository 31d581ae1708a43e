// The one place that turns errors into HTTP statuses. Services throw the typed errors of
// daemon/errors.ts; everything else (fastify's own errors, gRPC errors leaking from below,
// plain exceptions) is classified here too, so no route ever picks a status code itself.

import * as os from 'node:os';
import * as path from 'node:path';
import { BerthError, type ErrorKind } from '../lib/errors';
import { parseMediaType } from './json';

export const STATUS_BY_KIND: Readonly<Record<ErrorKind, number>> = {
  InvalidParameter: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  NotModified: 304,
  NotImplemented: 501,
  Unavailable: 503,
  System: 500,
};

/** gRPC status codes to HTTP, as moby's httpstatus.statusCodeFromGRPCError maps them. */
const STATUS_BY_GRPC_CODE: Readonly<Record<number, number>> = {
  3: 400, // InvalidArgument
  5: 404, // NotFound
  6: 409, // AlreadyExists
  7: 403, // PermissionDenied
  9: 400, // FailedPrecondition
  11: 400, // OutOfRange
  12: 501, // Unimplemented
  14: 503, // Unavailable
  16: 401, // Unauthenticated
};

export interface HttpError {
  status: number;
  message: string;
  /** True when the error was not classified: a bug or an unexpected failure worth logging. */
  unexpected: boolean;
}

interface FastifyLikeError {
  code: string;
  statusCode?: number;
  message: string;
}

function isFastifyError(err: unknown): err is FastifyLikeError {
  if (!(err instanceof Error)) return false;
  const code = (err as unknown as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('FST_');
}

function isGrpcError(err: unknown): err is Error & { code: number; details: string } {
  if (!(err instanceof Error)) return false;
  const e = err as unknown as { code?: unknown; details?: unknown; metadata?: unknown };
  return typeof e.code === 'number' && typeof e.details === 'string' && e.metadata !== undefined;
}

/** Classifies any thrown value into a status and the message dockerd-style clients expect. */
export function toHttpError(err: unknown, contentType?: string): HttpError {
  if (err instanceof BerthError) {
    const status = STATUS_BY_KIND[err.kind];
    // A typed 4xx says what the client did wrong; a 5xx may quote a daemon path.
    return { status, message: status >= 500 ? redactPaths(err.message) : err.message, unexpected: false };
  }
  if (isFastifyError(err)) return fromFastifyError(err, contentType);
  if (isGrpcError(err)) {
    const status = STATUS_BY_GRPC_CODE[err.code] ?? 500;
    return { status, message: redactPaths(err.details || err.message), unexpected: status >= 500 };
  }
  return { status: 500, message: internalMessage(err), unexpected: true };
}

/** The text a client may see for an error written into a stream already answered 200. */
export function clientMessage(err: unknown): string {
  return toHttpError(err).message;
}

// ---------------------------------------------------------------- redaction

/**
 * Directories whose host paths never appear in an error body: the data and exec roots (set by
 * the daemon) and the temporary mounts. The full error is logged; the client sees the path
 * replaced, so a 500 does not map the host for whoever can reach the socket.
 */
let privateRoots: string[] = [];
/** Always private: the temporary mounts, and an external containerd's default directories. */
const PRIVATE_PREFIXES = [path.join(os.tmpdir(), 'berth-mnt-'), '/var/lib/containerd/', '/run/containerd/'];
export const REDACTED_PATH = '<daemon path>';

export function setPrivatePaths(paths: readonly string[]): void {
  privateRoots = paths.filter((p) => p !== '' && p !== '/').map((p) => path.resolve(p));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Replaces every path under a private root (the whole path token) by REDACTED_PATH. */
export function redactPaths(message: string): string {
  let out = message;
  const roots = [...privateRoots].sort((a, b) => b.length - a.length);
  for (const root of roots) {
    out = out.replace(new RegExp(`${escapeRegExp(root)}(?=$|[/\\s'"\`:,;)\\]])[^\\s'"\`:,;)\\]]*`, 'g'), REDACTED_PATH);
  }
  for (const prefix of PRIVATE_PREFIXES) out = out.replace(new RegExp(`${escapeRegExp(prefix)}[^\\s'"\`:,;)\\]]*`, 'g'), REDACTED_PATH);
  return out;
}

const ENGINE_ERRORS = [TypeError, RangeError, ReferenceError, SyntaxError, EvalError, URIError];

/**
 * What a client sees of an unclassified error: Node's and V8's own texts ("Cannot read
 * properties of undefined", "Maximum call stack size exceeded", ERR_* codes) say nothing to a
 * client and reveal the implementation, so they become a generic text; a system call error
 * reads as Go's os.PathError does ("open PATH: no such file or directory"); paths under the
 * daemon's directories are redacted.
 */
function internalMessage(err: unknown): string {
  if (!(err instanceof Error)) return redactPaths(String(err));
  const e = err as Error & { code?: unknown; syscall?: unknown; path?: unknown; errno?: unknown };
  if (ENGINE_ERRORS.some((c) => err.constructor === c) || (typeof e.code === 'string' && e.code.startsWith('ERR_'))) {
    return 'internal error in the daemon (see its log)';
  }
  if (typeof e.syscall === 'string' && typeof e.code === 'string') {
    // "ENOENT: no such file or directory, open '/x'" -> "open /x: no such file or directory"
    const desc = err.message.replace(/^[A-Z0-9_]+: /, '').split(', ')[0] ?? e.code;
    const where = typeof e.path === 'string' ? ` ${e.path}` : '';
    return redactPaths(`${e.syscall}${where}: ${desc}`);
  }
  return redactPaths(err.message);
}

function fromFastifyError(err: FastifyLikeError, contentType: string | undefined): HttpError {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, message: 'request body is too large', unexpected: false };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE': {
      // Same wording as dockerd's CheckForJSON for a Content-Type that does not parse.
      const ct = contentType ?? '';
      const parsed = parseMediaType(ct);
      const reason = 'error' in parsed ? parsed.error : 'mime: invalid media parameter';
      return { status: 400, message: `malformed Content-Type header (${ct}): ${reason}`, unexpected: false };
    }
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, message: 'request body size did not match Content-Length', unexpected: false };
    case 'FST_ERR_BAD_URL':
      return { status: 400, message: badUrlMessage(err.message), unexpected: false };
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return { status: 414, message: 'request URI too long', unexpected: false };
    default: {
      const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
      return { status, message: redactPaths(err.message), unexpected: status >= 500 };
    }
  }
}

/** Go's url.unescape text for the first bad escape of a path ("invalid URL escape \"%zz\""). */
function badUrlMessage(fastifyMessage: string): string {
  const m = /^'(.*)' is not a valid url component$/s.exec(fastifyMessage);
  const bad = /%(?![0-9a-fA-F]{2}).{0,2}/s.exec(m?.[1] ?? '');
  return bad ? `invalid URL escape ${JSON.stringify(bad[0])}` : 'invalid URL escape';
}

/** The JSON error body every dockerd error response carries. */
export function errorBody(message: string): Buffer {
  return Buffer.from(JSON.stringify({ message }) + '\n');
}
