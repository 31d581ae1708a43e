// One line of a json-file log as an entry. Lines in the shape dockerd and Berth write
// (`{"log":"…","stream":"stdout|stderr","time":"<RFC 3339, Z>"}`) are decoded straight from the
// bytes, into the caller's buffer: a large log is a million such lines, and JSON.parse, a UTF-16
// string, Buffer.from and the objects of each cost more than all the rest of a read. Any other
// line (attrs, another key order, a zone offset, anything the fast path does not recognise) goes
// through JSON.parse, the one reference for what a line means: the fast path gives the same
// entry or hands over.
import { isUtf8 } from 'node:buffer';
import { parseRFC3339Nano, toDate } from '../../lib/time';
import type { LogEntry, LogStream } from './types';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const HEAD = Buffer.from('{"log":"', 'latin1');
/** After the log string's closing quote, up to the time's opening quote. */
const STREAM_TAIL: Record<LogStream, Buffer> = {
  stdout: Buffer.from('","stream":"stdout","time":"', 'latin1'),
  stderr: Buffer.from('","stream":"stderr","time":"', 'latin1'),
};
/** Where "stdout"/"stderr" differ: the byte after `","stream":"std`. */
const STREAM_BYTE = 15;

/**
 * Where decoded log bytes go: entries are views of a shared slab (as Node's own Buffer pool),
 * so a line costs no allocation of its own. A slab lives as long as any entry cut from it.
 */
const SLAB = 64 * 1024;
let slab = Buffer.allocUnsafe(SLAB);
let slabUsed = 0;

const hexValue = (b: number): number =>
  b >= 0x30 && b <= 0x39 ? b - 0x30 : b >= 0x61 && b <= 0x66 ? b - 0x57 : b >= 0x41 && b <= 0x46 ? b - 0x37 : -1;

function hex4(src: Buffer, i: number, end: number): number {
  if (i + 4 > end) return -1;
  let v = 0;
  for (let k = 0; k < 4; k++) {
    const h = hexValue(src[i + k]!);
    if (h < 0) return -1;
    v = (v << 4) | h;
  }
  return v;
}

/** UTF-8 of code point `cp` into out at `o`; returns the new offset. */
function putCodePoint(out: Buffer, cp: number, o: number): number {
  if (cp < 0x80) out[o++] = cp;
  else if (cp < 0x800) {
    out[o++] = 0xc0 | (cp >> 6);
    out[o++] = 0x80 | (cp & 0x3f);
  } else if (cp < 0x10000) {
    out[o++] = 0xe0 | (cp >> 12);
    out[o++] = 0x80 | ((cp >> 6) & 0x3f);
    out[o++] = 0x80 | (cp & 0x3f);
  } else {
    out[o++] = 0xf0 | (cp >> 18);
    out[o++] = 0x80 | ((cp >> 12) & 0x3f);
    out[o++] = 0x80 | ((cp >> 6) & 0x3f);
    out[o++] = 0x80 | (cp & 0x3f);
  }
  return o;
}

/** What each short escape stands for (0: not a short escape). */
const SHORT_ESCAPES = new Uint8Array(128);
for (const [e, v] of [
  ['"', 0x22],
  ['\\', 0x5c],
  ['/', 0x2f],
  ['b', 0x08],
  ['f', 0x0c],
  ['n', 0x0a],
  ['r', 0x0d],
  ['t', 0x09],
] as const) {
  SHORT_ESCAPES[e.charCodeAt(0)] = v;
}

/** Runs up to this long are scanned and copied in JS; longer ones natively. */
const SHORT_RUN = 256;

/**
 * The JSON string starting at `start` (just after its opening quote) and ending before `end`,
 * decoded into out[at, …). Returns the number of bytes written (its closing quote's index in
 * `stringEnd`), or -1 for anything JSON.parse reads differently (a bad escape, a lone surrogate,
 * invalid UTF-8). `utf8Known`: the caller has checked src there, so what is copied from it is
 * valid too (escapes decode to valid code points). The one line it keeps that JSON.parse refuses:
 * a raw control character inside the string, which no writer produces (both escape every byte
 * below 0x20); checking for it would mean a JS loop over every byte of a long line. Decoded, a
 * JSON string is never longer than it was written.
 */
let stringEnd = 0;
function decodeString(src: Buffer, start: number, end: number, out: Buffer, at: number, utf8Known: boolean): number {
  let o = at;
  let i = start;
  for (;;) {
    // The run up to the next quote or backslash. A log line's is short, and a JS loop over it
    // costs less than native calls (indexOf, copy: a wrapper and a view allocation each), which
    // win only on long runs. src is a whole read, so no search may pass `end`.
    const short = Math.min(end, i + SHORT_RUN);
    let b = 0;
    while (i < short) {
      b = src[i]!;
      if (b === QUOTE || b === BACKSLASH) break;
      out[o++] = b;
      i++;
    }
    if (i === short) {
      if (i === end) return -1;
      const quote = src.indexOf(QUOTE, i);
      if (quote < 0 || quote >= end) return -1;
      const bs = src.subarray(i, quote).indexOf(BACKSLASH);
      const stop = bs < 0 ? quote : i + bs;
      o += src.copy(out, o, i, stop);
      i = stop;
      b = src[i]!;
    }
    if (b === QUOTE) {
      if (!utf8Known && !isUtf8(out.subarray(at, o))) return -1;
      stringEnd = i;
      return o - at;
    }
    const e = i + 1 < end ? src[i + 1]! : 0;
    if (e === 0x75) {
      let cp = hex4(src, i + 2, end);
      i += 6;
      if (cp < 0) return -1;
      if (cp >= 0xd800 && cp <= 0xdbff) {
        const lo = i + 1 < end && src[i] === BACKSLASH && src[i + 1] === 0x75 ? hex4(src, i + 2, end) : -1;
        if (lo < 0xdc00 || lo > 0xdfff) return -1;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i += 6;
      } else if (cp >= 0xdc00 && cp <= 0xdfff) return -1;
      o = putCodePoint(out, cp, o);
    } else {
      const short = e < 128 ? SHORT_ESCAPES[e]! : 0;
      if (short === 0) return -1;
      out[o++] = short;
      i += 2;
    }
  }
}

/** Whether src[at, at + want.length) is `want`, within src[…, end). */
function bytesAt(src: Buffer, at: number, end: number, want: Uint8Array): boolean {
  if (at + want.length > end) return false;
  for (let k = 0; k < want.length; k++) if (src[at + k] !== want[k]) return false;
  return true;
}

/** The 19-character date-time prefix last parsed, and its seconds: lines of one second share it. */
let lastPrefix = Buffer.alloc(19);
let lastPrefixSec = Number.NaN;

const isDigit = (b: number | undefined): boolean => b !== undefined && b >= 0x30 && b <= 0x39;

/** `YYYY-MM-DDTHH:MM:SS[.fraction]Z` at line[start, end) into written.sec/nsec; false hands over. */
function decodeTime(line: Buffer, start: number, end: number): boolean {
  if (end - start < 20 || line[end - 1] !== 0x5a) return false;
  let sec: number;
  if (!Number.isNaN(lastPrefixSec) && bytesAt(line, start, end, lastPrefix)) sec = lastPrefixSec;
  else {
    const parsed = parseRFC3339Nano(line.toString('latin1', start, start + 19) + 'Z');
    if (!parsed) return false;
    sec = parsed.sec;
    lastPrefix = Buffer.from(line.subarray(start, start + 19));
    lastPrefixSec = sec;
  }
  let nsec = 0;
  const fracEnd = end - 1;
  if (fracEnd > start + 19) {
    if (line[start + 19] !== 0x2e || fracEnd === start + 20) return false;
    let digits = 0;
    for (let i = start + 20; i < fracEnd; i++) {
      const b = line[i];
      if (!isDigit(b)) return false;
      if (digits < 9) {
        nsec = nsec * 10 + (b! - 0x30);
        digits++;
      }
    }
    for (; digits < 9; digits++) nsec *= 10;
  }
  written.sec = sec;
  written.nsec = nsec;
  return true;
}

/** What decodeWrittenInto found besides the log bytes; overwritten by the next call. */
export const written: { stream: LogStream; sec: number; nsec: number } = { stream: 'stdout', sec: 0, nsec: 0 };

/**
 * The fast path: the log bytes of the line src[start, end) in the written shape decoded into
 * out[at, …) (room for end - start bytes is enough), their count returned and the stream and time
 * left in `written`; -1 hands over to decodeEntryParsed. `utf8Known`: see decodeString.
 */
export function decodeWrittenInto(src: Buffer, start: number, end: number, out: Buffer, at: number, utf8Known = false): number {
  if (!bytesAt(src, start, end, HEAD)) return -1;
  const n = decodeString(src, start + HEAD.length, end, out, at, utf8Known);
  if (n < 0) return -1;
  const q = stringEnd;
  const which = q + STREAM_BYTE < end ? src[q + STREAM_BYTE] : undefined;
  const stream: LogStream | undefined = which === 0x6f ? 'stdout' : which === 0x65 ? 'stderr' : undefined;
  if (!stream) return -1;
  const tail = STREAM_TAIL[stream];
  if (!bytesAt(src, q, end, tail)) return -1;
  // The time ends the line: `…Z"}`; decodeTime accepts only digits and the date's punctuation
  // in between, so no other quote.
  if (src[end - 1] !== 0x7d || src[end - 2] !== QUOTE) return -1;
  if (!decodeTime(src, q + tail.length, end - 2)) return -1;
  written.stream = stream;
  return n;
}

/** The fast path as an entry, its bytes a view of the shared slab. */
function decodeWritten(line: Buffer): LogEntry | undefined {
  if (SLAB - slabUsed < line.length) {
    slab = Buffer.allocUnsafe(Math.max(SLAB, line.length));
    slabUsed = 0;
  }
  const n = decodeWrittenInto(line, 0, line.length, slab, slabUsed);
  if (n < 0) return undefined;
  const bytes = slab.subarray(slabUsed, slabUsed + n);
  slabUsed += n;
  return { stream: written.stream, line: bytes, time: toDate(written), nsec: written.nsec };
}

/** The reference decoding: JSON.parse of the line; undefined for a line that is not a valid entry. */
export function decodeEntryParsed(line: Buffer, withAttrs: boolean): LogEntry | undefined {
  let obj: unknown;
  try {
    obj = JSON.parse(line.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof obj !== 'object' || obj === null) return undefined;
  const rec = obj as { log?: unknown; stream?: unknown; time?: unknown; attrs?: unknown };
  if (rec.stream !== 'stdout' && rec.stream !== 'stderr') return undefined;
  if (typeof rec.time !== 'string') return undefined;
  const t = parseRFC3339Nano(rec.time);
  if (!t) return undefined;
  const entry: LogEntry = {
    stream: rec.stream,
    line: typeof rec.log === 'string' ? Buffer.from(rec.log, 'utf8') : Buffer.alloc(0),
    time: toDate(t),
    nsec: t.nsec,
  };
  if (withAttrs && typeof rec.attrs === 'object' && rec.attrs !== null) {
    const attrs: Record<string, string> = {};
    for (const [k, v] of Object.entries(rec.attrs as Record<string, unknown>)) if (typeof v === 'string') attrs[k] = v;
    entry.attrs = attrs;
  }
  return entry;
}

/** One JSON line of the file (without its newline) as an entry; undefined for a line that is not a valid entry. */
export function decodeEntry(line: Buffer, withAttrs: boolean): LogEntry | undefined {
  return decodeWritten(line) ?? decodeEntryParsed(line, withAttrs);
}
