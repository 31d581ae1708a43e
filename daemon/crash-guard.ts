// The last resort against one client taking the daemon (and every container's log copier, proxy
// and DNS with it) down. The real defence is an error listener on every socket and stream and no
// floating promise; this only catches what slipped through. Errors that can only concern one
// connection (the peer left: EPIPE, ECONNRESET, a write to a destroyed or ended stream) are
// logged and the daemon keeps running. Anything else is a bug whose state we cannot trust: it is
// logged as fatal and the daemon exits, as it would without this handler.

/** Error codes that only ever mean "this connection or stream is gone". */
const PER_CONNECTION_CODES = new Set([
  'EPIPE',
  'ECONNRESET',
  'ECONNABORTED',
  'ERR_STREAM_DESTROYED',
  'ERR_STREAM_WRITE_AFTER_END',
  'ERR_STREAM_PREMATURE_CLOSE',
  // streamx (tar-stream): "Writable stream closed" / "Readable stream closed".
  'PREMATURE_CLOSE',
  'STREAM_DESTROYED',
]);

export function isPerConnectionError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && PER_CONNECTION_CODES.has(code);
}

export interface CrashGuardLogger {
  warn(obj: object, msg: string): void;
  fatal(obj: object, msg: string): void;
}

export interface CrashGuardProcess {
  on(event: 'uncaughtException', listener: (err: Error) => void): unknown;
  on(event: 'unhandledRejection', listener: (reason: unknown) => void): unknown;
  exit(code: number): never | void;
}

/** Installs the handlers; returns the function they call (for tests). */
export function installCrashGuard(logger: CrashGuardLogger, proc: CrashGuardProcess = process): (err: unknown, origin: string) => void {
  const handle = (err: unknown, origin: string): void => {
    if (isPerConnectionError(err)) {
      logger.warn({ err, origin }, 'unhandled client connection error (the daemon keeps running)');
      return;
    }
    logger.fatal({ err, origin }, 'unhandled error: exiting');
    proc.exit(1);
  };
  proc.on('uncaughtException', (err) => handle(err, 'uncaughtException'));
  proc.on('unhandledRejection', (reason) => handle(reason, 'unhandledRejection'));
  return handle;
}
