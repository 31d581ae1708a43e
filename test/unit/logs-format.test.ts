import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import * as zlib from 'node:zlib';
import { extraAttributes, renderLogTag } from '../../daemon/logs/attrs';
import { detailsPrefix, formatLogEntry, queryEscape } from '../../daemon/logs/format';
import { JsonFileLogger } from '../../daemon/logs/json-file';
import { mergeLogConfig, parseLogOpts, validateLogOpts } from '../../daemon/logs/log-opts';
import { decodeEntry } from '../../daemon/logs/entry-decode';
import type { LogEntry } from '../../daemon/logs/types';
import { nanoTimeOf } from '../../lib/time';
import { cap1Api, cap1Log, cap2Api, cap2Log, cap2TailApi } from '../fixtures/dockerd-logs';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-logfmt-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const unz = (b64: string): Buffer => zlib.gunzipSync(Buffer.from(b64, 'base64'));
function fileLines(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let s = 0;
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, s)) {
    out.push(buf.subarray(s, i + 1));
    s = i + 1;
  }
  assert.equal(s, buf.length, 'fixture ends with a newline');
  return out;
}
/** Splits a multiplexed stream into [streamType, payload] frames. */
function deframe(buf: Buffer): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [];
  let p = 0;
  while (p < buf.length) {
    const len = buf.readUInt32BE(p + 4);
    out.push([buf[p]!, buf.subarray(p + 8, p + 8 + len)]);
    p += 8 + len;
  }
  return out;
}

const cap1Attrs = { FOO: 'bar', TAB: 'x\ty', app: 'web', q: '<&>', sp: 'a b,c=d', tag: 'cap1/fea27882d418' };

for (const [name, b64, attrs] of [
  ['cap2 (no attrs)', cap2Log, undefined],
  ['cap1 (labels, env, tag attrs)', cap1Log, cap1Attrs],
] as const) {
  test(`json-file bytes match dockerd's, line for line: ${name}`, () => {
    const lines = fileLines(unz(b64));
    assert.equal(lines.length, 16);
    const logger = new JsonFileLogger({ path: path.join(tmp, `enc-${lines.length}-${attrs ? 1 : 2}.log`), extraAttrs: attrs });
    for (const raw of lines) {
      const e = decodeEntry(raw.subarray(0, -1), true);
      assert.ok(e, raw.toString());
      // Rebuild what the copier handed dockerd's logger: the line without its newline, or a partial.
      const partial = e.line.length === 0 || e.line[e.line.length - 1] !== 0x0a;
      let line = partial ? e.line : e.line.subarray(0, -1);
      // The file holds U+FFFD for the invalid bytes the container wrote: put those back.
      if (line.toString().startsWith('bad utf8:')) line = Buffer.from('bad utf8: \xff\xfe \xc0\xaf end', 'latin1');
      const msg = { stream: e.stream, line, time: nanoTimeOf(e.time, e.nsec), partial };
      assert.equal(logger.encode(msg).toString('latin1'), raw.toString('latin1'));
    }
    void logger.close();
  });
}

test('invalid UTF-8 goes out as \\ufffd per byte, as Go', () => {
  const logger = new JsonFileLogger({ path: path.join(tmp, 'utf8.log') });
  const enc = (bytes: number[]): string =>
    JSON.parse(logger.encode({ stream: 'stdout', line: Buffer.from(bytes), time: { sec: 0, nsec: 0 }, partial: true }).toString()).log;
  assert.equal(enc([0xe4, 0xb8]), '\ufffd\ufffd'); // truncated sequence: each byte
  assert.equal(enc([0xed, 0xa0, 0x80]), '\ufffd\ufffd\ufffd'); // encoded surrogate
  assert.equal(enc([0xf4, 0x90, 0x80, 0x80]), '\ufffd\ufffd\ufffd\ufffd'); // > U+10FFFF
  assert.equal(enc([0xef, 0xbf, 0xbd]), '\ufffd'); // a real U+FFFD passes through raw
  const raw = logger.encode({ stream: 'stdout', line: Buffer.from([0xef, 0xbf, 0xbd, 0x7f]), time: { sec: 0, nsec: 0 }, partial: true });
  assert.ok(raw.includes(Buffer.from([0xef, 0xbf, 0xbd, 0x7f])));
  // time 0 is a whole second: no fraction at all
  assert.ok(raw.toString().endsWith('"time":"1970-01-01T00:00:00Z"}\n'));
  void logger.close();
});

function entriesOf(b64: string): LogEntry[] {
  return fileLines(unz(b64)).map((l) => decodeEntry(l.subarray(0, -1), true)!);
}

test('logs payloads with timestamps and details match dockerd (cap1, all entries)', () => {
  const frames = deframe(unz(cap1Api));
  const entries = entriesOf(cap1Log);
  assert.equal(frames.length, entries.length);
  entries.forEach((e, i) => {
    const { stream, payload } = formatLogEntry(e, { timestamps: true, details: true });
    assert.equal(frames[i]![0], stream === 'stdout' ? 1 : 2);
    assert.equal(payload.toString('latin1'), frames[i]![1].toString('latin1'), `entry ${i}`);
  });
});

test('details without attrs is a lone space; tail counts entries before the stream filter', () => {
  const frames = deframe(unz(cap2Api));
  const entries = entriesOf(cap2Log);
  entries.forEach((e, i) => assert.deepEqual(formatLogEntry(e, { timestamps: false, details: true }).payload, frames[i]![1]));
  const tailFrames = deframe(unz(cap2TailApi));
  const expected = entries.slice(-5).filter((e) => e.stream === 'stdout');
  assert.equal(tailFrames.length, expected.length);
  expected.forEach((e, i) => assert.deepEqual(formatLogEntry(e, { timestamps: true, details: false }).payload, tailFrames[i]![1]));
});

test('queryEscape and details order as Go', () => {
  assert.equal(queryEscape("a b+c/d~e_f.g-h!*()'é"), 'a+b%2Bc%2Fd~e_f.g-h%21%2A%28%29%27%C3%A9');
  assert.equal(detailsPrefix({ b: '2', a: '1', B: 'x y' }), 'B=x+y,a=1,b=2');
  assert.equal(detailsPrefix(undefined), '');
});

test('extraAttributes and the tag reproduce what dockerd stored for cap1', () => {
  const opts = { labels: 'app,q,sp,missing', env: 'FOO,TAB', tag: '{{.Name}}/{{.ID}}' };
  const info = {
    id: 'fea27882d4184c2db7da5a29479c3bf5f1a3d848efc73156ad12a434e77b9896',
    name: '/cap1',
    imageId: 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    imageName: 'busybox',
    env: ['PATH=/bin', 'FOO=bar', 'TAB=x\ty'],
    labels: { app: 'web', q: '<&>', sp: 'a b,c=d', other: 'no' },
  };
  assert.deepEqual(extraAttributes(opts, info), cap1Attrs);
  assert.deepEqual(extraAttributes({ 'labels-regex': '^a', 'env-regex': 'O{2}' }, info), { app: 'web', FOO: 'bar' });
  // env options do nothing without an environment; a bad labels-regex fails even without labels
  assert.deepEqual(extraAttributes({ 'env-regex': '(' }, { ...info, env: [] }), {});
  assert.throws(
    () => extraAttributes({ 'labels-regex': '(' }, { ...info, labels: {} }),
    /^SystemError|failed to initialize logging driver: error parsing regexp/,
  );
  assert.equal(
    renderLogTag('{{.ImageName}}-{{ .ImageID }} {{.Command}} {{.ContainerArgs}}', { ...info, entrypoint: 'sh', args: ['-c', 'x'] }),
    'busybox-0123456789ab sh -c x [-c x]',
  );
  assert.throws(() => renderLogTag('{{.Bogus}}', info), {
    message:
      'failed to initialize logging driver: template: log-tag:1:2: executing "log-tag" at <.Bogus>: can\'t evaluate field Bogus in type *logger.Info',
  });
});

test('log-opt validation at create: dockerd messages, InvalidParameter', () => {
  const bad = (driver: string, opts: Record<string, string>, message: string): void =>
    assert.throws(
      () => validateLogOpts(driver, opts),
      (err: Error) => err.name === 'InvalidParameter' && err.message === message,
    );
  bad('json-file', { foo: '1' }, "unknown log opt 'foo' for json-file log driver");
  bad('json-file', { mode: 'x' }, 'logger: logging mode not supported: x');
  bad('json-file', { 'max-buffer-size': '1m' }, "logger: max-buffer-size option is only supported with 'mode=non-blocking'");
  bad('json-file', { mode: 'non-blocking', 'max-buffer-size': '1q' }, "error parsing option max-buffer-size: invalid suffix: 'q'");
  bad('json-file', { 'cache-disabled': 'x' }, 'invalid value for option cache-disabled: x');
  bad('bogus', {}, "logger: no log driver named 'bogus' is registered");
  bad('local', {}, "logger: no log driver named 'local' is registered");
  bad('local', { mode: 'x' }, 'logger: logging mode not supported: x');
  // Rotation values are refused at create (dockerd only at start); other values at start.
  bad('json-file', { 'max-size': '1x' }, "invalid suffix: 'x'");
  bad('json-file', { 'max-file': 'abc' }, 'strconv.Atoi: parsing "abc": invalid syntax');
  validateLogOpts('json-file', { 'labels-regex': 'x', 'cache-disabled': 'true' });
  validateLogOpts('none', { anything: 'goes' });
});

test('log-opt parsing at start: values, defaults and dockerd messages', () => {
  assert.deepEqual(parseLogOpts('json-file', {}), {
    driver: 'json-file',
    maxSize: -1,
    maxFile: 1,
    compress: false,
    mode: 'blocking',
    maxBufferSize: 1_000_000,
    opts: {},
  });
  const c = parseLogOpts('json-file', {
    'max-size': '10m',
    'max-file': '3',
    compress: 'true',
    mode: 'non-blocking',
    'max-buffer-size': '4m',
  });
  assert.equal(c.maxSize, 10_000_000);
  assert.equal(c.maxFile, 3);
  assert.equal(c.compress, true);
  assert.equal(c.mode, 'non-blocking');
  assert.equal(c.maxBufferSize, 4 * 1024 * 1024);
  // max-file without max-size is accepted (no rotation happens), as dockerd
  assert.equal(parseLogOpts('json-file', { 'max-file': '3' }).maxFile, 3);
  assert.equal(parseLogOpts('none', {}).driver, 'none');
  const fail = (opts: Record<string, string>, message: string): void =>
    assert.throws(
      () => parseLogOpts('json-file', opts),
      (err: Error) => err.name === 'System' && err.message === `failed to initialize logging driver: ${message}`,
    );
  fail({ 'max-size': '1x' }, "invalid suffix: 'x'");
  fail({ 'max-size': '0' }, 'max-size must be a positive number');
  fail({ 'max-size': '-1' }, "invalid size: '-1'");
  fail({ 'max-size': 'abc' }, "invalid size: 'abc'");
  fail({ 'max-size': '1.2.3k' }, 'strconv.ParseFloat: parsing "1.2.3": invalid syntax');
  fail({ 'max-file': '0' }, 'max-file cannot be less than 1');
  fail({ 'max-file': 'abc' }, 'strconv.Atoi: parsing "abc": invalid syntax');
  fail({ compress: 'yes' }, 'strconv.ParseBool: parsing "yes": invalid syntax');
  fail({ compress: 'true' }, 'compress cannot be true when max-file is less than 2 or max-size is not set');
  fail({ compress: 'true', 'max-size': '1k' }, 'compress cannot be true when max-file is less than 2 or max-size is not set');
});

test('mergeLogConfig: daemon defaults fill in for the default driver only', () => {
  const defaults = { Type: 'json-file', Config: { 'max-size': '10m', 'cache-disabled': 'true' } };
  assert.deepEqual(mergeLogConfig({}, defaults), { Type: 'json-file', Config: { 'max-size': '10m', 'cache-disabled': 'true' } });
  assert.deepEqual(mergeLogConfig({ Type: 'json-file', Config: { 'max-size': '1m' } }, defaults).Config, {
    'max-size': '1m',
    'cache-disabled': 'true',
  });
  assert.deepEqual(mergeLogConfig({ Type: 'none', Config: null }, defaults), { Type: 'none', Config: { 'cache-disabled': 'true' } });
  assert.throws(() => mergeLogConfig({ Type: 'json-file', Config: { nope: '1' } }, defaults), /unknown log opt 'nope'/);
});
