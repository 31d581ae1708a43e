// Maps containerd's gRPC failures onto Berth's typed errors. The gRPC code stays on the mapped
// error because callers must tolerate specific codes (NOT_FOUND on cleanup, ALREADY_EXISTS on
// idempotent creates) without parsing messages.

import { status, type ServiceError } from '@grpc/grpc-js';
import {
  BerthError,
  Conflict,
  errorMessage,
  Forbidden,
  InvalidParameter,
  NotFound,
  NotImplemented,
  SystemError,
  Unauthorized,
  Unavailable,
} from '../lib/errors';

export { status as GrpcStatus };

/** A Berth error that came from containerd, with the gRPC status it carried. */
export type ContainerdError = BerthError & { readonly grpcCode: status; readonly cause: ServiceError };

export function isServiceError(err: unknown): err is ServiceError {
  return (
    err instanceof Error &&
    typeof (err as Partial<ServiceError>).code === 'number' &&
    typeof (err as Partial<ServiceError>).details === 'string'
  );
}

/** The gRPC status of a raw ServiceError or of an error mapped by fromGrpcError. */
export function grpcCodeOf(err: unknown): status | undefined {
  if (err instanceof BerthError) {
    const code = (err as Partial<ContainerdError>).grpcCode;
    return typeof code === 'number' ? code : undefined;
  }
  return isServiceError(err) ? err.code : undefined;
}

export function isGrpcCode(err: unknown, code: status): boolean {
  return grpcCodeOf(err) === code;
}

export const isNotFound = (err: unknown): boolean => isGrpcCode(err, status.NOT_FOUND);
export const isAlreadyExists = (err: unknown): boolean => isGrpcCode(err, status.ALREADY_EXISTS);

/**
 * A failure that only says the task or process is gone or stopped (it exited, or is being
 * restarted, while the call ran; containerd's shim says e.g. "cannot resize a stopped container").
 */
export function isProcessGone(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return isNotFound(err) || /stopped|not running|already finished|no running task|does not exist/i.test(message);
}

function kindFor(code: status, message: string): BerthError {
  switch (code) {
    case status.NOT_FOUND:
      return new NotFound(message);
    case status.ALREADY_EXISTS:
    case status.ABORTED:
    // containerd uses FAILED_PRECONDITION for "in use" / "has children": a state clash, not bad input.
    case status.FAILED_PRECONDITION:
      return new Conflict(message);
    case status.INVALID_ARGUMENT:
    case status.OUT_OF_RANGE:
      return new InvalidParameter(message);
    case status.UNAVAILABLE:
    // With waitForReady, an expired deadline almost always means containerd is down or stuck.
    case status.DEADLINE_EXCEEDED:
      return new Unavailable(`containerd is not available: ${message}`);
    case status.UNIMPLEMENTED:
      return new NotImplemented(message);
    case status.PERMISSION_DENIED:
      return new Forbidden(message);
    case status.UNAUTHENTICATED:
      return new Unauthorized(message);
    default:
      // UNKNOWN carries shim/runc failures as bare text; callers that care match on the message.
      return new SystemError(message);
  }
}

/** Converts anything a gRPC call threw into a BerthError; non-gRPC errors become SystemError. */
export function fromGrpcError(err: unknown): BerthError {
  if (err instanceof BerthError) return err;
  if (!isServiceError(err)) return new SystemError(errorMessage(err));
  // `details` is containerd's own text, without grpc-js's "5 NOT_FOUND: " prefix.
  const mapped = kindFor(err.code, err.details || err.message);
  Object.defineProperty(mapped, 'grpcCode', { value: err.code, enumerable: false });
  Object.defineProperty(mapped, 'cause', { value: err, enumerable: false });
  return mapped;
}
