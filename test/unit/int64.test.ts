// Docker's int64 fields kept exact end to end: decoded from the request text, written and read
// back as stored JSON, answered, and put into the OCI spec with every digit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CREATE_BODY, UPDATE_BODY, decodeGoText } from '../../api/go-decode';
import type { HostConfig } from '../../daemon/containers/api-types';
import { setHostCpuFacts, verifyResources, withHostDefaults } from '../../daemon/containers/settings';
import { exactParse, exactStringify, int64, mulInt64 } from '../../lib/int64';
import { ociJson } from '../../runtime/oci-types';
import { buildResources } from '../../daemon/oci/resources';
import { buildRlimits } from '../../daemon/oci/spec';

const MAX = 2n ** 63n - 1n;
const MIN = -(2n ** 63n);

function decodeError(text: string, type = CREATE_BODY): string {
  try {
    decodeGoText(text, type);
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail(`no error for ${text}`);
}

test('Int64 is a number while exact, a bigint beyond ±2^53', () => {
  assert.equal(int64(9007199254740991n), 9007199254740991);
  assert.equal(int64(-9007199254740991n), -9007199254740991);
  assert.equal(int64(9007199254740992n), 9007199254740992n);
  assert.equal(int64(MIN), MIN);
  // Go's int64 arithmetic wraps: dockerd's swap default for Memory 2^63-1 is -2.
  assert.equal(mulInt64(MAX, 2), -2);
  assert.equal(mulInt64(1 << 30, 2), 2 ** 31);
  assert.equal(mulInt64(2n ** 53n, 2), 2n ** 54n);
});

test("decoder keeps ±(2^63-1) and the int64 minimum exactly; 2^63 gets Go's text", () => {
  const v = decodeGoText(`{"HostConfig":{"Memory":${MAX},"MemorySwap":${MIN},"ShmSize":${MAX},"PidsLimit":${-MAX}}}`, CREATE_BODY) as {
    HostConfig: HostConfig;
  };
  assert.deepEqual(v.HostConfig, { Memory: MAX, MemorySwap: MIN, ShmSize: MAX, PidsLimit: -MAX });
  assert.equal(
    decodeError('{"HostConfig":{"Memory":9223372036854775808}}'),
    'json: cannot unmarshal number 9223372036854775808 into Go struct field HostConfig.HostConfig.Memory of type int64',
  );
  assert.equal(
    decodeError('{"Memory":-9223372036854775809}', UPDATE_BODY),
    'json: cannot unmarshal number -9223372036854775809 into Go struct field UpdateConfig.Memory of type int64',
  );
  // uint64 fields (blkio rates, IOMaximum*) reach 2^64-1 and refuse 2^64 and negatives.
  const rates = decodeGoText(
    '{"BlkioDeviceReadBps":[{"Path":"/dev/sda","Rate":18446744073709551615}],"IOMaximumBandwidth":18446744073709551615}',
    UPDATE_BODY,
  );
  assert.deepEqual(rates, { BlkioDeviceReadBps: [{ Path: '/dev/sda', Rate: 2n ** 64n - 1n }], IOMaximumBandwidth: 2n ** 64n - 1n });
  assert.equal(
    decodeError('{"BlkioDeviceReadBps":[{"Rate":18446744073709551616}]}', UPDATE_BODY),
    'json: cannot unmarshal number 18446744073709551616 into Go struct field ThrottleDevice.BlkioDeviceReadBps.Rate of type uint64',
  );
  assert.equal(
    decodeError('{"HostConfig":{"Ulimits":[{"Name":"nofile","Soft":9223372036854775808}]}}'),
    'json: cannot unmarshal number 9223372036854775808 into Go struct field Ulimit.HostConfig.Ulimits.Soft of type int64',
  );
  // A fraction or exponent is still not an int64, whatever its size.
  assert.equal(
    decodeError('{"Memory":9223372036854775807.0}', UPDATE_BODY),
    'json: cannot unmarshal number 9223372036854775807.0 into Go struct field UpdateConfig.Memory of type int64',
  );
});

test('stored JSON round-trips bigints exactly; plain numbers and strings are untouched', () => {
  const record = {
    hostConfig: { Memory: MAX, MemorySwap: -2, PidsLimit: MIN, Ulimits: [{ Name: 'nofile', Soft: 2n ** 62n, Hard: MAX }] },
    name: '9223372036854775807',
    n: 1.5,
    big: 1e300,
  };
  const text = exactStringify(record);
  assert.equal(
    text,
    '{"hostConfig":{"Memory":9223372036854775807,"MemorySwap":-2,"PidsLimit":-9223372036854775808,"Ulimits":[{"Name":"nofile","Soft":4611686018427387904,"Hard":9223372036854775807}]},"name":"9223372036854775807","n":1.5,"big":1e+300}',
  );
  assert.deepEqual(exactParse(text), record);
  // Without bigints the text is JSON.stringify's, and the fast path is JSON.parse's result.
  const plain = { a: [1, 'x', null, true], b: { c: 9007199254740991 } };
  assert.equal(exactStringify(plain), JSON.stringify(plain));
  assert.deepEqual(exactParse(JSON.stringify(plain)), plain);
  // A client string cannot forge the marker that becomes bare digits.
  const forged = { s: '\u0000big:123', m: 1n << 60n };
  assert.deepEqual(JSON.parse(exactStringify({ s: forged.s })), { s: forged.s });
  assert.deepEqual(exactParse(exactStringify(forged)), forged);
  // A bigint deep inside a value met first by the fast path, and a cycle still refused.
  const deep = { a: Array.from({ length: 100 }, (_, i) => ({ i, s: 'x' })), z: { y: [MAX] } };
  assert.equal(exactStringify(deep), JSON.stringify({ ...deep, z: { y: ['@'] } }).replace('"@"', '9223372036854775807'));
  const cycle: Record<string, unknown> = { n: 1n };
  cycle.self = cycle;
  assert.throws(() => exactStringify(cycle), TypeError);
  // Top-level and array values take the exact path too.
  assert.deepEqual(exactParse('[9223372036854775807,-9007199254740993]'), [MAX, -9007199254740993n]);
  assert.deepEqual(exactParse('{"a":[1,\n 9223372036854775807]}'), { a: [1, MAX] });
  assert.equal(exactParse(' 9223372036854775807'), MAX);
  // Digits inside strings (hex IDs) keep the native path and stay strings.
  assert.deepEqual(exactParse('{"id":"a1234567890123456789"}'), { id: 'a1234567890123456789' });
  // "__proto__" keys (labels) stay own properties on the lossless path too.
  const proto = exactParse('{"__proto__":{"x":1},"m":9223372036854775807}') as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
  assert.deepEqual(Object.keys(proto), ['__proto__', 'm']);
});

test('create defaults and the OCI spec carry 2^63-1 digit for digit', () => {
  setHostCpuFacts({ cpuCount: () => 2, cpusetCpus: () => '0-1', cpusetMems: () => '0' });
  const host = withHostDefaults({ Memory: MAX }, { shmSize: 64 << 20, ipcMode: 'private', cgroupnsMode: 'private', runtime: 'runc' });
  assert.equal(host.Memory, MAX);
  assert.equal(host.MemorySwap, -2); // dockerd 20.10 stores the wrapped 2 x (2^63-1)
  assert.deepEqual(verifyResources(host), []);
  const res = buildResources({ ...host, PidsLimit: MAX, CpuRealtimeRuntime: MAX, BlkioDeviceReadBps: [] });
  // dockerd 20.10's spec, byte for byte: limit 2^63-1 and no swap (the stored -2 is not a limit).
  assert.equal(ociJson(res.memory), '{"limit":9223372036854775807,"disableOOMKiller":false}');
  assert.equal(ociJson(res.pids), '{"limit":9223372036854775807}');
  assert.equal(
    ociJson(buildResources({ CpuQuota: MAX, CpuRealtimeRuntime: MAX }).cpu),
    '{"quota":9223372036854775807,"realtimeRuntime":9223372036854775807}',
  );
  const update = buildResources({ Memory: MAX, MemorySwap: MAX }, { mode: 'update' });
  assert.equal(ociJson(update.memory), '{"limit":9223372036854775807,"swap":9223372036854775807}');
  // Ulimits: -1 is unlimited (2^64-1); 2^63-1 stays itself.
  assert.equal(
    ociJson(buildRlimits([{ Name: 'nofile', Soft: MAX, Hard: -1 }])),
    '[{"type":"RLIMIT_NOFILE","soft":9223372036854775807,"hard":18446744073709551615}]',
  );
});

test('validators compare bigints exactly', () => {
  setHostCpuFacts({ cpuCount: () => 2, cpusetCpus: () => '0-1', cpusetMems: () => '0' });
  // 2^63-2 < 2^63-1, which doubles would round to the same value.
  assert.throws(
    () => verifyResources({ Memory: MAX, MemorySwap: MAX - 1n }),
    /Minimum memoryswap limit should be larger than memory limit/,
  );
  assert.deepEqual(verifyResources({ Memory: MAX - 1n, MemorySwap: MAX }), []);
  assert.throws(() => verifyResources({ PidsLimit: MIN }), /invalid PIDs limit/);
  assert.throws(
    () => verifyResources({ MemorySwappiness: MAX }),
    /Invalid value: 9223372036854775807, valid memory swappiness range is 0-100$/,
  );
  assert.throws(
    () => verifyResources({ Ulimits: [{ Name: 'nofile', Soft: MAX, Hard: MAX - 1n }] }),
    /ulimit soft limit must be less than or equal to hard limit: 9223372036854775807 > 9223372036854775806/,
  );
});
