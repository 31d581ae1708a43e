import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidParameter } from '../../lib/errors';
import { applyChanges, parseDuration as parseGoDuration } from '../../daemon/images/changes';
import { isValidSignal } from '../../daemon/signals';
import type { ContainerConfig } from '../../daemon/images/image-config';
import { processWord, processWords, envLookupFromList } from '../../daemon/images/shell-lex';

function apply(changes: string[], base: ContainerConfig = {}): ContainerConfig {
  return applyChanges(base, changes);
}

function invalid(changes: string[], message: string, base: ContainerConfig = {}): void {
  assert.throws(
    () => applyChanges(base, changes),
    (err: unknown) => {
      assert.ok(err instanceof InvalidParameter, `expected InvalidParameter, got ${String(err)}`);
      assert.equal(err.message, message);
      return true;
    },
    JSON.stringify(changes),
  );
}

// Expected values below were checked against dockerd (import --change) where 20.10 and current
// moby agree; where they differ the current behaviour is expected (noted inline).

test('no changes returns an unchanged copy', () => {
  const base: ContainerConfig = { Env: ['A=1'], Cmd: ['sh'] };
  const out = apply([], base);
  assert.deepEqual(out, base);
  assert.notEqual(out, base);
});

test('CMD and ENTRYPOINT, exec and shell form', () => {
  const cases: [string[], Partial<ContainerConfig>][] = [
    [['CMD echo hi'], { Cmd: ['/bin/sh', '-c', 'echo hi'] }],
    [['CMD ["echo", "hi"]'], { Cmd: ['echo', 'hi'] }],
    [['CMD []'], { Cmd: [] }],
    // A bare CMD is an empty shell-form command line: only the shell remains (dockerd does this).
    [['CMD'], { Cmd: ['/bin/sh', '-c'] }],
    [['ENTRYPOINT /bin/x -v'], { Entrypoint: ['/bin/sh', '-c', '/bin/x -v'], Cmd: null }],
    [['ENTRYPOINT'], { Entrypoint: null, Cmd: null }],
    [['ENTRYPOINT []'], { Entrypoint: null, Cmd: null }],
    [['CMD a', 'ENTRYPOINT b'], { Cmd: ['/bin/sh', '-c', 'a'], Entrypoint: ['/bin/sh', '-c', 'b'] }],
    [['ENTRYPOINT b', 'CMD a'], { Cmd: ['/bin/sh', '-c', 'a'], Entrypoint: ['/bin/sh', '-c', 'b'] }],
    [['CMD [ "not json'], { Cmd: ['/bin/sh', '-c', '[ "not json'] }],
  ];
  for (const [changes, expected] of cases) {
    const out = apply(changes);
    for (const [k, v] of Object.entries(expected)) assert.deepEqual(out[k as keyof ContainerConfig], v, `${JSON.stringify(changes)} ${k}`);
    assert.equal(out.ArgsEscaped, false);
  }
  // ENTRYPOINT clears the image's CMD unless the same changes set one.
  assert.equal(apply(['ENTRYPOINT ["top"]'], { Cmd: ['sh'] }).Cmd, null);
  assert.deepEqual(apply(['CMD ["-b"]', 'ENTRYPOINT ["top"]'], { Cmd: ['sh'] }).Cmd, ['-b']);
  // A custom SHELL in the config is used for shell form.
  assert.deepEqual(apply(['CMD x'], { Shell: ['/bin/bash', '-xc'] }).Cmd, ['/bin/bash', '-xc', 'x']);
});

test('ENV forms, quoting and expansion', () => {
  const cases: [string[], string[]][] = [
    [['ENV a=b c=d'], ['a=b', 'c=d']],
    [['ENV a b c'], ['a=b c']],
    [[`ENV a="hello world" b='x y'`], ['a=hello world', 'b=x y']],
    [['ENV a=x\\ y'], ['a=x y']],
    [
      ['ENV a=1', 'ENV b=$a c=${a}2 d=${zz:-def} e=${a:+alt}'],
      ['a=1', 'b=1', 'c=12', 'd=def', 'e=alt'],
    ],
    // Values are expanded against the environment before the instruction.
    [['ENV a=1 b=$a'], ['a=1', 'b=']],
    [['ENV a=1', 'ENV a=2'], ['a=2']],
    [['ENV PATH=/usr/bin', 'ENV PATH=$PATH:/opt'], ['PATH=/usr/bin:/opt']],
    [['ENV a=\'$HOME\' b="$HOME" c=\\$HOME'], ['a=$HOME', 'b=', 'c=$HOME']],
    [
      ['ENV X=abcabc', 'ENV a=${X#*b} b=${X##*b} c=${X%b*} d=${X%%b*} e=${X/b/Z} f=${X//b/Z}'],
      ['X=abcabc', 'a=cabc', 'b=c', 'c=abca', 'd=a', 'e=aZcabc', 'f=aZcaZc'],
    ],
  ];
  for (const [changes, env] of cases) assert.deepEqual(apply(changes).Env, env, JSON.stringify(changes));
  // The base config's environment is kept, replaced in place and used for expansion.
  assert.deepEqual(apply(['ENV B=x$A A=2 C=3'], { Env: ['A=1', 'Z=0'] }).Env, ['A=2', 'Z=0', 'B=x1', 'C=3']);
});

test('LABEL, USER, WORKDIR, VOLUME, EXPOSE, ONBUILD, STOPSIGNAL, HEALTHCHECK', () => {
  assert.deepEqual(apply(['LABEL a=b "c d"=e']).Labels, { a: 'b', 'c d': 'e' });
  assert.deepEqual(apply(['LABEL a b c']).Labels, { a: 'b c' });
  assert.deepEqual(apply(['LABEL x="$HOME"'], { Env: ['HOME=/root'], Labels: { y: '1' } }).Labels, { x: '/root', y: '1' });
  assert.deepEqual(apply(['LABEL a="multi \\\n word"']).Labels, { a: 'multi  word' });
  assert.equal(apply(['USER nobody']).User, 'nobody');
  assert.equal(apply(['USER 1000:1000']).User, '1000:1000');
  assert.equal(apply(['USER a b']).User, 'a b');
  assert.equal(apply(['WORKDIR /a', 'WORKDIR b/../c/']).WorkingDir, '/a/c');
  assert.equal(apply(['WORKDIR a']).WorkingDir, '/a');
  assert.equal(apply(['WORKDIR a'], { WorkingDir: '/base' }).WorkingDir, '/base/a');
  // Current moby cleans absolute paths (20.10 kept "/x/").
  assert.equal(apply(['WORKDIR /x/']).WorkingDir, '/x');
  assert.equal(apply(['ENV D=/d', 'WORKDIR $D/e']).WorkingDir, '/d/e');
  assert.deepEqual(apply(['VOLUME /a /b']).Volumes, { '/a': {}, '/b': {} });
  assert.deepEqual(apply(['VOLUME ["/a", "/b c"]']).Volumes, { '/a': {}, '/b c': {} });
  assert.deepEqual(apply(['EXPOSE 80 443/udp 8000-8002/tcp']).ExposedPorts, {
    '80/tcp': {},
    '443/udp': {},
    '8000/tcp': {},
    '8001/tcp': {},
    '8002/tcp': {},
  });
  assert.deepEqual(apply(['EXPOSE 1.2.3.4:80:80', 'EXPOSE 53/UDP']).ExposedPorts, { '80/tcp': {}, '53/udp': {} });
  assert.deepEqual(apply(['ENV P="81 82"', 'EXPOSE $P']).ExposedPorts, { '81/tcp': {}, '82/tcp': {} });
  assert.deepEqual(apply(['ONBUILD RUN echo hi', 'onbuild   ADD . /app']).OnBuild, ['RUN echo hi', 'ADD . /app']);
  assert.equal(apply(['STOPSIGNAL SIGKILL']).StopSignal, 'SIGKILL');
  assert.equal(apply(['STOPSIGNAL 9']).StopSignal, '9');
  assert.equal(apply(['STOPSIGNAL rtmin+3']).StopSignal, 'rtmin+3');
  assert.deepEqual(apply(['HEALTHCHECK NONE']).Healthcheck, { Test: ['NONE'] });
  assert.deepEqual(apply(['HEALTHCHECK CMD curl -f http://x/']).Healthcheck, { Test: ['CMD-SHELL', 'curl -f http://x/'] });
  assert.deepEqual(apply(['HEALTHCHECK --interval=5s --timeout=3s --retries=3 CMD ["true"]']).Healthcheck, {
    Test: ['CMD', 'true'],
    Interval: 5e9,
    Timeout: 3e9,
    Retries: 3,
  });
  assert.deepEqual(apply(['HEALTHCHECK --start-period=1m30s --start-interval=500ms CMD x']).Healthcheck, {
    Test: ['CMD-SHELL', 'x'],
    StartPeriod: 90e9,
    StartInterval: 5e8,
  });
});

test('Dockerfile syntax: comments, continuations, several changes per element', () => {
  assert.deepEqual(apply(['# comment', 'CMD x']).Cmd, ['/bin/sh', '-c', 'x']);
  assert.deepEqual(apply(['CMD a \\', '  b']).Cmd, ['/bin/sh', '-c', 'a   b']);
  assert.deepEqual(apply(['CMD a \\', '# c', '  b']).Cmd, ['/bin/sh', '-c', 'a   b']);
  const out = apply(['ENV a=1\nCMD x\r\n', 'USER u']);
  assert.deepEqual(out.Env, ['a=1']);
  assert.deepEqual(out.Cmd, ['/bin/sh', '-c', 'x']);
  assert.equal(out.User, 'u');
  // The escape directive switches the escape and continuation character.
  assert.deepEqual(apply(['# escape=`', 'ENV a=x` y', 'CMD a `', 'b']).Env, ['a=x y']);
  assert.deepEqual(apply(['# escape=`', 'CMD a `', 'b']).Cmd, ['/bin/sh', '-c', 'a b']);
});

test('rejected instructions and parse errors carry dockerd messages', () => {
  const cases: [string[], string][] = [
    // Current moby echoes the instruction as written; 20.10 printed it lowercased.
    [['RUN echo'], 'RUN is not a valid change command'],
    [['run echo'], 'run is not a valid change command'],
    [['FROM x'], 'FROM is not a valid change command'],
    [['COPY a b'], 'COPY is not a valid change command'],
    [['MAINTAINER me'], 'MAINTAINER is not a valid change command'],
    [['ARG x'], 'ARG is not a valid change command'],
    [['SHELL ["/bin/bash"]'], 'SHELL is not a valid change command'],
    [['FOO bar'], 'FOO is not a valid change command'],
    [['CMD x', 'RUN y'], 'RUN is not a valid change command'],
    [['', '  '], 'file with no instructions'],
    [['# only a comment'], 'file with no instructions'],
    [['ENV'], 'ENV requires at least one argument'],
    [['ENV a'], 'ENV must have two arguments'],
    [['ENV =b'], 'ENV names can not be blank'],
    [['ENV a=b c'], 'Syntax error - can\'t find = in "c". Must be of the form: name=value'],
    [['LABEL'], 'LABEL requires at least one argument'],
    [['CMD ["a", 1]'], 'when using JSON array syntax, arrays must be comprised of strings only'],
    [['RUN ["a", 1]'], 'when using JSON array syntax, arrays must be comprised of strings only'],
    [['EXPOSE 80/xyz'], 'invalid proto: xyz'],
    [['EXPOSE abc'], 'invalid containerPort: abc'],
    [['EXPOSE 70000'], 'invalid containerPort: 70000'],
    [['EXPOSE 90-80'], 'invalid containerPort: 90-80'],
    [['EXPOSE'], 'EXPOSE requires at least one argument'],
    [['VOLUME'], 'VOLUME requires at least one argument'],
    [['VOLUME ["/a", ""]'], 'VOLUME specified can not be an empty string'],
    [['USER'], 'USER requires exactly one argument'],
    [['WORKDIR'], 'WORKDIR requires exactly one argument'],
    [['WORKDIR $NOPE'], 'cannot normalize nothing'],
    [['STOPSIGNAL'], 'STOPSIGNAL requires exactly one argument'],
    [['STOPSIGNAL FOO'], 'invalid signal: FOO'],
    [['STOPSIGNAL 0'], 'invalid signal: 0'],
    [['ONBUILD'], 'ONBUILD requires at least one argument'],
    [['ONBUILD ONBUILD x'], "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"],
    [['onbuild from x'], "FROM isn't allowed as an ONBUILD trigger"],
    [['ONBUILD MAINTAINER x'], "MAINTAINER isn't allowed as an ONBUILD trigger"],
    [['HEALTHCHECK'], 'HEALTHCHECK requires at least one argument'],
    [['HEALTHCHECK NONE x'], 'HEALTHCHECK NONE takes no arguments'],
    [['HEALTHCHECK CMD'], 'Missing command after HEALTHCHECK CMD'],
    [['HEALTHCHECK BLAH x'], 'Unknown type "BLAH" in HEALTHCHECK (try CMD)'],
    [['HEALTHCHECK --interval=1us CMD x'], 'Interval "interval" cannot be less than 1ms'],
    [['HEALTHCHECK --interval=abc CMD x'], 'time: invalid duration "abc"'],
    [['HEALTHCHECK --timeout=10 CMD x'], 'time: missing unit in duration "10"'],
    [['HEALTHCHECK --timeout=10y CMD x'], 'time: unknown unit "y" in duration "10y"'],
    [['HEALTHCHECK --retries=x CMD x'], 'strconv.ParseInt: parsing "x": invalid syntax'],
    [['HEALTHCHECK --retries=-1 CMD x'], '--retries cannot be negative (-1)'],
    [['HEALTHCHECK --foo=1 CMD x'], 'unknown flag: --foo'],
    [['HEALTHCHECK --interval CMD x'], 'missing a value on flag: --interval'],
    [['HEALTHCHECK --interval=5s --interval=6s CMD x'], 'duplicate flag specified: --interval'],
    [['ENV --foo a=b'], 'unknown flag: --foo'],
    [['ENV a=${b'], 'failed to process "${b": unsupported modifier (\ufffd) in substitution'],
    [['ENV a=${b:x}'], 'failed to process "${b:x}": unsupported modifier (:x) in substitution'],
    [['ENV a=${}'], 'failed to process "${}": syntax error: bad substitution'],
    [['ENV a=${b?required}'], 'failed to process "${b?required}": b: required'],
    [['ENV a=${b:?}'], 'failed to process "${b:?}": b: is not allowed to be unset'],
    [['ENV a="unterminated'], 'failed to process "\\"unterminated": unexpected end of statement while looking for matching double-quote'],
    [["ENV a='x"], 'failed to process "\'x": unexpected end of statement while looking for matching single-quote'],
    [['# escape=x', 'CMD a'], "invalid escape token 'x' does not match ` or \\"],
  ];
  for (const [changes, message] of cases) invalid(changes, message);
});

test('shell word processing', () => {
  const env = envLookupFromList(['A=1', 'B=two words', 'E=']);
  assert.equal(processWord('$A${A}x', env), '11x');
  assert.equal(processWord('\'$A\' "$A" \\$A', env), '$A 1 $A');
  assert.equal(processWord('${E:-d} ${E-d} ${U-d}', env), 'd  d');
  assert.equal(processWord('$', env), '$');
  assert.deepEqual(processWords('$B "$B" x', env), ['two', 'words', 'two words', 'x']);
  assert.deepEqual(processWords('  a   b  ', env), ['a', 'b']);
});

test('Go durations and signals', () => {
  assert.equal(parseGoDuration('0'), 0);
  assert.equal(parseGoDuration('1h2m3.5s'), 3723.5e9);
  assert.equal(parseGoDuration('1.5ms'), 1.5e6);
  assert.equal(parseGoDuration('-2us'), -2000);
  assert.equal(parseGoDuration('.5s'), 5e8);
  for (const s of ['', '1', '.s', 's', '1..2s', '-']) assert.throws(() => parseGoDuration(s), s);
  for (const s of ['TERM', 'SIGTERM', 'sigkill', '9', 'RTMIN+15', 'RTMAX-14', 'SIGRTMAX']) assert.equal(isValidSignal(s), true, s);
  for (const s of ['FOO', '0', 'SIG', 'RTMIN+16', '']) assert.equal(isValidSignal(s), false, s);
});
