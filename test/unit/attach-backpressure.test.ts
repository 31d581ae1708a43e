// An attached client that does not read pauses its container's output (as dockerd's copier
// blocks) instead of making the daemon buffer without bound; it resumes once every slow client
// caught up or left, and the log copier's own pause is independent of it.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { AttachHub } from '../../daemon/containers/attach-hub';
import { LogCopier } from '../../daemon/logs/copier';

function source(): { pauses: number; resumes: number; pause(): void; resume(): void } {
  return {
    pauses: 0,
    resumes: 0,
    pause() {
      this.pauses++;
    },
    resume() {
      this.resumes++;
    },
  };
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

test('a client over its bound pauses the source until it drains', async () => {
  const hub = new AttachHub();
  const src = source();
  hub.connectSource(src);
  let drain: () => void = () => undefined;
  const got: string[] = [];
  hub.add({
    onOutput: (_s, chunk) => {
      got.push(chunk.toString());
      if (chunk.toString() === 'full') return new Promise<void>((r) => (drain = r));
    },
    onEnd: () => undefined,
  });
  hub.output('stdout', Buffer.from('a'));
  assert.equal(src.pauses, 0);
  hub.output('stdout', Buffer.from('full'));
  assert.equal(hub.paused, true);
  assert.equal(src.pauses, 1);
  // More output already read still reaches the client; no second pause.
  hub.output('stdout', Buffer.from('b'));
  assert.equal(src.pauses, 1);
  drain();
  await flush();
  assert.equal(hub.paused, false);
  assert.equal(src.resumes, 1);
  assert.deepEqual(got, ['a', 'full', 'b']);
});

test('the source resumes when the slow client leaves, and only when every slow client is done', async () => {
  const hub = new AttachHub();
  const src = source();
  hub.connectSource(src);
  const never = (): Promise<void> => new Promise<void>(() => undefined);
  let drainFast: () => void = () => undefined;
  const leaveSlow = hub.add({ onOutput: () => never(), onEnd: () => undefined });
  hub.add({ onOutput: () => new Promise<void>((r) => (drainFast = r)), onEnd: () => undefined });
  hub.output('stdout', Buffer.from('x'));
  assert.equal(src.pauses, 1);
  drainFast();
  await flush();
  assert.equal(hub.paused, true, 'still paused for the client that never reads');
  leaveSlow();
  assert.equal(hub.paused, false);
  assert.equal(src.resumes, 1);
});

test('the end of the run releases the source', () => {
  const hub = new AttachHub();
  const src = source();
  hub.connectSource(src);
  hub.add({ onOutput: () => new Promise<void>(() => undefined), onEnd: () => undefined });
  hub.output('stderr', Buffer.from('x'));
  assert.equal(hub.paused, true);
  hub.releaseSource();
  assert.equal(hub.paused, false);
  assert.equal(src.resumes, 1);
  // No source any more: a full client cannot pause anything.
  hub.output('stderr', Buffer.from('y'));
  assert.equal(src.pauses, 1);
});

test('LogCopier.hold pauses the sources until every hold is released', async () => {
  const stdout = new PassThrough();
  const lines: string[] = [];
  const copier = new LogCopier({ stdout }, { log: (m) => lines.push(m.line.toString()) });
  const release1 = copier.hold();
  const release2 = copier.hold();
  assert.equal(stdout.isPaused(), true);
  release1();
  release1(); // twice is once
  assert.equal(stdout.isPaused(), true);
  release2();
  assert.equal(stdout.isPaused(), false);
  stdout.end('hello\n');
  await copier.done();
  assert.deepEqual(lines, ['hello']);
});
