import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, test } from 'node:test';
import * as zlib from 'node:zlib';
import { LogCopier } from '../../daemon/logs/copier';
import { JsonFileLogger } from '../../daemon/logs/json-file';
import type { LogMessage, LogSink, LogTime } from '../../daemon/logs/types';
import { cap2Log } from '../fixtures/dockerd-logs';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-copier-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => fs.existsSync(p));

// The program whose output dockerd stored as the cap2 fixture.
const SCRIPT = String.raw`printf 'hello world\n'
printf 'unicode: h\303\251llo \344\270\226\347\225\214 \360\237\230\200\n'
printf 'html: <a href="x">&amp;</a> \\ back\n'
printf 'cr: one\rtwo\r\n'
printf 'tab:\there ctrl:\001\002\037 del:\177\n'
printf 'bad utf8: \377\376 \300\257 end\n'
printf 'seps: \342\200\250 \342\200\251\n'
printf '\n'
printf 'to stderr\n' >&2
head -c 40000 /dev/zero | tr '\0' a; printf '\n'
head -c 16384 /dev/zero | tr '\0' b; printf '\n'
printf 'stderr again\n' >&2
sleep 0.2
printf 'no newline at end'`;

class Collect implements LogSink {
  msgs: LogMessage[] = [];
  log(m: LogMessage): void {
    this.msgs.push({ ...m, line: Buffer.from(m.line) });
  }
}

const withoutTime = (line: string): string => line.replace(/"time":"[^"]*"/, '"time":"T"');
function byStream(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = { stdout: [], stderr: [] };
  for (const l of text.split('\n').filter(Boolean)) out[(JSON.parse(l) as { stream: string }).stream]!.push(withoutTime(l));
  return out;
}

test('a real process through copier and json-file gives the file dockerd wrote (times aside)', { skip: !BUSYBOX }, async () => {
  const file = path.join(tmp, 'real-json.log');
  const logger = new JsonFileLogger({ path: file });
  const child = spawn(BUSYBOX!, ['sh', '-c', SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
  const copier = new LogCopier({ stdout: child.stdout, stderr: child.stderr }, logger);
  await copier.done();
  await logger.close();
  const ours = fs.readFileSync(file, 'utf8');
  const theirs = zlib.gunzipSync(Buffer.from(cap2Log, 'base64')).toString('utf8');
  // Interleaving of stdout and stderr depends on scheduling; each stream's sequence must match.
  assert.deepEqual(byStream(ours), byStream(theirs));
  // Partial pieces carry the first piece's time; the final piece of the line too.
  const stdout = ours
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { log: string; stream: string; time: string })
    .filter((e) => e.stream === 'stdout');
  const aIdx = stdout.findIndex((e) => e.log.startsWith('aaa'));
  assert.equal(new Set(stdout.slice(aIdx, aIdx + 3).map((e) => e.time)).size, 1);
  assert.notEqual(stdout[aIdx - 1]!.time, stdout[aIdx]!.time);
  const bIdx = stdout.findIndex((e) => e.log.startsWith('bbb'));
  assert.equal(stdout[bIdx + 1]!.log, '\n');
  assert.equal(stdout[bIdx + 1]!.time, stdout[bIdx]!.time);
});

function ticking(): () => LogTime {
  let n = 0;
  return () => ({ sec: 1000, nsec: ++n });
}

test('splitting does not depend on how the bytes are chunked', async () => {
  const payload = Buffer.concat([
    Buffer.from('short\n\n'),
    Buffer.alloc(16383, 'x'),
    Buffer.from('\n'), // fits: one message
    Buffer.alloc(16384, 'y'),
    Buffer.from('\n'), // fills the buffer: partial + empty last
    Buffer.alloc(16385, 'z'),
    Buffer.from('\n'), // partial + 1 byte
    Buffer.alloc(50000, 'w'),
    Buffer.from('\nend'),
  ]);
  const expected = [
    ['short', false],
    ['', false],
    ['x'.repeat(16383), false],
    ['y'.repeat(16384), true],
    ['', false],
    ['z'.repeat(16384), true],
    ['z', false],
    ['w'.repeat(16384), true],
    ['w'.repeat(16384), true],
    ['w'.repeat(16384), true],
    ['w'.repeat(848), false],
    ['end', true],
  ];
  for (const chunkSize of [1, 7, 2048, 16384, 65536, payload.length]) {
    const src = new PassThrough();
    const sink = new Collect();
    const copier = new LogCopier({ stdout: src }, sink, { now: ticking() });
    for (let i = 0; i < payload.length; i += chunkSize) src.write(payload.subarray(i, i + chunkSize));
    src.end();
    await copier.done();
    assert.deepEqual(
      sink.msgs.map((m) => [m.line.toString(), m.partial]),
      expected,
      `chunk size ${chunkSize}`,
    );
    // Timestamps: a partial run shares the first piece's; others are fresh.
    const ns = sink.msgs.map((m) => m.time.nsec);
    assert.equal(ns[3], ns[4]);
    assert.equal(ns[5], ns[6]);
    assert.deepEqual([ns[8], ns[9], ns[10]], [ns[7], ns[7], ns[7]]);
    assert.ok(ns[11]! > ns[10]!);
  }
});

test('the clock is read once per read chunk: its lines a nanosecond apart, never going back across chunks', async () => {
  let reads = 0;
  // A clock that stands still: the second chunk's reading is not after the first chunk's lines.
  const still = (): LogTime => {
    reads++;
    return { sec: 1000, nsec: 999_999_998 };
  };
  const src = new PassThrough();
  const sink = new Collect();
  const copier = new LogCopier({ stdout: src }, sink, { now: still });
  src.write('a\nb\nc\n');
  await new Promise((r) => setImmediate(r));
  src.write('d\n');
  src.end();
  await copier.done();
  assert.deepEqual(
    sink.msgs.map((m) => [m.line.toString(), m.time.sec, m.time.nsec]),
    [
      ['a', 1000, 999_999_998],
      ['b', 1000, 999_999_999],
      ['c', 1001, 0],
      ['d', 1001, 1],
    ],
  );
  assert.equal(reads, 2);
});

test('live listeners see raw chunks of each stream and can leave', async () => {
  const out = new PassThrough();
  const err = new PassThrough();
  const sink = new Collect();
  const copier = new LogCopier({ stdout: out, stderr: err }, sink);
  const seen: string[] = [];
  const off = copier.onData((stream, chunk) => seen.push(`${stream}:${chunk.toString()}`));
  out.write('ab');
  err.write('E\n');
  await new Promise((r) => setImmediate(r));
  off();
  out.end('c\n');
  err.end();
  await copier.done();
  assert.deepEqual(seen, ['stdout:ab', 'stderr:E\n']);
  assert.deepEqual(sink.msgs.map((m) => `${m.stream}:${m.line.toString()}`).sort(), ['stderr:E', 'stdout:abc']);
});

test('the pipe is drained with no listener even when the writer is slow', { skip: !BUSYBOX }, async () => {
  // 34 MB through a pipe: the child only exits if every byte is read.
  const child = spawn(BUSYBOX!, ['sh', '-c', 'yes 0123456789abcdef | head -c 34000000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let lines = 0;
  let slowFlush = 0;
  let backlog = 0;
  const sink: LogSink = {
    log: (m) => {
      lines++;
      backlog += m.line.length;
    },
    backlog: () => backlog,
    flush: async () => {
      slowFlush++;
      await new Promise((r) => setTimeout(r, 5));
      backlog = 0;
    },
  };
  const copier = new LogCopier({ stdout: child.stdout, stderr: child.stderr }, sink, { highWaterMark: 1 << 20 });
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await copier.done();
  assert.equal(await exit, 0);
  assert.equal(lines, 2_000_000);
  assert.ok(slowFlush > 1, 'blocking mode paused for the sink');
});

test('non-blocking mode drops instead of waiting', async () => {
  const src = new PassThrough();
  const logged: string[] = [];
  const sink: LogSink = {
    log: (m) => logged.push(m.line.toString()),
    backlog: () => (logged.length >= 2 ? 10_000 : 0),
    flush: async () => undefined,
  };
  const copier = new LogCopier({ stdout: src }, sink, { mode: 'non-blocking', maxBufferSize: 5000 });
  src.end('a\nb\nc\nd\n');
  await copier.done();
  assert.deepEqual(logged, ['a', 'b']);
  assert.equal(copier.dropped, 2);
});

test('done() waits for the sink to have written everything', async () => {
  const src = new PassThrough();
  let flushed = false;
  const sink: LogSink = {
    log: () => undefined,
    flush: () =>
      new Promise((r) =>
        setTimeout(() => {
          flushed = true;
          r();
        }, 20),
      ),
  };
  const copier = new LogCopier({ stdout: src }, sink);
  src.end('x\n');
  await copier.done();
  assert.equal(flushed, true);
});

test('a stream that fails counts as ended; its unterminated line is kept', async () => {
  const src = new PassThrough();
  const sink = new Collect();
  const errors: Error[] = [];
  const copier = new LogCopier({ stdout: src }, sink, { onError: (e) => errors.push(e) });
  src.write('half');
  await new Promise((r) => setImmediate(r));
  src.destroy(new Error('boom'));
  await copier.done();
  assert.deepEqual(
    sink.msgs.map((m) => [m.line.toString(), m.partial]),
    [['half', true]],
  );
  assert.equal(errors[0]?.message, 'boom');
});

test('a source that already ended (silent process, gone before the copier) finishes at once', async () => {
  const ended = new PassThrough();
  ended.end();
  ended.resume();
  await new Promise((r) => ended.once('end', r));
  const destroyed = new PassThrough();
  destroyed.destroy();
  // Ended but not yet read: its data must still be copied.
  const pending = new PassThrough();
  pending.end('last words\n');
  const sink = new Collect();
  const copier = new LogCopier({ stdout: ended, stderr: destroyed }, sink);
  const copier2 = new LogCopier({ stdout: pending }, sink);
  const timeout = new Promise((r) => setTimeout(() => r('timeout'), 1000));
  assert.equal(await Promise.race([Promise.all([copier.done(), copier2.done()]).then(() => 'done'), timeout]), 'done');
  assert.deepEqual(
    sink.msgs.map((m) => m.line.toString()),
    ['last words'],
  );
});
