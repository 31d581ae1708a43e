// The property-based fuzzer over every route of the spec (test/fuzz): BERTH_FUZZ_CASES requests
// (default 10,000) with BERTH_FUZZ_WORKERS parallel clients (default 8), reproducible from
// BERTH_FUZZ_SEED (printed). Fails on any 500, daemon exit, /_ping slower than 1 s, dockerd-shaped
// error broken, leaked internals, or anything left behind; prints each class with a reproduction.
// BERTH_FUZZ_EXCLUDE (comma list of operation ids, modes or finding classes) is for development.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFuzz } from '../fuzz/runner';

const seed = process.env.BERTH_FUZZ_SEED ? Number(process.env.BERTH_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const cases = Number(process.env.BERTH_FUZZ_CASES ?? 10_000);
const workers = Number(process.env.BERTH_FUZZ_WORKERS ?? 8);
const exclude = (process.env.BERTH_FUZZ_EXCLUDE ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s !== '');

test(`fuzz every route (seed ${seed}, ${cases} cases, ${workers} workers)`, { timeout: 10 * 60_000 }, async () => {
  console.log(`BERTH_FUZZ_SEED=${seed} BERTH_FUZZ_CASES=${cases}${exclude.length ? ` BERTH_FUZZ_EXCLUDE=${exclude.join(',')}` : ''}`);
  const r = await runFuzz({ seed, cases, workers, exclude, log: (l) => console.log(`fuzz: ${l}`) });
  console.log(
    `fuzz: ${r.sent} requests in ${Math.round(r.ms / 1000)} s, max /_ping ${Math.round(r.maxPingMs)} ms, ${r.exits} daemon exits`,
  );
  if (r.stalls.size > 0)
    console.log(`fuzz: requests without an answer within 8 s (not failures): ${JSON.stringify(Object.fromEntries(r.stalls))}`);
  const report = r.findings.report(seed);
  if (report) console.log(`fuzz findings:\n${report}`);
  assert.ok(r.sent >= Math.min(cases, 10_000) * 0.9 || exclude.length > 0, `only ${r.sent} of ${cases} requests were sent`);
  assert.deepEqual(
    r.findings.failures().map((f) => `${f.cls} (${f.count}x)`),
    [],
    `fuzz findings (seed ${seed}); reproductions above`,
  );
});
