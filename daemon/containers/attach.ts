// An attach session: what one attached client sees and sends. Output comes from the container's
// hub (optionally after a replay of its logs); stdin goes through the detach-key scanner.
import { InvalidParameter } from '../../lib/errors';
import type { LogEntry } from '../logs/types';
import { DetachKeys, parseDetachKeys, type AttachHub, type OutputStream } from './attach-hub';
import type { Container } from './model';

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

export interface AttachOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  stream: boolean;
  logs: boolean;
  detachKeys: string;
}

export interface AttachSink {
  /** A promise: the client is over its bound; it resolves when the client can take more. */
  output(stream: OutputStream, chunk: Buffer): void | Promise<void>;
  /** The session is over (container stopped, or detached): close the connection. */
  end(reason: 'exited' | 'detached' | 'done'): void;
}

export interface AttachSession {
  readonly tty: boolean;
  start(sink: AttachSink): Promise<void>;
  stdin(chunk: Buffer): void;
  stdinEnd(): void;
  close(): void;
}

/** What a session needs of the container service (a port, so this module does not import it). */
export interface AttachTarget {
  get(input: string): Container;
  hub(id: string): AttachHub;
  readLogs(id: string, opts: { stdout: boolean; stderr: boolean; follow: boolean; tail: number }): AsyncIterable<LogEntry>;
  publishDetach(id: string): void;
}

export function openAttach(svc: AttachTarget, input: string, opts: AttachOptions): AttachSession {
  const c = svc.get(input);
  const id = c.record.id;
  let keys: Buffer;
  try {
    keys = parseDetachKeys(opts.detachKeys || DEFAULT_DETACH_KEYS);
  } catch (err) {
    throw new InvalidParameter(`Invalid detach keys (${opts.detachKeys}) provided: ${(err as Error).message}`);
  }
  const tty = c.record.config.Tty === true;
  const wantStdin = opts.stdin && c.record.config.OpenStdin === true;
  const scanner = new DetachKeys(keys);
  const hub = svc.hub(id);
  let unsubscribe: (() => void) | undefined;
  let sink: AttachSink | undefined;
  let closed = false;

  const finish = (reason: 'exited' | 'detached' | 'done'): void => {
    if (closed) return;
    closed = true;
    unsubscribe?.();
    sink?.end(reason);
  };

  return {
    tty,
    async start(s: AttachSink): Promise<void> {
      sink = s;
      const want = (stream: OutputStream): boolean => (stream === 'stdout' ? opts.stdout : opts.stderr);
      if (opts.logs) {
        for await (const entry of svc.readLogs(id, { stdout: opts.stdout, stderr: opts.stderr, follow: false, tail: -1 })) {
          if (closed) return;
          // The replay goes at the client's pace: the log file is read as fast as it reads.
          const full = s.output(entry.stream, entry.line);
          if (full) await full;
        }
      }
      if (!opts.stream) return finish('done');
      unsubscribe = hub.add({
        onOutput: (stream, chunk) => (want(stream) ? s.output(stream, chunk) : undefined),
        onEnd: () => finish('exited'),
      });
    },
    stdin(chunk: Buffer): void {
      if (!wantStdin || closed) return;
      // As dockerd, detach keys are only looked for with a TTY: without one every byte is data.
      if (!tty) {
        hub.writeStdin(chunk);
        return;
      }
      const { forward, detach } = scanner.feed(chunk);
      if (forward.length > 0) hub.writeStdin(forward);
      if (detach) {
        svc.publishDetach(id);
        finish('detached');
      }
    },
    stdinEnd(): void {
      if (!wantStdin || closed) return;
      // dockerd's CopyStreams: with StdinOnce and no TTY the process sees EOF when its attached
      // client closes stdin; otherwise the client's EOF ends this attach and the process keeps
      // its stdin open (a TTY session is left by detaching or by the process exiting).
      if (c.record.config.StdinOnce && !tty) hub.closeStdin();
      else finish('done');
    },
    close(): void {
      closed = true;
      unsubscribe?.();
    },
  };
}
