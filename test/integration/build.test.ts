// docker build through the real CLI (DOCKER_BUILDKIT=0: CLI 28 without the buildx plugin takes
// the classic builder's POST /build only so) and dockerode's buildImage, against a real berthd:
// multi-stage builds, .dockerignore, the step cache, failing RUNs with their exit code, ARG/ENV,
// ONBUILD, --target, the image config, hostile contexts and a cancelled build.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import Docker from 'dockerode';
import { tarOf } from './archive-tools';
import { buildContext, classicBuild } from './build-kit';
import type { RunResult } from './harness';
import { b, busybox, lines, ok, useImagesBerth, wipe } from './images-kit';

useImagesBerth();

/** A context directory with these files (relative names). */
const context = (files: Record<string, string>): string => buildContext(b.dir, files);

const build = (dir: string, args: string[] = []): Promise<RunResult> => classicBuild(b, dir, args);

async function built(dir: string, args: string[] = []): Promise<string> {
  const r = await build(dir, args);
  assert.equal(r.code, 0, `build failed: ${r.stdout}\n${r.stderr}\nberthd log:\n${b.log().slice(-3000)}`);
  return r.stdout;
}

const idOf = async (ref: string): Promise<string> => (await ok(['image', 'inspect', '-f', '{{.Id}}', ref])).trim();
const runOut = async (args: string[]): Promise<string> => ok(['run', '--rm', ...args]);

describe('docker build (classic builder)', () => {
  before(async () => {
    await wipe();
    await ok(['load'], busybox);
  });

  test('a multi-stage build: compile stage, slim stage, dockerd stream text, tags and --iidfile', async () => {
    const dir = context({
      'main.go': 'package main\n',
      Dockerfile: [
        'FROM busybox AS build',
        'WORKDIR /src',
        'COPY main.go .',
        'RUN mkdir -p /out && printf "#!/bin/sh\\necho built from $(cat main.go | head -c 12)\\n" > /out/app && chmod +x /out/app',
        'FROM busybox',
        'COPY --from=build /out/app /usr/local/bin/app',
        'CMD ["app"]',
        '',
      ].join('\n'),
    });
    const iid = path.join(b.dir, 'iid');
    const out = await built(dir, ['-t', 'app:1', '-t', 'app:latest', '--iidfile', iid]);
    const l = lines(out);
    assert.ok(l[0].startsWith('Sending build context to Docker daemon'), out);
    assert.equal(l[1], 'Step 1/7 : FROM busybox AS build');
    assert.match(l[2], /^ ---> [0-9a-f]{12}$/);
    assert.equal(l[3], 'Step 2/7 : WORKDIR /src');
    assert.match(l[4], /^ ---> Running in [0-9a-f]{12}$/);
    assert.equal(l[5], `Removing intermediate container ${l[4].slice(-12)}`);
    assert.equal(l[7], 'Step 3/7 : COPY main.go .');
    // COPY has no container in dockerd's output.
    assert.match(l[8], /^ ---> [0-9a-f]{12}$/);
    assert.ok(l.includes('Step 5/7 : FROM busybox'), out);
    const id = await idOf('app:1');
    assert.equal(await idOf('app:latest'), id);
    assert.equal(fs.readFileSync(iid, 'utf8').trim(), id);
    assert.equal(l[l.length - 3], `Successfully built ${id.slice(7, 19)}`);
    assert.deepEqual(l.slice(-2), ['Successfully tagged app:1', 'Successfully tagged app:latest']);
    assert.equal((await runOut(['app:1'])).trim(), 'built from package main');
    // The slim stage has the binary, not the sources.
    assert.equal((await b.docker(['run', '--rm', 'app:1', 'ls', '/src'])).code, 1);
  });

  test('.dockerignore keeps a secret out, with ! exceptions', async () => {
    const dir = context({
      'secret.txt': 'password\n',
      'a.log': 'x\n',
      'keep.log': 'k\n',
      'sub/deep.log': 'd\n',
      'sub/ok.txt': 'ok\n',
      '.dockerignore': 'secret.txt\n**/*.log\n!keep.log\n',
      Dockerfile: 'FROM busybox\nCOPY . /ctx\n',
    });
    await built(dir, ['-t', 'ign']);
    const listing = lines(await runOut(['ign', 'find', '/ctx', '-type', 'f'])).sort();
    assert.deepEqual(listing, ['/ctx/.dockerignore', '/ctx/Dockerfile', '/ctx/keep.log', '/ctx/sub/ok.txt']);
  });

  test('cache: every step reused on rebuild, a COPY miss after its source changed, --no-cache', async () => {
    const dir = context({
      'a.txt': 'one\n',
      'b.txt': 'bee\n',
      Dockerfile: 'FROM busybox\nENV X=1\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy\nCOPY b.txt /b.txt\n',
    });
    const first = await built(dir, ['-t', 'cached']);
    assert.ok(!first.includes('Using cache'), first);
    const firstId = await idOf('cached');
    const second = await built(dir, ['-t', 'cached']);
    assert.equal(lines(second).filter((x) => x === ' ---> Using cache').length, 4, second);
    assert.equal(await idOf('cached'), firstId);
    fs.writeFileSync(path.join(dir, 'a.txt'), 'two\n');
    const third = lines(await built(dir, ['-t', 'cached']));
    // ENV still cached; the COPY of the edited file and everything after it rebuilt.
    assert.equal(third.filter((x) => x === ' ---> Using cache').length, 1, third.join('\n'));
    assert.equal(third[third.indexOf('Step 2/5 : ENV X=1') + 1], ' ---> Using cache');
    assert.notEqual(third[third.indexOf('Step 3/5 : COPY a.txt /a.txt') + 1], ' ---> Using cache');
    assert.equal((await runOut(['cached', 'cat', '/copy'])).trim(), 'two');
    const nocache = await built(dir, ['--no-cache', '-t', 'cached']);
    assert.ok(!nocache.includes('Using cache'), nocache);
  });

  test('a failing RUN: its message and exit code', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nRUN echo before && exit 3\nRUN echo never\n' });
    const r = await build(dir);
    assert.equal(r.code, 3, r.stderr);
    assert.ok(r.stdout.includes('before\n'), r.stdout);
    assert.ok(!r.stdout.includes('Step 3/3'), r.stdout);
    assert.ok(r.stderr.includes("The command '/bin/sh -c echo before && exit 3' returned a non-zero code: 3"), r.stderr);
    // As dockerd: the failed step's container stays (rm only after success); --force-rm removes it.
    const kept = / ---> Running in ([0-9a-f]{12})\n(?![\s\S]* ---> Running in)/.exec(r.stdout)?.[1] ?? '';
    assert.ok((await ok(['ps', '-aq'])).includes(kept), r.stdout);
    await ok(['rm', kept]);
    const forced = await b.docker(['build', '--force-rm', dir], { env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 180_000 });
    assert.equal(forced.code, 3);
    const gone = / ---> Running in ([0-9a-f]{12})/.exec(forced.stdout)?.[1] ?? 'none';
    assert.ok(forced.stdout.includes(`Removing intermediate container ${gone}`), forced.stdout);
    assert.ok(!(await ok(['ps', '-aq'])).includes(gone));
  });

  test('COPY wildcards in any path element, several sources into a directory', async () => {
    const dir = context({
      's1/a1.txt': '1\n',
      's2/a2.txt': '2\n',
      's2/b.txt': 'b\n',
      't/a3.txt': '3\n',
      'top.md': 'm\n',
      Dockerfile: 'FROM busybox\nCOPY s*/a?.txt *.md /w/\n',
    });
    await built(dir, ['-t', 'globbed']);
    assert.deepEqual(lines(await runOut(['globbed', 'ls', '/w'])), ['a1.txt', 'a2.txt', 'top.md']);
    const none = await build(context({ Dockerfile: 'FROM busybox\nCOPY nothing* /w/\n' }));
    assert.notEqual(none.code, 0);
    assert.ok(none.stderr.includes('COPY failed: no source files were specified'), none.stderr);
  });

  test('--network none, --memory and --ulimit reach the RUN containers', async () => {
    const dir = context({
      Dockerfile:
        'FROM busybox\nRUN ls /sys/class/net > /nets; cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes > /mem\nRUN ulimit -n > /nofile\n',
    });
    const out = await built(dir, ['--network', 'none', '--memory', '64m', '--ulimit', 'nofile=512:1024', '-t', 'nonet']);
    assert.equal(await runOut(['nonet', 'cat', '/nofile']), '512\n');
    assert.equal(await runOut(['--network', 'none', 'nonet', 'cat', '/nets']), 'lo\n');
    // The build's resource options reach the RUN container.
    assert.ok(out.includes('67108864\n') || (await runOut(['nonet', 'cat', '/mem'])) === '67108864\n', out);
    await built(dir, ['--no-cache', '-t', 'withnet']);
    assert.ok(lines(await runOut(['--network', 'none', 'withnet', 'cat', '/nets'])).includes('eth0'));
  });

  test('ARG and ENV substitution, --build-arg, and the unused-arg warning', async () => {
    const dir = context({
      Dockerfile: [
        'ARG BASE=busybox',
        'FROM ${BASE}',
        'ARG NAME=nobody',
        'ARG PLAIN',
        'ENV GREETING="hello ${NAME}" DIR=/data',
        'WORKDIR $DIR',
        'RUN echo "$GREETING/$PLAIN" > greeting',
        '',
      ].join('\n'),
    });
    const out = await built(dir, [
      '--build-arg',
      'NAME=world',
      '--build-arg',
      'PLAIN=p',
      '--build-arg',
      'UNUSED=1',
      '--label',
      'org.x=$y',
      '-t',
      'args',
    ]);
    assert.ok(out.includes(`Step 8/8 : LABEL "org.x"='$y'`), out);
    assert.equal((await ok(['image', 'inspect', '-f', '{{index .Config.Labels "org.x"}}', 'args'])).trim(), '$y');
    assert.ok(out.includes('Step 1/8 : ARG BASE=busybox'), out);
    assert.ok(out.includes('[Warning] One or more build-args [UNUSED] were not consumed'), out);
    assert.equal((await runOut(['args', 'cat', '/data/greeting'])).trim(), 'hello world/p');
    const env = JSON.parse(await ok(['image', 'inspect', '-f', '{{json .Config.Env}}', 'args'])) as string[];
    assert.ok(env.includes('GREETING=hello world'), env.join(','));
    // Build args are in the RUN's environment, not in the image's.
    assert.ok(!env.some((e) => e.startsWith('NAME=')), env.join(','));
    const hist = await ok(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'args']);
    assert.ok(hist.includes('|2 NAME=world PLAIN=p /bin/sh -c echo "$GREETING/$PLAIN" > greeting'), hist);
  });

  test('ONBUILD triggers run in the child build', async () => {
    await built(context({ Dockerfile: 'FROM busybox\nMAINTAINER berth-test\nONBUILD RUN echo triggered > /trig\n' }), ['-t', 'parent-ob']);
    assert.equal((await ok(['image', 'inspect', '-f', '{{.Author}}', 'parent-ob'])).trim(), 'berth-test');
    const out = await built(context({ Dockerfile: 'FROM parent-ob\nRUN cat /trig\n' }), ['-t', 'child-ob']);
    assert.ok(out.includes('# Executing 1 build trigger\n'), out);
    assert.equal((await runOut(['child-ob', 'cat', '/trig'])).trim(), 'triggered');
    assert.equal((await ok(['image', 'inspect', '-f', '{{json .Config.OnBuild}}', 'child-ob'])).trim(), 'null');
  });

  test('--target stops at a stage; HEALTHCHECK, USER and the rest in the image config', async () => {
    const dir = context({
      Dockerfile: [
        'FROM busybox AS base',
        'LABEL stage=base',
        'USER nobody:nogroup',
        'HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD ["true"]',
        'EXPOSE 8080/tcp 53/udp',
        'VOLUME /data',
        'STOPSIGNAL SIGINT',
        'ENTRYPOINT ["sh", "-c"]',
        'FROM base AS final',
        'LABEL stage=final',
        '',
      ].join('\n'),
    });
    const out = await built(dir, ['--target', 'base', '-t', 'tgt', '--label', 'extra=1']);
    assert.ok(!out.includes('stage=final'), out);
    const cfg = JSON.parse(await ok(['image', 'inspect', '-f', '{{json .Config}}', 'tgt'])) as Record<string, unknown>;
    assert.equal(cfg.User, 'nobody:nogroup');
    assert.deepEqual(cfg.Healthcheck, { Test: ['CMD', 'true'], Interval: 5e9, Timeout: 2e9, Retries: 4 });
    assert.deepEqual(cfg.ExposedPorts, { '53/udp': {}, '8080/tcp': {} });
    assert.deepEqual(cfg.Volumes, { '/data': {} });
    assert.equal(cfg.StopSignal, 'SIGINT');
    assert.deepEqual(cfg.Entrypoint, ['sh', '-c']);
    assert.deepEqual(cfg.Labels, { stage: 'base' });
    const missing = await build(dir, ['--target', 'nope']);
    assert.notEqual(missing.code, 0);
    assert.ok(missing.stderr.includes('failed to reach build target nope in Dockerfile'), missing.stderr);
  });

  test('FROM scratch with COPY --chown and ADD of a local tar', async () => {
    const archive = await tarOf([{ name: 'etc/' }, { name: 'etc/added', data: 'from the tar\n' }]);
    const dir = context({
      Dockerfile:
        'FROM busybox AS tools\nFROM scratch\nCOPY --from=tools /bin/busybox /bin/busybox\nCOPY --chown=7:8 f /f\nCOPY --chown=7:8 f /o/p/\nADD t.tar.gz /x/\n',
      f: 'file\n',
    });
    fs.writeFileSync(path.join(dir, 't.tar.gz'), gzipSync(archive));
    await built(dir, ['-t', 'scr']);
    const script = '/bin/busybox stat -c %u:%g /f /o /o/p /o/p/f; /bin/busybox cat /x/etc/added';
    // As dockerd: the destination dir the copy makes is the --chown owner's, its parents root's.
    assert.equal(await runOut(['--entrypoint', '/bin/busybox', 'scr', 'sh', '-c', script]), '7:8\n0:0\n7:8\n7:8\nfrom the tar\n');
  });

  test('remote contexts: a tar URL, a Dockerfile URL, a 404', async () => {
    const archive = gzipSync(
      await tarOf([
        { name: 'Dockerfile', data: 'FROM busybox\nCOPY hello /hello\n' },
        { name: 'hello', data: 'remote tar\n' },
      ]),
    );
    const server = http.createServer((req, res) => {
      if (req.url === '/ctx.tar.gz') res.end(archive);
      else if (req.url === '/Dockerfile') res.end('FROM busybox\nRUN echo remote dockerfile > /df\n');
      else {
        res.statusCode = 404;
        res.end('gone');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      // The CLI downloads http contexts itself; SDKs (and `docker build` of git URLs) send remote=.
      const viaApi = async (url: string, tag: string): Promise<{ status: number; body: string }> => {
        const r = await b.request('POST', `/v1.53/build?t=${tag}&remote=${encodeURIComponent(url)}`);
        return { status: r.status, body: r.body.toString() };
      };
      const tarred = await viaApi(`${base}/ctx.tar.gz`, 'remote-tar');
      assert.equal(tarred.status, 200, tarred.body);
      assert.ok(tarred.body.includes('Successfully tagged remote-tar:latest'), tarred.body);
      assert.equal(await runOut(['remote-tar', 'cat', '/hello']), 'remote tar\n');
      const df = await viaApi(`${base}/Dockerfile`, 'remote-df');
      assert.ok(df.body.includes('Successfully tagged remote-df:latest'), df.body);
      assert.equal(await runOut(['remote-df', 'cat', '/df']), 'remote dockerfile\n');
      const missing = await viaApi(`${base}/nope`, 'x');
      assert.equal(missing.status, 404);
      assert.equal(
        (JSON.parse(missing.body) as { message: string }).message,
        `error downloading remote context ${base}/nope: failed to GET ${base}/nope with status 404 Not Found: gone`,
      );
      // Through the CLI, which fetches the URL and sends it as the body.
      await built(`${base}/ctx.tar.gz`, ['-t', 'remote-cli']);
      assert.equal(await runOut(['remote-cli', 'cat', '/hello']), 'remote tar\n');
    } finally {
      server.close();
    }
  });

  test('version=2 (BuildKit) is refused naming the classic builder', async () => {
    const r = await b.request('POST', '/v1.53/build?version=2', { body: await tarOf([{ name: 'Dockerfile', data: 'FROM busybox\n' }]) });
    assert.equal(r.status, 400);
    assert.match(r.body.toString(), /classic builder/);
  });
});

describe('build through dockerode', () => {
  const sdk = (): Docker => new Docker({ socketPath: b.socket });

  async function messages(stream: NodeJS.ReadableStream): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    await new Promise<void>((resolve, reject) => {
      sdk().modem.followProgress(
        stream,
        (err) => (err ? reject(err) : resolve()),
        (m: Record<string, unknown>) => out.push(m),
      );
    });
    return out;
  }

  test('a gzip context streamed as a tar, .dockerignore applied by the daemon, aux ID', async () => {
    const ctx = await tarOf([
      { name: 'Dockerfile', data: 'FROM busybox\nCOPY . /in\nRUN ls -A /in > /listing\n' },
      { name: '.dockerignore', data: 'secret\n' },
      { name: 'secret', data: 'hunter2\n' },
      { name: 'public', data: 'p\n' },
    ]);
    const stream = await sdk().buildImage(Readable.from([gzipSync(ctx)]), { t: 'sdk:1' });
    const msgs = await messages(stream);
    const aux = msgs.filter((m) => m.aux !== undefined).map((m) => (m.aux as { ID: string }).ID);
    assert.equal(aux[aux.length - 1], await idOf('sdk:1'));
    assert.deepEqual(lines(await runOut(['sdk:1', 'cat', '/listing'])), ['.dockerignore', 'Dockerfile', 'public']);
  });

  test('a failing build: the step output and errorDetail with the exit code', async () => {
    const ctx = await tarOf([{ name: 'Dockerfile', data: 'FROM busybox\nRUN echo oops; exit 7\n' }]);
    const stream = await sdk().buildImage(Readable.from([ctx]), {});
    const msgs: Record<string, unknown>[] = [];
    for await (const line of lines((await streamText(stream)).replace(/\r/g, ''))) msgs.push(JSON.parse(line) as Record<string, unknown>);
    assert.ok(
      msgs.some((m) => m.stream === 'oops\n'),
      JSON.stringify(msgs),
    );
    const last = msgs[msgs.length - 1];
    assert.deepEqual(last.errorDetail, { code: 7, message: "The command '/bin/sh -c echo oops; exit 7' returned a non-zero code: 7" });
  });

  test('a hostile context is confined: ../ names and links out land inside the context or fail', async () => {
    const outside = path.join(b.dir, 'escaped');
    const rel = path.relative('/', outside);
    const ctx = await tarOf([
      { name: 'Dockerfile', data: 'FROM busybox\nCOPY . /c\n' },
      { name: `../../../../../../${rel}-1`, data: 'x' },
      { name: `/${rel}-2`, data: 'x' },
      { name: 'up', type: 'symlink', linkname: '../../../../../../../' },
      { name: `up/${rel}-3`, data: 'x' },
    ]);
    const text = await streamText(await sdk().buildImage(Readable.from([ctx]), { t: 'hostile' }));
    for (const i of [1, 2, 3]) assert.ok(!fs.existsSync(`${outside}-${i}`), `escaped to ${outside}-${i}: ${text}`);
  });

  test('closing the connection cancels the running step and leaves no container', async () => {
    const ctx = await tarOf([{ name: 'Dockerfile', data: 'FROM busybox\nRUN sleep 120\n' }]);
    const stream = (await sdk().buildImage(Readable.from([ctx]), { nocache: true })) as NodeJS.ReadableStream & { destroy(): void };
    let buf = '';
    const id = await new Promise<string>((resolve, reject) => {
      stream.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        const m = / ---> Running in ([0-9a-f]{12})/.exec(buf);
        if (m) resolve(m[1]);
      });
      stream.on('error', reject);
      stream.on('end', () => reject(new Error(`ended: ${buf}`)));
    });
    stream.destroy();
    let left = id;
    for (let i = 0; i < 100 && left !== ''; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = (await ok(['ps', '-aq', '--no-trunc'])).includes(id) ? id : '';
    }
    assert.equal(left, '', 'the build container is still there');
  });
});

async function streamText(stream: NodeJS.ReadableStream): Promise<string> {
  let s = '';
  for await (const chunk of stream) s += (chunk as Buffer).toString();
  return s;
}
