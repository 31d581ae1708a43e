// Request and answer shapes of `docker logs` as the service hands them to the route.
import type { LogStream } from '../logs/types';

export interface LogsRequest {
  stdout: boolean;
  stderr: boolean;
  follow: boolean;
  timestamps: boolean;
  details: boolean;
  /** Last N lines; -1 for all. */
  tail: number;
  since?: { seconds: number; nanos: number };
  until?: { seconds: number; nanos: number };
  signal: AbortSignal;
}

export interface LogLine {
  stream: LogStream;
  payload: Buffer;
}
