// docker build --cache-from through the real CLI (DOCKER_BUILDKIT=0): an image built, saved,
// removed with all its intermediate images and loaded back has no parent chain, so only its
// history can serve as cache, and only when named by --cache-from (moby's image/cache).
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { RunResult } from './harness';
import { buildContext, classicBuild } from './build-kit';
import { b, busybox, lines, ok, saveBytes, useImagesBerth, wipe } from './images-kit';

useImagesBerth();

const DOCKERFILE = [
  'FROM busybox',
  'ENV GREETING=hello',
  'RUN echo "$GREETING" > /hello',
  'COPY f.txt /f.txt',
  'CMD ["cat", "/hello"]',
  '',
].join('\n');

const context = (dockerfile: string, f: string): string => buildContext(b.dir, { Dockerfile: dockerfile, 'f.txt': f });

async function build(dir: string, args: string[]): Promise<string> {
  const r: RunResult = await classicBuild(b, dir, args);
  assert.equal(r.code, 0, `build failed: ${r.stdout}\n${r.stderr}\nberthd log:\n${b.log().slice(-3000)}`);
  return r.stdout;
}

const idOf = async (ref: string): Promise<string> => (await ok(['image', 'inspect', '-f', '{{.Id}}', ref])).trim();
/** The step numbers (1-based) whose output says ` ---> Using cache`. */
const cachedSteps = (out: string): number[] =>
  out
    .split(/^Step /m)
    .slice(1)
    .map((s, i) => (s.includes(' ---> Using cache\n') ? i + 1 : 0))
    .filter((n) => n > 0);

describe('docker build --cache-from', () => {
  let appId = '';

  before(async () => {
    await wipe();
    await ok(['load'], busybox);
    await build(context(DOCKERFILE, 'one\n'), ['-t', 'app:1']);
    appId = await idOf('app:1');
    const saved = await saveBytes(['app:1']);
    await ok(['rmi', 'app:1', 'busybox']);
    assert.deepEqual(lines(await ok(['images', '-a', '-q'])), [], 'the intermediate images are gone');
    await ok(['load'], busybox);
    await ok(['load'], saved);
    assert.equal(await idOf('app:1'), appId);
  });

  test('the loaded image history serves every step; a missing --cache-from image is skipped', async () => {
    const out = await build(context(DOCKERFILE, 'one\n'), ['--cache-from', 'nosuch:1', '--cache-from', 'app:1', '-t', 'app:2']);
    assert.deepEqual(cachedSteps(out), [2, 3, 4, 5], out);
    assert.doesNotMatch(out, /Running in/);
    // The last step is the source image itself, now with the rebuilt chain as its parent.
    assert.equal(await idOf('app:2'), appId);
    assert.notEqual((await ok(['image', 'inspect', '-f', '{{.Parent}}', 'app:2'])).trim(), '');
    assert.equal(await ok(['run', '--rm', 'app:2']), 'hello\n');
  });

  test('a changed COPY source misses from that step on; a Dockerfile prefix restores the image', async () => {
    const out = await build(context(DOCKERFILE, 'two\n'), ['--cache-from', 'app:1', '-t', 'app:3']);
    assert.deepEqual(cachedSteps(out), [2, 3], out);
    const prefix = await build(context(DOCKERFILE.split('\n').slice(0, 3).join('\n'), 'one\n'), ['--cache-from', 'app:1', '-t', 'app:4']);
    assert.deepEqual(cachedSteps(prefix), [2, 3], prefix);
    assert.equal(await ok(['run', '--rm', 'app:4', 'sh', '-c', 'cat /hello; echo $GREETING']), 'hello\nhello\n');
  });

  test('without --cache-from the loaded image is no cache', async () => {
    const out = await build(context(DOCKERFILE, 'one\n'), ['-t', 'app:5']);
    assert.deepEqual(cachedSteps(out), [], out);
    assert.notEqual(await idOf('app:5'), appId);
  });
});
