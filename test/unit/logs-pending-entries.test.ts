// The json-file writer's queue of encoded entries against a plain array of entries: the same
// bytes, in order, batch by batch, whatever the entry sizes, block boundaries and batch limits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { BLOCK_SIZE, FIRST_BLOCK_SIZE, PendingEntries } from '../../daemon/logs/pending-entries';

type Op = { kind: 'log'; size: number; fill: number } | { kind: 'take'; limit: number } | { kind: 'clear' };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('log' as const),
      size: fc.oneof(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: FIRST_BLOCK_SIZE / 2, max: FIRST_BLOCK_SIZE + 10 }),
        fc.integer({ min: BLOCK_SIZE / 2, max: BLOCK_SIZE + 10 }),
      ),
      fill: fc.nat(255),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('take' as const), limit: fc.nat(BLOCK_SIZE * 2) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
);

test('PendingEntries: batches hold the queued entries in order, as a list of entries would', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const pending = new PendingEntries();
      const model: { bytes: Buffer; sec: number }[] = [];
      let sec = 0;
      for (const o of ops) {
        if (o.kind === 'log') {
          const block = pending.target(o.size);
          const at = pending.offset;
          assert.ok(block.length - at >= o.size);
          block.fill(o.fill, at, at + o.size);
          sec++;
          pending.commit(at + o.size, { sec, nsec: o.fill });
          model.push({ bytes: Buffer.alloc(o.size, o.fill), sec });
        } else if (o.kind === 'take') {
          // The pump's rule: the first entry always, then while the bytes so far are under the limit.
          const got = pending.take((bytes) => bytes < o.limit);
          let n = 0;
          let bytes = 0;
          while (n < model.length && (n === 0 || bytes < o.limit)) bytes += model[n++]!.bytes.length;
          const want = model.splice(0, n);
          if (n === 0) {
            assert.equal(got, undefined);
            continue;
          }
          assert.ok(got);
          assert.equal(got.count, n);
          assert.equal(got.bytes, bytes);
          assert.equal(got.last.sec, want[want.length - 1]!.sec);
          assert.ok(Buffer.concat(got.views).equals(Buffer.concat(want.map((e) => e.bytes))));
        } else {
          pending.clear();
          model.length = 0;
        }
        assert.equal(
          pending.bytes,
          model.reduce((s, e) => s + e.bytes.length, 0),
        );
        assert.equal(pending.empty, model.length === 0);
      }
    }),
    { numRuns: 500 },
  );
});

test('PendingEntries: a block is never written again once an entry is in it', () => {
  const pending = new PendingEntries();
  const first = pending.target(10);
  assert.equal(first.length, FIRST_BLOCK_SIZE);
  first.fill(1, 0, 10);
  pending.commit(10, { sec: 1, nsec: 0 });
  const taken = pending.take(() => true)!;
  // The next entry goes after the taken one, not over it (the pump may still be writing it).
  assert.equal(pending.target(10), first);
  assert.equal(pending.offset, 10);
  assert.deepEqual([...taken.views[0]!], Array(10).fill(1));
});

test('PendingEntries: blocks grow from 16 KiB to 256 KiB as they fill', () => {
  const pending = new PendingEntries();
  const sizes: number[] = [];
  let block: Buffer | undefined;
  for (let i = 0; i < 200; i++) {
    const b = pending.target(4096);
    if (b !== block) sizes.push(b.length);
    block = b;
    pending.commit(pending.offset + 4096, { sec: i, nsec: 0 });
  }
  assert.deepEqual(
    sizes.slice(0, 6),
    [16, 32, 64, 128, 256, 256].map((k) => k * 1024),
  );
});
