// The json-file line decoder's fast path against its reference (JSON.parse): the same entry for
// every line the writers produce and for arbitrary damage to them, dockerd's own files included.
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { decodeEntry, decodeEntryParsed } from '../../daemon/logs/entry-decode';
import { JsonFileLogger } from '../../daemon/logs/json-file';
import type { LogEntry } from '../../daemon/logs/types';
import { FrameDecoder, type FrameOptions } from '../../daemon/logs/batch-decoders';
import { formatLogEntry } from '../../daemon/logs/format';
import { Forwarder } from '../../daemon/logs/forwarder';
import { LineBatch, LineSplitter } from '../../daemon/logs/line-reader';
import { encodeFrame, STDERR, STDOUT } from '../../lib/stdcopy';
import { cap1Log, cap2Log } from '../fixtures/dockerd-logs';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-logdecode-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const logger = new JsonFileLogger({ path: path.join(tmp, 'enc.log') });
after(() => logger.close());

/** An entry as plain data, for deepEqual (the line's bytes, the time's milliseconds). */
function plain(e: LogEntry | undefined): unknown {
  return e && { stream: e.stream, line: e.line.toString('hex'), ms: e.time.getTime(), nsec: e.nsec, attrs: e.attrs };
}

function assertSame(line: Buffer, withAttrs = false): void {
  assert.deepEqual(plain(decodeEntry(line, withAttrs)), plain(decodeEntryParsed(line, withAttrs)), line.toString('latin1'));
}

const withoutNewline = (b: Buffer): Buffer => b.subarray(0, b.length - 1);

test("dockerd's own files decode the same both ways", () => {
  for (const b64 of [cap1Log, cap2Log]) {
    const file = zlib.gunzipSync(Buffer.from(b64, 'base64'));
    const lines = file.toString('latin1').split('\n').slice(0, -1);
    assert.ok(lines.length > 10);
    for (const l of lines) for (const withAttrs of [false, true]) assertSame(Buffer.from(l, 'latin1'), withAttrs);
  }
});

const anyBytes = fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u));
const anyText = fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s, 'utf8'));
/** Text around runs longer than the decoder copies in JS (entry-decode.ts SHORT_RUN), so both paths meet. */
const longRuns = fc
  .tuple(fc.nat(700), anyText, fc.nat(700))
  .map(([a, t, b]) => Buffer.concat([Buffer.alloc(a, 0x61), t, Buffer.from('é'.repeat(b))]));
const anyTime = fc.record({
  ms: fc.integer({ min: -62135596800000, max: 253402300799000 }),
  nsec: fc.integer({ min: 0, max: 999_999_999 }),
});

test('every line the writer produces decodes the same both ways, to the bytes written', () => {
  fc.assert(
    fc.property(
      fc.oneof(anyBytes, anyText, longRuns),
      fc.constantFrom('stdout', 'stderr'),
      fc.boolean(),
      anyTime,
      (bytes, stream, partial, t) => {
        const time = { sec: Math.floor(t.ms / 1000), nsec: t.nsec };
        const written = withoutNewline(logger.encode({ stream, line: bytes, time, partial }));
        assertSame(written);
        const e = decodeEntry(written, false)!;
        assert.equal(e.stream, stream);
        assert.equal(e.nsec, t.nsec);
        // Valid UTF-8 comes back byte for byte (invalid bytes went out as U+FFFD each, as Go).
        if (isUtf8(bytes)) assert.equal(e.line.toString('hex'), Buffer.concat([bytes, Buffer.from(partial ? '' : '\n')]).toString('hex'));
      },
    ),
    { numRuns: 3000 },
  );
});

test('damaged lines: the fast path gives the reference entry or hands over', () => {
  const sample = withoutNewline(
    logger.encode({
      stream: 'stderr',
      line: Buffer.from('a "quoted" \\ é \u2028 <tag>\t'),
      time: { sec: 1765000000, nsec: 123456789 },
    }),
  );
  // A raw control character in the string is the one line the fast path keeps (see entry-decode.ts).
  const rawControlInString = (l: Buffer): boolean => {
    const s = l.toString('latin1');
    const end = s.indexOf('","stream"');
    return [...s.slice(8, end < 0 ? s.length : end)].some((c) => c.charCodeAt(0) < 0x20);
  };
  fc.assert(
    fc.property(
      fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }), op: fc.constantFrom('set', 'insert', 'delete') }), {
        minLength: 1,
        maxLength: 4,
      }),
      (edits) => {
        let l = Buffer.from(sample);
        for (const { at, byte, op } of edits) {
          const i = at % (l.length + 1);
          if (op === 'set' && i < l.length) l[i] = byte;
          else if (op === 'insert') l = Buffer.concat([l.subarray(0, i), Buffer.from([byte]), l.subarray(i)]);
          else if (op === 'delete') l = Buffer.concat([l.subarray(0, i), l.subarray(i + 1)]);
        }
        if (!rawControlInString(l)) assertSame(l);
      },
    ),
    { numRuns: 5000 },
  );
});

/** Lines off the fast path, or not entries at all. */
const oddLines = [
  '{"log":"\\u00e9\\ud83d\\ude00\\/\\b\\f\\r\\t\\"\\\\x\\n","stream":"stdout","time":"2026-12-07T03:36:13.5Z"}',
  '{"log":"lone \\ud83d","stream":"stdout","time":"2026-12-07T03:36:13Z"}',
  '{"log":"low \\ude00 first","stream":"stdout","time":"2026-12-07T03:36:13Z"}',
  '{"log":"UPPER \\u00E9","stream":"stdout","time":"2026-12-07T03:36:13.123456789123Z"}',
  '{"log":"x","stream":"stdout","time":"2026-12-07T03:36:13+01:00"}',
  '{"log":"x","stream":"stdout","time":"2026-02-30T03:36:13Z"}',
  '{"log":"x","stream":"stdout","time":"2026-12-07T03:36:13.Z"}',
  '{"log":"x","stream":"stdout","time":"2026-12-07t03:36:13.1z"}',
  '{"log":"x","stream":"stdin","time":"2026-12-07T03:36:13Z"}',
  '{"log":"x","stream":"stdout","attrs":{"a":"b"},"time":"2026-12-07T03:36:13Z"}',
  '{"stream":"stdout","log":"x","time":"2026-12-07T03:36:13Z"}',
  '{"log":"x","stream":"stdout","time":"2026-12-07T03:36:13Z"} ',
  '{"log":"bad \\x escape","stream":"stdout","time":"2026-12-07T03:36:13Z"}',
  '{"log":"with attrs","stream":"stderr","attrs":{"z":"1","a b":"c/d"},"time":"2025-12-06T05:46:41.5Z"}',
  'not json',
  '',
].map((l) => Buffer.from(l, 'utf8'));

test('escapes, surrogate pairs, time forms and key orders', () => {
  for (const c of oddLines) for (const withAttrs of [false, true]) assertSame(c, withAttrs);
  // The same second twice, then another: the cached date prefix follows.
  for (const t of ['2026-12-07T03:36:13.1Z', '2026-12-07T03:36:13.2Z', '2026-12-08T00:00:00Z', '2026-12-07T03:36:13Z']) {
    assertSame(Buffer.from(`{"log":"x","stream":"stdout","time":"${t}"}`));
  }
});

/** What FrameDecoder must equal: each entry decoded and checked by the reference path, formatted, framed. */
function referenceFrames(lines: Buffer[], fwd: Forwarder, opts: FrameOptions): Buffer {
  const out: Buffer[] = [];
  for (const line of lines) {
    const e = decodeEntryParsed(line, opts.details);
    if (!e) continue;
    const verdict = fwd.check(e);
    if (verdict === 'stop') break;
    if (verdict === 'skip') continue;
    const { stream, payload } = formatLogEntry(e, opts);
    out.push(opts.tty ? payload : encodeFrame(stream === 'stdout' ? STDOUT : STDERR, payload));
  }
  return Buffer.concat(out);
}

/**
 * FrameDecoder's output for `lines` read as a file would be: joined by newlines, cut at `cuts`
 * into reads of one reused buffer, each read's batch decoded (and its output copied, since the
 * decoder reuses its buffer).
 */
function framedThroughSplitter(lines: Buffer[], cuts: number[], decoder: FrameDecoder): Buffer {
  const file = Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')]));
  const at = [...new Set(cuts.map((c) => c % (file.length + 1)))].sort((a, b) => a - b);
  const reads = [0, ...at, file.length].flatMap((p, i, a) => (i > 0 && p > a[i - 1]! ? [file.subarray(a[i - 1], p)] : []));
  const split = new LineSplitter();
  const buf = Buffer.alloc(file.length);
  const out: Buffer[] = [];
  for (const r of reads) {
    buf.fill(0xff); // what the last read left behind must not show through
    r.copy(buf);
    const got = decoder.decode(split.push(buf.subarray(0, r.length)));
    if (got) out.push(Buffer.from(got));
    if (decoder.stopped) break;
  }
  return Buffer.concat(out);
}

test('FrameDecoder: the logs response bytes, the same as the reference path entry by entry', () => {
  const t0 = 1765000000;
  const line = fc
    .record({
      bytes: fc.oneof(anyText, anyBytes, longRuns),
      stream: fc.constantFrom('stdout' as const, 'stderr' as const),
      dt: fc.nat(20),
      nsec: fc.nat(999_999_999),
    })
    .map(({ bytes, stream, dt, nsec }) => withoutNewline(logger.encode({ stream, line: bytes, time: { sec: t0 + dt, nsec } })));
  const withOddLines = fc.oneof({ weight: 8, arbitrary: line }, { weight: 1, arbitrary: fc.constantFrom(...oddLines) });
  const at = fc.option(fc.record({ sec: fc.integer({ min: t0 - 1, max: t0 + 21 }), nsec: fc.nat(999_999_999) }), { nil: undefined });
  fc.assert(
    fc.property(
      fc.array(withOddLines, { maxLength: 30 }),
      fc.record({ timestamps: fc.boolean(), details: fc.boolean(), tty: fc.boolean() }),
      fc.record({ since: at, until: at, stdout: fc.boolean(), stderr: fc.boolean() }),
      fc.array(fc.nat(), { maxLength: 6 }),
      (lines, opts, f, cuts) => {
        const fwd = (): Forwarder => new Forwarder(f.since, f.until, f.stdout, f.stderr);
        const want = referenceFrames(lines, fwd(), opts).toString('hex');
        // A batch of lines as given (its UTF-8 not known), and the lines read as a file.
        assert.equal((new FrameDecoder(fwd(), opts).decode(LineBatch.of(lines)) ?? Buffer.alloc(0)).toString('hex'), want);
        assert.equal(framedThroughSplitter(lines, cuts, new FrameDecoder(fwd(), opts)).toString('hex'), want);
      },
    ),
    { numRuns: 1500 },
  );
});
