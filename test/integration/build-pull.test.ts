// docker build whose FROM (and COPY --from) images are not stored: pulled from a registry that
// wants Basic auth, with the credentials the CLI sends in X-Registry-Config after `docker login`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { destroyBerth, startBerth, type Berth } from './harness';
import { seedBusybox, useRegistry } from './registry-kit';
import { buildContext, classicBuild } from './build-kit';

let b: Berth;

before(async () => {
  b = await startBerth();
});
after(async () => {
  if (b) await destroyBerth(b);
});

const context = (dockerfile: string): string => buildContext(b.dir, { Dockerfile: dockerfile });
const build = (dir: string): ReturnType<Berth['docker']> => classicBuild(b, dir, ['-t', 'pulled-build']);

describe('FROM pulls what is missing', () => {
  const reg = useRegistry({ auth: { basic: [{ user: 'alice', pass: 's3cret' }] } });

  before(async () => {
    await seedBusybox(reg(), 'private/bb', '1', { extraFiles: { 'from-registry.txt': 'pulled\n' } });
  });

  test('without credentials the pull is refused and the build fails', async () => {
    const r = await build(context(`FROM ${reg().host}/private/bb:1\nRUN true\n`));
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /pull access denied for 127\.0\.0\.1:\d+\/private\/bb, repository does not exist or may require 'docker login'/);
  });

  test('after docker login the X-Registry-Config credentials pull the base image', async () => {
    const login = await b.docker(['login', reg().host, '-u', 'alice', '--password-stdin'], { input: 's3cret\n' });
    assert.equal(login.code, 0, login.stderr);
    const dir = context(`FROM ${reg().host}/private/bb:1\nCOPY --from=${reg().host}/private/bb:1 /from-registry.txt /copied\n`);
    const r = await build(dir);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${b.log().slice(-2000)}`);
    assert.match(r.stdout, /Step 1\/2 : FROM 127\.0\.0\.1:\d+\/private\/bb:1\n.*Pulling from private\/bb/s);
    assert.match(r.stdout, /Status: Downloaded newer image for 127\.0\.0\.1:\d+\/private\/bb:1/);
    const run = await b.docker(['run', '--rm', 'pulled-build', 'cat', '/copied', '/from-registry.txt']);
    assert.equal(run.stdout, 'pulled\npulled\n', run.stderr);
  });
});
