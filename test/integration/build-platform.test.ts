// docker build --platform and FROM --platform through the real CLI (DOCKER_BUILDKIT=0), as moby's
// GetImage with a platform decides (dockerd 20.10 lets a stored image through, see
// docs/divergence.md): a stored image whose config names another platform counts as missing and
// is pulled for the wanted one (from a loopback registry here); one that still does not match
// fails the step; a previous stage is taken as it is.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { destroyBerth, startBerth, type Berth, type RunResult } from './harness';
import { seedBusybox, seedIndex, useRegistry } from './registry-kit';
import { buildContext, classicBuild } from './build-kit';

let b: Berth;

before(async () => {
  b = await startBerth();
});
after(async () => {
  if (b) await destroyBerth(b);
});

const context = (dockerfile: string): string => buildContext(b.dir, { Dockerfile: dockerfile });
const build = (dir: string, args: string[] = []): Promise<RunResult> => classicBuild(b, dir, args);

const archOf = async (ref: string): Promise<string> => {
  const r = await b.docker(['image', 'inspect', '-f', '{{.Os}}/{{.Architecture}}', ref]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
};

describe('build platform', () => {
  const reg = useRegistry();
  let amd = '';
  let arm = '';
  let multi = '';

  before(async () => {
    amd = `${reg().host}/bb:amd`;
    arm = `${reg().host}/bb:arm`;
    multi = `${reg().host}/multi:1`;
    await seedBusybox(reg(), 'bb', 'amd');
    await seedBusybox(reg(), 'bb', 'arm', { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    await seedIndex(reg(), 'multi', '1');
    for (const ref of [amd, multi]) assert.equal((await b.docker(['pull', ref])).code, 0);
    assert.equal((await b.docker(['pull', '--platform', 'linux/arm64', arm])).code, 0);
    assert.equal(await archOf(multi), 'linux/amd64');
  });

  test('the host platform builds from the stored image, --platform or not', async () => {
    for (const args of [[], ['--platform', 'linux/amd64']]) {
      const r = await build(context(`FROM ${amd}\nRUN echo ok > /ok\n`), args);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.doesNotMatch(r.stdout, /Pulling from/);
    }
  });

  test('a stored image of the wanted platform is used as it is', async () => {
    const r = await build(context(`FROM --platform=linux/arm64 ${arm}\nLABEL x=y\n`));
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.doesNotMatch(r.stdout, /Pulling from/);
  });

  test('another platform: pulled from the index when the registry has it', async () => {
    const r = await build(context(`FROM --platform=linux/arm64 ${multi}\nLABEL x=y\n`), ['-t', 'multi-arm']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /Pulling from multi/);
    assert.equal(await archOf(multi), 'linux/arm64');
    assert.equal(await archOf('multi-arm'), 'linux/arm64');
  });

  test('another platform the registry lacks: the step fails, nothing is built from the host image', async () => {
    const r = await build(context(`FROM ${amd}\nRUN echo built\n`), ['--platform', 'linux/arm64']);
    assert.notEqual(r.code, 0, r.stdout);
    assert.doesNotMatch(r.stdout, /Running in|built/);
    assert.match(
      r.stderr,
      new RegExp(
        `image with reference ${amd.replace(/\./g, '\\.')} was found but does not match the specified platform: wanted linux/arm64, actual: linux/amd64`,
      ),
    );
  });

  test('FROM a previous stage is used as it is, whatever the platform (as dockerd 20.10)', async () => {
    const r = await build(context(`FROM ${amd} AS base\nFROM --platform=linux/arm64 base\nRUN echo built\n`));
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^built$/m);
    assert.doesNotMatch(r.stdout, /Pulling from/);
  });

  test('a platform that does not parse is a 400', async () => {
    const r = await build(context(`FROM ${amd}\n`), ['--platform', 'linux/amd64/v2/x']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Error response from daemon: "linux\/amd64\/v2\/x": cannot parse platform specifier: invalid argument/);
    const bad = await build(context(`FROM --platform=a/b/c/d ${amd}\n`));
    assert.match(bad.stderr, /failed to parse platform a\/b\/c\/d: "a\/b\/c\/d": cannot parse platform specifier: invalid argument/);
  });
});
