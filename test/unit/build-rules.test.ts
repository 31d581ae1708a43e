// The builder's pure rules: .dockerignore as moby/patternmatcher matches it, the step cache's
// config comparison (moby's compare) and its choice among matches, build args in the cache key,
// and the Dockerfile's stages.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BuildArgs, prependEnvOnCmd } from '../../daemon/build/args';
import { findCached, sameStepConfig } from '../../daemon/build/cache';
import { PatternMatcher, readIgnoreFile } from '../../daemon/build/dockerignore';
import type { BuildImage } from '../../daemon/build/ports';
import { parseStages } from '../../daemon/build/stages';
import type { ContainerConfig } from '../../daemon/containers/api-types';
import { InvalidParameter } from '../../lib/errors';

function excluded(patterns: string, file: string): boolean {
  return new PatternMatcher(readIgnoreFile(patterns)).matchesOrParentMatches(file);
}

describe('.dockerignore', () => {
  test('reading: comments, blanks, BOM, cleaning, leading slash, ! with spaces', () => {
    assert.deepEqual(readIgnoreFile('\ufeff# c\n\n  /a/b/  \n! ./c/../d\nx\r\n#!y\n'), ['a/b', '!d', 'x']);
  });

  test('plain names match the file and everything below a matched dir', () => {
    assert.equal(excluded('secret.txt', 'secret.txt'), true);
    assert.equal(excluded('secret.txt', 'sub/secret.txt'), false);
    assert.equal(excluded('node_modules', 'node_modules/a/b.js'), true);
    assert.equal(excluded('node_modules', 'node_modules2'), false);
  });

  test('* and ? stay within one element; ** crosses any number', () => {
    assert.equal(excluded('*.log', 'a.log'), true);
    assert.equal(excluded('*.log', 'sub/a.log'), false);
    assert.equal(excluded('*/*.log', 'sub/a.log'), true);
    assert.equal(excluded('**/*.log', 'a.log'), true);
    assert.equal(excluded('**/*.log', 'x/y/z/a.log'), true);
    assert.equal(excluded('a/**/b', 'a/b'), true);
    assert.equal(excluded('a/**/b', 'a/x/y/b'), true);
    assert.equal(excluded('a/**', 'a/x/y'), true);
    assert.equal(excluded('a?c', 'abc'), true);
    assert.equal(excluded('a?c', 'a/c'), false);
  });

  test('classes, escapes and regexp characters taken literally', () => {
    assert.equal(excluded('[ab].txt', 'a.txt'), true);
    assert.equal(excluded('[ab].txt', 'c.txt'), false);
    assert.equal(excluded('[^ab].txt', 'c.txt'), true);
    assert.equal(excluded('a+(b).txt', 'a+(b).txt'), true);
    assert.equal(excluded('a.txt', 'abtxt'), false);
    assert.equal(excluded('\\*', '*'), true);
    assert.equal(excluded('\\*', 'a'), false);
  });

  test('! exceptions: the last matching pattern decides', () => {
    const p = '*.log\n!keep.log\n';
    assert.equal(excluded(p, 'a.log'), true);
    assert.equal(excluded(p, 'keep.log'), false);
    assert.equal(excluded('*.log\n!keep.log\nkeep.log\n', 'keep.log'), true);
    assert.equal(excluded('docs\n!docs/README.md\n', 'docs/README.md'), false);
    assert.equal(excluded('docs\n!docs/README.md\n', 'docs/other.md'), true);
    assert.equal(new PatternMatcher(['docs', '!docs/x']).hasExclusions, true);
  });

  test('a lone ! and a bad class are refused', () => {
    assert.throws(() => new PatternMatcher(['!']), /illegal exclusion pattern: "!"/);
    assert.throws(() => new PatternMatcher(['[a']), InvalidParameter);
  });
});

describe('the step cache', () => {
  const base: ContainerConfig = {
    Cmd: ['/bin/sh', '-c', '#(nop) ', 'ENV A=b'],
    Env: ['PATH=/bin', 'A=b'],
    Labels: { x: 'y' },
    ExposedPorts: { '80/tcp': {} },
    Volumes: { '/data': {} },
    User: 'nobody',
    Hostname: 'abc',
    Image: 'sha256:1',
  };
  const img = (id: string, created: string, container_config: ContainerConfig): BuildImage => ({
    id,
    config: { architecture: 'amd64', os: 'linux', created, container_config, rootfs: { type: 'layers', diff_ids: [] } },
  });

  test('moby compare: Image and Hostname ignored, everything else counts', () => {
    assert.equal(sameStepConfig(base, { ...base, Hostname: 'other', Image: 'sha256:2' }), true);
    assert.equal(sameStepConfig(base, { ...base, Cmd: ['/bin/sh', '-c', '#(nop) ', 'ENV A=c'] }), false);
    assert.equal(sameStepConfig(base, { ...base, Env: ['A=b', 'PATH=/bin'] }), false);
    assert.equal(sameStepConfig(base, { ...base, Labels: { x: 'z' } }), false);
    assert.equal(sameStepConfig(base, { ...base, ExposedPorts: { '81/tcp': {} } }), false);
    assert.equal(sameStepConfig(base, { ...base, Volumes: {} }), false);
    assert.equal(sameStepConfig(base, { ...base, User: '' }), false);
    assert.equal(sameStepConfig(base, { ...base, Entrypoint: ['sh'] }), false);
    assert.equal(sameStepConfig({ ...base, OpenStdin: true }, { ...base, OpenStdin: true }), false);
    assert.equal(sameStepConfig(base, undefined), false);
  });

  test('the newest matching child wins; a COPY hash change misses', () => {
    const copy = (hash: string): ContainerConfig => ({ ...base, Cmd: ['/bin/sh', '-c', `#(nop) COPY file:${hash} in /a `] });
    const children = [
      img('sha256:old', '2024-01-01T00:00:00Z', copy('aaa')),
      img('sha256:new', '2024-02-01T00:00:00Z', copy('aaa')),
      img('sha256:other', '2024-03-01T00:00:00Z', copy('bbb')),
    ];
    assert.equal(findCached(children, copy('aaa')), 'sha256:new');
    assert.equal(findCached(children, copy('ccc')), undefined);
  });

  test('build args go into the RUN cache key as |N k=v, sorted, proxies left out', () => {
    assert.deepEqual(prependEnvOnCmd(['B=2', 'A=1', 'HTTP_PROXY=p'], ['/bin/sh', '-c', 'x']), ['|2', 'A=1', 'B=2', '/bin/sh', '-c', 'x']);
    assert.deepEqual(prependEnvOnCmd([], ['x']), ['x']);
  });

  test('build args: declared, defaulted, overridden, meta args, ENV wins', () => {
    const args = new BuildArgs({ A: 'cli', C: null, UNUSED: 'u' });
    args.addMeta('M', 'meta');
    const stage = args.forStage();
    stage.add('A', 'def');
    stage.add('B', 'bdef');
    stage.add('C', 'cdef');
    stage.add('M', null);
    assert.deepEqual(stage.filterAllowed(['B=env']), ['A=cli', 'C=cdef', 'M=meta']);
    assert.deepEqual(args.unused(), ['UNUSED']);
  });
});

describe('Dockerfile stages', () => {
  test('meta args, stages with names, instructions with their lines', () => {
    const f = parseStages('ARG V=1\nFROM busybox:${V} AS Build\n# c\nRUN a \\\n  b\nFROM build\nCOPY --from=build --chown=1:2 a b /d/\n');
    assert.equal(f.metaArgs.length, 1);
    assert.deepEqual(
      f.stages.map((s) => [s.image, s.name, s.line]),
      [
        ['busybox:${V}', 'build', 2],
        ['build', '', 6],
      ],
    );
    assert.deepEqual(f.stages[0].commands[0], { kind: 'run', cmdLine: ['a   b'], prependShell: true, original: 'RUN a   b', line: 4 });
    const copy = f.stages[1].commands[0];
    assert.equal(copy.kind, 'copy');
    if (copy.kind === 'copy') assert.deepEqual([copy.sources, copy.dest, copy.from, copy.chown], [['a', 'b'], '/d/', 'build', '1:2']);
  });

  test("dockerd's refusals", () => {
    assert.throws(() => parseStages('RUN x\n'), /dockerfile parse error line 1: no build stage in current context/);
    assert.throws(() => parseStages('FROM a\nFOO x\n'), /dockerfile parse error line 2: unknown instruction: FOO/);
    assert.throws(() => parseStages('FROM a b\n'), /FROM requires either one or three arguments/);
    assert.throws(() => parseStages('FROM a AS 1x\n'), /invalid name for build stage/);
    assert.throws(() => parseStages('FROM a\nCOPY x\n'), /COPY requires at least two arguments/);
    assert.throws(() => parseStages('FROM a\nRUN <<EOF\nx\nEOF\n'), /heredocs are not supported/);
    assert.throws(() => parseStages('FROM a\nCOPY --nope=1 a b\n'), /unknown flag: --nope/);
  });
});
