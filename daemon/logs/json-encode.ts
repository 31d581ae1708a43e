// Byte-exact JSON as dockerd's json-file driver writes it. Log lines go through moby's
// hand-written encoder (jsonlog.ffjsonWriteJSONBytesAsString); attrs through Go's json.Marshal of
// a map[string]string. Both escape < > & as \u003c \u003e \u0026, U+2028/U+2029, and replace each
// byte of invalid UTF-8 by \ufffd; they differ for control characters: the log encoder writes
// \n and \r short and every other byte below 0x20 as \u00XX, json.Marshal also writes \t, \b, \f
// short (Go >= 1.22, which current dockerd is built with).

const HEX = '0123456789abcdef';
const BACKSLASH = 0x5c;

/**
 * Length of the UTF-8 sequence starting at s[i] as Go's utf8.DecodeRune accepts it, or 0 when
 * it is invalid there (Go then consumes one byte as RuneError).
 */
function validRuneLength(s: Buffer, i: number): number {
  const b0 = s[i]!;
  const n = s.length;
  if (b0 < 0xc2 || b0 > 0xf4) return 0;
  const cont = (j: number, lo = 0x80, hi = 0xbf): boolean => j < n && s[j]! >= lo && s[j]! <= hi;
  if (b0 < 0xe0) return cont(i + 1) ? 2 : 0;
  if (b0 < 0xf0) {
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf;
    return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
  }
  const lo = b0 === 0xf0 ? 0x90 : 0x80;
  const hi = b0 === 0xf4 ? 0x8f : 0xbf;
  return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
}

/** Growable output buffer; one per encoder so steady-state encoding allocates only the result. */
export class ByteWriter {
  buf: Buffer;
  len = 0;
  constructor(initial = 4096) {
    this.buf = Buffer.allocUnsafe(initial);
  }
  reset(): void {
    this.len = 0;
  }
  ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  ascii(s: string): void {
    this.ensure(s.length);
    // Short strings (the keys and punctuation of every entry) in a loop: Buffer.write's native
    // call costs more than the copy.
    if (s.length > 32) {
      this.len += this.buf.write(s, this.len, 'latin1');
      return;
    }
    const b = this.buf;
    let p = this.len;
    for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
    this.len = p;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }
  bytes(src: Buffer, start = 0, end = src.length): void {
    this.ensure(end - start);
    this.len += src.copy(this.buf, this.len, start, end);
  }
  /** A copy of what was written. */
  take(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

function needsEscapeAscii(b: number): boolean {
  return b < 0x20 || b === 0x22 || b === BACKSLASH || b === 0x3c || b === 0x3e || b === 0x26;
}

/**
 * Writes `s` as a JSON string. `marshal` selects Go's json.Marshal short escapes for \t \b \f;
 * without it the json-file log encoder's rules apply.
 */
export function writeJsonString(out: ByteWriter, s: Buffer, marshal = false): void {
  out.ensure(s.length * 6 + 2);
  const o = out.buf;
  let p = out.len;
  o[p++] = 0x22;
  let start = 0;
  let i = 0;
  const n = s.length;
  while (i < n) {
    const b = s[i]!;
    if (b < 0x80) {
      if (!needsEscapeAscii(b)) {
        i++;
        continue;
      }
      if (start < i) p += s.copy(o, p, start, i);
      o[p++] = BACKSLASH;
      let short = 0;
      if (b === 0x22 || b === BACKSLASH) short = b;
      else if (b === 0x0a)
        short = 0x6e; // n
      else if (b === 0x0d)
        short = 0x72; // r
      else if (marshal && b === 0x09)
        short = 0x74; // t
      else if (marshal && b === 0x08)
        short = 0x62; // b
      else if (marshal && b === 0x0c) short = 0x66; // f
      if (short) o[p++] = short;
      else {
        o[p++] = 0x75; // u
        o[p++] = 0x30;
        o[p++] = 0x30;
        o[p++] = HEX.charCodeAt(b >> 4);
        o[p++] = HEX.charCodeAt(b & 0xf);
      }
      start = ++i;
      continue;
    }
    const size = validRuneLength(s, i);
    if (size === 0) {
      if (start < i) p += s.copy(o, p, start, i);
      p += o.write('\\ufffd', p, 'latin1');
      start = ++i;
      continue;
    }
    // U+2028 / U+2029 are E2 80 A8 / E2 80 A9.
    if (size === 3 && b === 0xe2 && s[i + 1] === 0x80 && (s[i + 2] === 0xa8 || s[i + 2] === 0xa9)) {
      if (start < i) p += s.copy(o, p, start, i);
      p += o.write(s[i + 2] === 0xa8 ? '\\u2028' : '\\u2029', p, 'latin1');
      i += 3;
      start = i;
      continue;
    }
    i += size;
  }
  if (start < n) p += s.copy(o, p, start, n);
  o[p++] = 0x22;
  out.len = p;
}

/** Go's json.Marshal of a map[string]string: keys in byte order, HTML-safe escaping. */
export function marshalStringMap(m: Record<string, string>): Buffer {
  const pairs = Object.entries(m).map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const);
  pairs.sort((a, b) => Buffer.compare(a[0], b[0]));
  const out = new ByteWriter(256);
  out.byte(0x7b);
  pairs.forEach(([k, v], idx) => {
    if (idx > 0) out.byte(0x2c);
    writeJsonString(out, k, true);
    out.byte(0x3a);
    writeJsonString(out, v, true);
  });
  out.byte(0x7d);
  return out.take();
}
