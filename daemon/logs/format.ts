// Log entries as the bytes of GET /containers/{id}/logs (moby httputils/logstream.Write):
// "[<RFC3339Nano, 9 digits> ][<attrs> ]<line>". Framing (8-byte multiplexed headers, or raw for
// TTY containers) is the route's business: this returns the stream and the payload.
import { formatRFC3339NanoFixed } from '../../lib/time';
import type { LogEntry, LogStream } from './types';

export { parseLogOpts, validateLogOpts, mergeLogConfig, LOG_DRIVERS, DEFAULT_LOG_DRIVER } from './log-opts';
export type { LogConfig, LogDriver, ApiLogConfig } from './log-opts';

const UNRESERVED = /[A-Za-z0-9\-_.~]/;

/** Go's url.QueryEscape: unreserved bytes kept, space as '+', everything else %XX (upper-case). */
export function queryEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (b < 0x80 && UNRESERVED.test(c)) out += c;
    else if (b === 0x20) out += '+';
    else out += '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
  }
  return out;
}

/** The details prefix body: attrs sorted by key (byte order), k=v escaped, joined by ','. */
export function detailsPrefix(attrs: Record<string, string> | undefined): string {
  if (!attrs) return '';
  const keys = Object.keys(attrs).sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
  return keys.map((k) => `${queryEscape(k)}=${queryEscape(attrs[k]!)}`).join(',');
}

export interface FormatOptions {
  timestamps: boolean;
  details: boolean;
}

/** One entry's payload for the logs response and the stream it belongs to. */
export function formatLogEntry(entry: LogEntry, opts: FormatOptions): { stream: LogStream; payload: Buffer } {
  let prefix = '';
  if (opts.timestamps) {
    prefix += formatRFC3339NanoFixed({ sec: Math.floor(entry.time.getTime() / 1000), nsec: entry.nsec }) + ' ';
  }
  // dockerd writes the separating space even when there are no attrs.
  if (opts.details) prefix += detailsPrefix(entry.attrs) + ' ';
  const payload = prefix === '' ? entry.line : Buffer.concat([Buffer.from(prefix, 'utf8'), entry.line]);
  return { stream: entry.stream, payload };
}
