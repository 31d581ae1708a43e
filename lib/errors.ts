// Typed domain errors. Services and lower layers throw these; api/errors.ts maps each kind to
// an HTTP status in one place, so nothing below the routes ever thinks about status codes.

export type ErrorKind =
  | 'InvalidParameter' // 400
  | 'Unauthorized' // 401
  | 'Forbidden' // 403
  | 'NotFound' // 404
  | 'Conflict' // 409
  | 'NotModified' // 304
  | 'NotImplemented' // 501
  | 'Unavailable' // 503
  | 'System'; // 500

export class BerthError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
    this.name = kind;
  }
}

export class InvalidParameter extends BerthError {
  constructor(message: string) {
    super('InvalidParameter', message);
  }
}
export class Unauthorized extends BerthError {
  constructor(message: string) {
    super('Unauthorized', message);
  }
}
export class Forbidden extends BerthError {
  constructor(message: string) {
    super('Forbidden', message);
  }
}
export class NotFound extends BerthError {
  constructor(message: string) {
    super('NotFound', message);
  }
}
export class Conflict extends BerthError {
  constructor(message: string) {
    super('Conflict', message);
  }
}
export class NotModified extends BerthError {
  constructor(message = '') {
    super('NotModified', message);
  }
}
export class NotImplemented extends BerthError {
  constructor(message: string) {
    super('NotImplemented', message);
  }
}
export class Unavailable extends BerthError {
  constructor(message: string) {
    super('Unavailable', message);
  }
}
export class SystemError extends BerthError {
  constructor(message: string) {
    super('System', message);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The cluster store (etcd) cannot be reached or answered with an error: 503, as a swarm without a leader. */
export class ClusterStoreUnavailable extends Unavailable {}
