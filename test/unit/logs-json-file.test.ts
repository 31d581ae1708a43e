import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { JsonFileLogger } from '../../daemon/logs/json-file';
import { rotatedGz } from '../fixtures/dockerd-logs';
import { freshLogPaths } from './log-files';
import { nanoTimeOf, type NanoTime } from '../../lib/time';

const fresh = freshLogPaths('berth-jsonfile-');
const at = (i: number): NanoTime => nanoTimeOf(new Date(Date.UTC(2026, 10, 28, 14, 21, 16) + i));
const NSEC = 123456789; // nine significant digits: every entry the same length as dockerd's
const logLines = (text: string): string[] =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { log: string }).log);

test('appends to an existing file with mode 0640 and keeps order under load', async () => {
  const file = fresh();
  fs.writeFileSync(file, '{"log":"old\\n","stream":"stdout","time":"2026-01-01T00:00:00Z"}\n');
  const logger = new JsonFileLogger({ path: file });
  for (let i = 0; i < 20000; i++) logger.log({ stream: i % 3 ? 'stdout' : 'stderr', line: Buffer.from(`m${i}`), time: at(0) });
  assert.ok(logger.backlog() > 0, 'log() returns before writing');
  await logger.close();
  logger.log({ stream: 'stdout', line: Buffer.from('after close'), time: at(0) });
  const lines = logLines(fs.readFileSync(file, 'utf8'));
  assert.equal(lines.length, 20001);
  assert.equal(lines[0], 'old\n');
  lines.slice(1).forEach((l, i) => assert.equal(l, `m${i}\n`));
  const created = fresh();
  await new JsonFileLogger({ path: created }).close();
  assert.equal(fs.statSync(created).mode & 0o777, 0o640 & ~process.umask());
});

test('rotation by max-size keeps max-file files, cut where dockerd cuts', async () => {
  const file = fresh();
  const logger = new JsonFileLogger({ path: file, maxSize: 1000, maxFile: 3 });
  let rotations = 0;
  logger.subscribe(() => rotations++);
  for (let i = 0; i < 60; i++) logger.log({ stream: 'stdout', line: Buffer.from(`line ${i}`), time: { sec: at(i).sec, nsec: NSEC } });
  await logger.close();
  const dir = path.dirname(file);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['c-json.log', 'c-json.log.1', 'c-json.log.2']);
  // Same split as the reference daemon's max-size=1k, max-file=3 run of 60 "line N" entries.
  assert.deepEqual(
    logLines(fs.readFileSync(`${file}.2`, 'utf8')),
    Array.from({ length: 13 }, (_, i) => `line ${26 + i}\n`),
  );
  assert.deepEqual(
    logLines(fs.readFileSync(`${file}.1`, 'utf8')),
    Array.from({ length: 13 }, (_, i) => `line ${39 + i}\n`),
  );
  assert.deepEqual(
    logLines(fs.readFileSync(file, 'utf8')),
    Array.from({ length: 8 }, (_, i) => `line ${52 + i}\n`),
  );
  assert.equal(fs.statSync(file).size, 624);
  assert.equal(fs.statSync(`${file}.1`).size, 1014);
  assert.ok(rotations > 0);
});

test('max-file 1 truncates in place', async () => {
  const file = fresh();
  const logger = new JsonFileLogger({ path: file, maxSize: 500, maxFile: 1 });
  for (let i = 0; i < 30; i++) logger.log({ stream: 'stdout', line: Buffer.from(`entry ${i}`), time: { sec: at(i).sec, nsec: NSEC } });
  await logger.close();
  assert.deepEqual(fs.readdirSync(path.dirname(file)), ['c-json.log']);
  const lines = logLines(fs.readFileSync(file, 'utf8'));
  assert.equal(lines[lines.length - 1], 'entry 29\n');
  assert.ok(lines.length < 30);
});

test("compress: rotated files are gzip with dockerd's header and lastTime", async () => {
  const file = fresh();
  const logger = new JsonFileLogger({ path: file, maxSize: 1000, maxFile: 3, compress: true });
  for (let i = 0; i < 60; i++) {
    logger.log({ stream: 'stdout', line: Buffer.from(`line ${i}`), time: { sec: at(i).sec, nsec: NSEC } });
    if (i % 7 === 0) await logger.flush(); // let compressions interleave with writes
  }
  await logger.close();
  const dir = path.dirname(file);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['c-json.log', 'c-json.log.1.gz', 'c-json.log.2.gz']);
  const gz = fs.readFileSync(`${file}.2.gz`);
  const ref = Buffer.from(rotatedGz, 'base64');
  // ID, CM, FLG=FEXTRA, MTIME 0, XFL 0, OS 255 — as Go's gzip writer in dockerd
  assert.deepEqual(gz.subarray(0, 10), ref.subarray(0, 10));
  const xlen = gz.readUInt16LE(10);
  const extra = JSON.parse(gz.subarray(12, 12 + xlen).toString()) as { lastTime: string };
  assert.equal(extra.lastTime, '2026-11-28T14:21:16.123456789Z'); // line 38's time (ms 38 is dropped by nsec)
  assert.deepEqual(
    logLines(zlib.gunzipSync(gz).toString()),
    Array.from({ length: 13 }, (_, i) => `line ${26 + i}\n`),
  );
  assert.deepEqual(logLines(zlib.gunzipSync(fs.readFileSync(`${file}.1.gz`)).toString())[0], 'line 39\n');
  // and dockerd's own file reads the same way
  const refXlen = ref.readUInt16LE(10);
  assert.match(ref.subarray(12, 12 + refXlen).toString(), /^\{"lastTime":"[^"]+Z"\}$/);
  assert.ok(zlib.gunzipSync(ref).toString().startsWith('{"log":"line 39\\n"'));
});

test('a write failure is reported and the logger carries on', async () => {
  const file = fresh();
  const errors: Error[] = [];
  const logger = new JsonFileLogger({ path: file, maxSize: 200, maxFile: 2, onError: (e) => errors.push(e) });
  fs.rmSync(path.dirname(file), { recursive: true }); // rotation cannot recreate the file
  for (let i = 0; i < 10; i++) logger.log({ stream: 'stdout', line: Buffer.from(`x${i}`), time: at(i) });
  await logger.flush();
  assert.ok(errors.some((e) => /rotating|writing/.test(e.message)));
  // Once the directory is back, entries land in a file at the path again.
  fs.mkdirSync(path.dirname(file));
  logger.log({ stream: 'stdout', line: Buffer.from('back'), time: at(11) });
  await logger.close();
  assert.deepEqual(logLines(fs.readFileSync(file, 'utf8')), ['back\n']);
});
