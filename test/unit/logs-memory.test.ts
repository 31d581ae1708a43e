import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { JsonFileLogger } from '../../daemon/logs/json-file';
import { readLogs } from '../../daemon/logs/reader';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-logmem-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const TOTAL_MB = 200;

test(`reading a ${TOTAL_MB} MB log streams with bounded memory`, async (t) => {
  const file = path.join(tmp, 'big-json.log');
  // One megabyte of real entries, encoded by the logger, appended TOTAL_MB times.
  const logger = new JsonFileLogger({ path: path.join(tmp, 'block.log') });
  const parts: Buffer[] = [];
  let size = 0;
  let perBlock = 0;
  const text = 'x'.repeat(700);
  while (size < 1 << 20) {
    const b = logger.encode({
      stream: perBlock % 5 ? 'stdout' : 'stderr',
      line: Buffer.from(`${perBlock} ${text}`),
      time: { sec: Math.floor((Date.UTC(2026, 0, 1) + perBlock) / 1000), nsec: 123456789 },
    });
    parts.push(b);
    size += b.length;
    perBlock++;
  }
  await logger.close();
  const block = Buffer.concat(parts);
  const fd = fs.openSync(file, 'w');
  for (let i = 0; i < TOTAL_MB; i++) fs.writeSync(fd, block);
  fs.closeSync(fd);
  const expected = perBlock * TOTAL_MB;

  const tRead = Date.now();
  const base = process.memoryUsage().rss;
  let peak = base;
  let count = 0;
  let bytes = 0;
  for await (const e of readLogs({
    path: file,
    maxFile: 1,
    compress: false,
    stdout: true,
    stderr: true,
    follow: false,
    signal: new AbortController().signal,
    isRunning: () => false,
  })) {
    count++;
    bytes += e.line.length;
    if ((count & 0x3fff) === 0) peak = Math.max(peak, process.memoryUsage().rss);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  assert.equal(count, expected);
  assert.ok(bytes > TOTAL_MB * 900_000);
  const growth = (peak - base) / (1 << 20);
  t.diagnostic(`read ${count} entries in ${Date.now() - tRead} ms, RSS growth ${growth.toFixed(1)} MB`);
  assert.ok(growth < 100, `RSS grew by ${growth.toFixed(1)} MB`);

  // tail from the end reads only the end
  const t0 = Date.now();
  const last: string[] = [];
  for await (const e of readLogs({
    path: file,
    maxFile: 1,
    compress: false,
    stdout: true,
    stderr: true,
    tail: 3,
    follow: false,
    signal: new AbortController().signal,
    isRunning: () => false,
  }))
    last.push(e.line.toString().split(' ')[0]!);
  assert.deepEqual(last, [String(perBlock - 3), String(perBlock - 2), String(perBlock - 1)]);
  assert.ok(Date.now() - t0 < 500, 'tail does not scan the file');
});
