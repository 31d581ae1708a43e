// The Go-style body decoder: type errors worded as dockerd 20.10 words them (texts taken from
// the reference daemon), Go's null rules, exact int64 range checks, bounded nesting without
// recursion, and the range checks of create/update settings.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CREATE_BODY, EXEC_BODY, UPDATE_BODY, decodeGoText } from '../../api/go-decode';
import { JsonSyntaxError, MAX_JSON_DEPTH, decodeGoJson } from '../../api/json';
import { redactPaths, setPrivatePaths, toHttpError } from '../../api/errors';
import { InvalidParameter, SystemError } from '../../lib/errors';
import { cpusetWithin, setHostCpuFacts, verifyResources, verifySettings, verifyTmpfsOptions } from '../../daemon/containers/settings';

function decodeError(text: string, type = CREATE_BODY): string {
  try {
    decodeGoText(text, type);
  } catch (err) {
    assert.ok(err instanceof InvalidParameter, String(err));
    return err.message;
  }
  assert.fail(`no error for ${text}`);
}

test("type errors carry Go's struct, field path and type (as dockerd 20.10 answers)", () => {
  const cases: Array<[string, string]> = [
    ['{"Image":1}', 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Image of type string'],
    ['{"Env":[1]}', 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Env of type string'],
    ['{"Cmd":[1]}', 'json: cannot unmarshal array into Go struct field ContainerConfigWrapper.Cmd of type string'],
    ['{"Cmd":1}', 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Cmd of type string'],
    [
      '{"HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":8080}]}}}',
      'json: cannot unmarshal number into Go struct field PortBinding.HostConfig.PortBindings.HostPort of type string',
    ],
    [
      '{"NetworkingConfig":{"EndpointsConfig":{"n":{"Aliases":"web"}}}}',
      'json: cannot unmarshal string into Go struct field EndpointSettings.NetworkingConfig.EndpointsConfig.Aliases of type []string',
    ],
    [
      '{"HostConfig":{"Mounts":[{"Target":1}]}}',
      'json: cannot unmarshal number into Go struct field Mount.HostConfig.Mounts.Target of type string',
    ],
    [
      '{"HostConfig":{"Memory":9223372036854775808}}',
      'json: cannot unmarshal number 9223372036854775808 into Go struct field HostConfig.HostConfig.Memory of type int64',
    ],
    ['{"HostConfig":{"Memory":1.5}}', 'json: cannot unmarshal number 1.5 into Go struct field HostConfig.HostConfig.Memory of type int64'],
    [
      '{"HostConfig":{"BlkioWeight":70000}}',
      'json: cannot unmarshal number 70000 into Go struct field HostConfig.HostConfig.BlkioWeight of type uint16',
    ],
    [
      '{"Healthcheck":{"Interval":"x"}}',
      'json: cannot unmarshal string into Go struct field HealthConfig.Healthcheck.Interval of type time.Duration',
    ],
    ['[]', 'json: cannot unmarshal array into Go value of type runconfig.ContainerConfigWrapper'],
    ['{"Labels":{"a":true}}', 'json: cannot unmarshal bool into Go struct field ContainerConfigWrapper.Labels of type string'],
  ];
  for (const [body, message] of cases) assert.equal(decodeError(body), message, body);
  assert.equal(
    decodeError('{"CpuShares":"str"}', UPDATE_BODY),
    'json: cannot unmarshal string into Go struct field UpdateConfig.CpuShares of type int64',
  );
  assert.equal(decodeError('[]', UPDATE_BODY), 'json: cannot unmarshal array into Go value of type container.UpdateConfig');
  assert.equal(decodeError('{"Cmd":[1]}', EXEC_BODY), 'json: cannot unmarshal array into Go struct field ExecConfig.Cmd of type string');
  assert.equal(decodeError('{"Env":"x"}', EXEC_BODY), 'json: cannot unmarshal string into Go struct field ExecConfig.Env of type []string');
});

test('null follows Go: zero value in a slice, unset for a value field, nil for pointers; names fold; unknown fields dropped', () => {
  const v = decodeGoText(
    '{"image":"busybox","CMD":"true","Env":[null,"A=1"],"Hostname":null,"StopTimeout":null,"Bogus":[[[1]]],' +
      '"HostConfig":{"Binds":[null],"Mounts":[null],"Ulimits":[null],"MemorySwappiness":null,"ConsoleSize":[1,2,3]}}',
    CREATE_BODY,
  );
  assert.deepEqual(v, {
    Image: 'busybox',
    Cmd: ['true'],
    Env: ['', 'A=1'],
    StopTimeout: null,
    HostConfig: { Binds: [''], Mounts: [{}], Ulimits: [{}], MemorySwappiness: null, ConsoleSize: [1, 2] },
  });
});

test('int64 fields: exact range checks from the literal, no silent rounding', () => {
  const ok = decodeGoText('{"HostConfig":{"Memory":9007199254740991,"MemorySwap":-1}}', CREATE_BODY) as {
    HostConfig: { Memory: number; MemorySwap: number };
  };
  assert.equal(ok.HostConfig.Memory, Number.MAX_SAFE_INTEGER);
  assert.equal(ok.HostConfig.MemorySwap, -1);
  // dockerd stores 2^63-1 exactly: Int64 fields keep it as a bigint (test/unit/int64.test.ts).
  assert.deepEqual(decodeGoText('{"HostConfig":{"Memory":9223372036854775807}}', CREATE_BODY), { HostConfig: { Memory: 2n ** 63n - 1n } });
  assert.deepEqual(decodeGoText('{"MemorySwap":9007199254740993}', UPDATE_BODY), { MemorySwap: 9007199254740993n });
  // Integer fields that are not Int64 still refuse what a double would round.
  assert.match(decodeError('{"StopTimeout":9007199254740993}'), /^StopTimeout: 9007199254740993 cannot be stored exactly/);
  // Fields whose checks refuse anything that large decode exactly and meet those checks' texts.
  assert.deepEqual(decodeGoText('{"NanoCpus":1000000000000000001}', UPDATE_BODY), { NanoCpus: 1000000000000000001n });
  assert.equal(
    decodeError('{"HostConfig":{"Memory":1e3}}'),
    'json: cannot unmarshal number 1e3 into Go struct field HostConfig.HostConfig.Memory of type int64',
  );
});

test("nesting is bounded at Go's depth without recursion", () => {
  const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n);
  assert.doesNotThrow(() => decodeGoJson(deep(MAX_JSON_DEPTH)));
  assert.throws(
    () => decodeGoJson(deep(MAX_JSON_DEPTH + 1)),
    (e: unknown) => e instanceof JsonSyntaxError && e.message === "invalid character '[' exceeded max depth",
  );
  // A million levels (far beyond V8's stack) is refused, not a stack overflow.
  assert.throws(() => decodeGoJson('{"a":'.repeat(1_000_000)), /exceeded max depth/);
  assert.equal(decodeError(`{"Image":${deep(MAX_JSON_DEPTH + 1)}}`), "invalid JSON: invalid character '[' exceeded max depth");
  // __proto__ stays an ordinary key.
  const v = decodeGoJson('{"__proto__":{"polluted":1}}');
  assert.ok(v !== 'EOF');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual(Object.keys(v.value as object), ['__proto__']);
});

test('range checks at create and update, with dockerd texts where dockerd has one', () => {
  setHostCpuFacts({ cpuCount: () => 2, cpusetCpus: () => '0-1', cpusetMems: () => '0' });
  try {
    assert.throws(() => verifyResources({ NanoCpus: 1e18 }), {
      message: 'Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available',
    });
    assert.throws(() => verifyResources({ NanoCpus: 1e9, CpuQuota: 5000 }), {
      message: 'Conflicting options: Nano CPUs and CPU Quota cannot both be set',
    });
    assert.doesNotThrow(() => verifyResources({ NanoCpus: 2e9 }));
    // 0.001 CPUs: a CFS quota of 100 µs, which the kernel refuses at start.
    assert.throws(() => verifyResources({ NanoCpus: 1048576 }), {
      message: 'Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available',
    });
    assert.doesNotThrow(() => verifyResources({ NanoCpus: 1e7 }));
    assert.throws(() => verifyResources({ CpuShares: 2 ** 40 }), /Invalid CPU shares/);
    assert.doesNotThrow(() => verifyResources({ CpuShares: 262144 }));
    assert.throws(() => verifyResources({ CpusetCpus: '0-99999' }), {
      message: 'Invalid value 0-99999 for cpuset cpus: value of out range, maximum is 8192',
    });
    assert.throws(() => verifyResources({ CpusetCpus: 'a' }), { message: 'Invalid value a for cpuset cpus: invalid format: a' });
    assert.throws(() => verifyResources({ CpusetCpus: '5' }), {
      message: 'Requested CPUs are not available - requested 5, available: 0-1',
    });
    assert.throws(() => verifyResources({ CpusetMems: '3' }), {
      message: 'Requested memory nodes are not available - requested 3, available: 0',
    });
    assert.doesNotThrow(() => verifyResources({ CpusetCpus: '0,1', CpusetMems: '0' }));
    assert.throws(() => verifyResources({ Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 5 }] }), {
      message: 'ulimit soft limit must be less than or equal to hard limit: 10 > 5',
    });
    assert.throws(() => verifyResources({ Ulimits: [{ Name: 'nofile', Soft: -1, Hard: 5 }] }), /soft: -1 \(unlimited\), hard: 5/);
    assert.throws(() => verifyResources({ Ulimits: [{}] }), { message: 'invalid ulimit type: ' });
    assert.doesNotThrow(() => verifyResources({ Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 5 }] }, { update: true }));
  } finally {
    setHostCpuFacts(undefined);
  }
  assert.throws(() => verifySettings({ Env: ['A=\0b'] }, {}), { message: 'invalid environment variable: A=\0b' });
  assert.throws(() => verifySettings({ Env: ['=x'] }, {}), { message: 'invalid environment variable: =x' });
  assert.throws(() => verifySettings({ Cmd: ['a\0'] }, {}), /NUL/);
  assert.throws(() => verifySettings({ Hostname: 'a'.repeat(300) }, {}), /invalid hostname/);
  assert.doesNotThrow(() => verifySettings({ Hostname: 'a'.repeat(64), Env: ['A=1'] }, {}));
  assert.throws(() => verifySettings({}, { Tmpfs: { '/t': 'size=-1' } }), { message: 'invalid tmpfs option ["size" "-1"]' });
  assert.throws(() => verifyTmpfsOptions('bogus'), { message: 'invalid tmpfs option ["bogus"]' });
  assert.doesNotThrow(() => verifyTmpfsOptions('rw,noexec,nosuid,size=65536k,mode=1777'));
  assert.equal(cpusetWithin('0-99999999999999', '0-1'), 'value of out range, maximum is 8192');
});

test('error bodies: daemon paths redacted, Node internals hidden, typed 4xx untouched', () => {
  setPrivatePaths(['/var/lib/berth-test', '/run/berth-test']);
  try {
    assert.equal(redactPaths('open /var/lib/berth-test/overlay/x/merged/etc: no such file'), 'open <daemon path>: no such file');
    assert.equal(redactPaths('a /var/lib/berth-testing/x b'), 'a /var/lib/berth-testing/x b'); // not under the root
    const enoent = Object.assign(new Error("ENOENT: no such file or directory, open '/var/lib/berth-test/containers/abc/config'"), {
      code: 'ENOENT',
      syscall: 'open',
      errno: -2,
      path: '/var/lib/berth-test/containers/abc/config',
    });
    assert.deepEqual(toHttpError(enoent), { status: 500, message: 'open <daemon path>: no such file or directory', unexpected: true });
    assert.equal(toHttpError(new RangeError('Maximum call stack size exceeded')).message, 'internal error in the daemon (see its log)');
    assert.equal(
      toHttpError(new TypeError("Cannot read properties of undefined (reading 'x')")).message,
      'internal error in the daemon (see its log)',
    );
    assert.equal(toHttpError(new SystemError('mount /run/berth-test/tmp/1: busy')).message, 'mount <daemon path>: busy');
    assert.equal(
      toHttpError(new InvalidParameter('bind source /var/lib/berth-test/x is bad')).message,
      'bind source /var/lib/berth-test/x is bad',
    );
    const badUrl = Object.assign(new Error("'/containers/%zz/json' is not a valid url component"), {
      code: 'FST_ERR_BAD_URL',
      statusCode: 400,
    });
    assert.deepEqual(toHttpError(badUrl), { status: 400, message: 'invalid URL escape "%zz"', unexpected: false });
  } finally {
    setPrivatePaths([]);
  }
});
