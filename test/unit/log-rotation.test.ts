// Log rotation bounds: rotation values refused at create, rotation renames only the files that
// exist (max-file=100000 must not mean 100,000 renames per line), close() does not wait for a
// backlog that a tiny max-size makes endless.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mock, test } from 'node:test';
import { JsonFileLogger, highestRotatedIndex, shiftRotatedFiles } from '../../daemon/logs/json-file';
import { validateLogOpts } from '../../daemon/logs/log-opts';
import { freshLogPaths } from './log-files';
import { nanoTimeOf, type NanoTime } from '../../lib/time';

const fresh = freshLogPaths('berth-rotation-');
const at = (i: number): NanoTime => nanoTimeOf(new Date(Date.UTC(2026, 10, 28, 14, 21, 16) + i));

test('rotation values are refused at create with dockerd texts', () => {
  const bad = (opts: Record<string, string>, message: string): void =>
    assert.throws(
      () => validateLogOpts('json-file', opts),
      (err: Error) => err.name === 'InvalidParameter' && err.message === message,
    );
  bad({ 'max-size': '-1' }, "invalid size: '-1'");
  bad({ 'max-size': '0' }, 'max-size must be a positive number');
  bad({ 'max-file': '0' }, 'max-file cannot be less than 1');
  bad({ 'max-file': '-3' }, 'max-file cannot be less than 1');
  bad({ compress: 'true', 'max-size': '1k' }, 'compress cannot be true when max-file is less than 2 or max-size is not set');
  validateLogOpts('json-file', { 'max-size': '1', 'max-file': '100000' });
  validateLogOpts('json-file', { 'max-size': '10m', 'max-file': '3', compress: 'true' });
});

test('highestRotatedIndex reads the directory once', () => {
  const file = fresh();
  assert.equal(highestRotatedIndex(file), 0);
  for (const s of ['.1', '.2', '.7.gz', '.x', '.01', '.3.tmp']) fs.writeFileSync(file + s, '');
  fs.writeFileSync(path.join(path.dirname(file), 'other-json.log.9'), '');
  assert.equal(highestRotatedIndex(file), 7);
  assert.equal(highestRotatedIndex(path.join(path.dirname(fresh()), 'missing', 'x.log')), 0);
});

test('shiftRotatedFiles moves only existing indices and drops the oldest at max-file', async () => {
  const file = fresh();
  fs.writeFileSync(`${file}.1`, 'a');
  fs.writeFileSync(`${file}.2`, 'b');
  const rename = mock.method(fs.promises, 'rename');
  try {
    assert.equal(await shiftRotatedFiles(file, 100000, false, 2), 3);
    assert.equal(rename.mock.callCount(), 2);
    assert.equal(fs.readFileSync(`${file}.3`, 'utf8'), 'b');
    assert.equal(fs.readFileSync(`${file}.2`, 'utf8'), 'a');
    assert.ok(!fs.existsSync(`${file}.1`));
    // At the bound: .3 (max-file 4 → highest index 3) is dropped, .2 → .3, .1 absent.
    rename.mock.resetCalls();
    assert.equal(await shiftRotatedFiles(file, 4, false, 3), 3);
    assert.equal(rename.mock.callCount(), 2);
    assert.equal(fs.readFileSync(`${file}.3`, 'utf8'), 'a');
  } finally {
    rename.mock.restore();
  }
});

test('max-size=1 max-file=100000: renames grow with the files present, not with max-file', async () => {
  const file = fresh();
  const rename = mock.method(fs.promises, 'rename');
  try {
    const logger = new JsonFileLogger({ path: file, maxSize: 1, maxFile: 100000 });
    for (let i = 0; i < 40; i++) {
      logger.log({ stream: 'stdout', line: Buffer.from(`line ${i}`), time: at(i) });
      await logger.flush();
    }
    await logger.close();
    // 39 rotations; the k-th shifts k-1 files and moves the current one: k renames, 780 in all
    // (the old code made 100,000 per rotation).
    assert.equal(rename.mock.callCount(), (39 * 40) / 2);
  } finally {
    rename.mock.restore();
  }
  const names = fs.readdirSync(path.dirname(file));
  assert.equal(names.length, 40);
  assert.match(fs.readFileSync(`${file}.39`, 'utf8'), /"line 0\\n"/);
  assert.match(fs.readFileSync(file, 'utf8'), /"line 39\\n"/);
});

test('a logger started over existing rotated files keeps at most max-file files', async () => {
  const file = fresh();
  for (let i = 1; i <= 5; i++) fs.writeFileSync(`${file}.${i}`, `old ${i}`);
  const logger = new JsonFileLogger({ path: file, maxSize: 1, maxFile: 4 });
  for (let i = 0; i < 10; i++) logger.log({ stream: 'stdout', line: Buffer.from(`l${i}`), time: at(i) });
  await logger.close();
  // .4 and .5 were beyond max-file before the start: left alone, as dockerd leaves them.
  const kept = fs.readdirSync(path.dirname(file)).sort();
  assert.deepEqual(kept, ['c-json.log', 'c-json.log.1', 'c-json.log.2', 'c-json.log.3', 'c-json.log.4', 'c-json.log.5']);
  assert.match(fs.readFileSync(`${file}.3`, 'utf8'), /"l6\\n"/);
});

test('close() drops a backlog it cannot write within its grace period', async () => {
  const file = fresh();
  const errors: string[] = [];
  const logger = new JsonFileLogger({ path: file, maxSize: 1, maxFile: 100000, closeGraceMs: 1, onError: (e) => errors.push(e.message) });
  for (let i = 0; i < 20000; i++) logger.log({ stream: 'stdout', line: Buffer.from(`l${i}`), time: at(i) });
  await logger.close();
  assert.equal(logger.backlog(), 0);
  assert.ok(
    errors.some((m) => /backlog of \d+ bytes dropped at close/.test(m)),
    errors.join('\n'),
  );
  assert.ok(fs.readdirSync(path.dirname(file)).length < 20000);
});
