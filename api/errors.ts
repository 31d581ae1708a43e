// The one place that turns errors into HTTP statuses. Services throw the typed errors of
// daemon/errors.ts; everything else (fastify's own errors, gRPC errors leaking from below,
// plain exceptions) is classified here too, so no route ever picks a status code itself.

import { BerthError, type ErrorKind } from '../daemon/errors';
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
    return { status: STATUS_BY_KIND[err.kind], message: err.message, unexpected: false };
  }
  if (isFastifyError(err)) return fromFastifyError(err, contentType);
  if (isGrpcError(err)) {
    const status = STATUS_BY_GRPC_CODE[err.code] ?? 500;
    return { status, message: err.details || err.message, unexpected: status >= 500 };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { status: 500, message, unexpected: true };
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
      return { status: 400, message: 'invalid URL escape', unexpected: false };
    default: {
      const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
      return { status, message: err.message, unexpected: status >= 500 };
    }
  }
}

/** The JSON error body every dockerd error response carries. */
export function errorBody(message: string): Buffer {
  return Buffer.from(JSON.stringify({ message }) + '\n');
}
