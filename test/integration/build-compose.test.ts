// docker-compose 1.29's `build:` (docker-py's POST /build: a context tar, build args, the
// X-Registry-Config header) against berthd, then `up` running the built image.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Kit } from './container-kit';
import { run, type RunResult } from './harness';

const COMPOSE = '/usr/bin/docker-compose';
const haveCompose = fs.existsSync(COMPOSE);
let k: Kit;
let dir: string;

function compose(args: string[]): Promise<RunResult> {
  return run(COMPOSE, ['-p', 'berthbuild', '-f', path.join(dir, 'docker-compose.yml'), ...args], {
    env: { ...process.env, DOCKER_HOST: `unix://${k.b.socket}`, COMPOSE_INTERACTIVE_NO_CLI: '1' },
    timeoutMs: 180_000,
  });
}

before(async () => {
  if (!haveCompose) return;
  k = await Kit.start();
  dir = fs.mkdtempSync(path.join(k.b.dir, 'compose-build-'));
  fs.mkdirSync(path.join(dir, 'app'));
  fs.writeFileSync(path.join(dir, 'app', 'Dockerfile'), 'FROM busybox\nARG MSG=none\nRUN echo $MSG > /msg\nCMD ["cat", "/msg"]\n');
  fs.writeFileSync(
    path.join(dir, 'docker-compose.yml'),
    'version: "3"\nservices:\n  app:\n    build:\n      context: ./app\n      args:\n        MSG: hi-compose\n    image: compbuilt:1\n',
  );
});

after(async () => {
  if (!k) return;
  await compose(['down', '--timeout', '1']);
  await k.destroy();
});

test('compose build with args, then up runs the built image', { skip: !haveCompose && 'docker-compose is not installed' }, async () => {
  const built = await compose(['build']);
  assert.equal(built.code, 0, `${built.stdout}\n${built.stderr}\n${k.b.log().slice(-2000)}`);
  assert.match(built.stdout, /Step 3\/4 : RUN echo \$MSG > \/msg/);
  assert.match(built.stdout, /Successfully tagged compbuilt:1/);
  const up = await compose(['up', '--no-color']);
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stdout, /app_1 +\| hi-compose/);
});
