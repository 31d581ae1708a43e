import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseProcNetDev, peerCounters } from '../../network/link-stats';

const SAMPLE = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 143054108    8874    0    0    0     0          0         0 143054108    8874    0    0    0     0       0          0
vethab12cd3:    1000      10    1    2    0     0          0         0     5000      50    3    4    0     0       0          0
  broken: 1 2 3
`;

test('parseProcNetDev reads receive and transmit counters by interface', () => {
  const m = parseProcNetDev(SAMPLE);
  assert.deepEqual([...m.keys()], ['lo', 'vethab12cd3']);
  assert.deepEqual(m.get('vethab12cd3'), {
    rxBytes: 1000,
    rxPackets: 10,
    rxErrors: 1,
    rxDropped: 2,
    txBytes: 5000,
    txPackets: 50,
    txErrors: 3,
    txDropped: 4,
  });
});

test('peerCounters swaps directions: what the host end sends, the container end receives', () => {
  const host = parseProcNetDev(SAMPLE).get('vethab12cd3');
  assert.ok(host);
  const c = peerCounters(host);
  assert.equal(c.rxBytes, 5000);
  assert.equal(c.txBytes, 1000);
  assert.equal(c.rxDropped, 4);
  assert.equal(c.txErrors, 1);
});
