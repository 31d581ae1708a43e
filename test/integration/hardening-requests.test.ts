// Hostile request bodies and URLs against a real berthd (issue 10): wrong JSON types, nulls,
// 64-bit integers, deep nesting, values the kernel or runc would refuse at start, malformed URLs
// and non-HTTP bytes. Each is a 4xx in dockerd's {"message": …} shape (texts from the reference
// dockerd 20.10 where it has one), nothing invalid is stored, and no error body shows the data
// root. On the code before this change these gave 500s, stored containers that could never
// start, rounded or refused int64 values beyond 2^53, or fastify-shaped bodies.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import Docker from 'dockerode';
import { berthWithBusybox, type Berth, type HttpResult } from './harness';

let b: Berth;
berthWithBusybox((started) => (b = started));

const JSON_HEADERS = { 'Content-Type': 'application/json' };

function post(url: string, body: string): Promise<HttpResult> {
  return b.request('POST', url, { body, headers: JSON_HEADERS });
}

/** Asserts a status and dockerd's error shape; returns the message. */
function errorOf(r: HttpResult, status: number): string {
  assert.equal(r.status, status, r.body);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  const parsed = JSON.parse(r.body) as Record<string, unknown>;
  assert.deepEqual(Object.keys(parsed), ['message'], r.body);
  assert.equal(typeof parsed.message, 'string');
  return parsed.message as string;
}

async function containerIds(): Promise<string[]> {
  const r = await b.request('GET', '/containers/json?all=1');
  assert.equal(r.status, 200, r.body);
  return (JSON.parse(r.body) as Array<{ Id: string }>).map((c) => c.Id).sort();
}

async function create(config: Record<string, unknown>): Promise<string> {
  const r = await post('/containers/create', JSON.stringify({ Image: 'busybox', Cmd: ['sleep', '300'], ...config }));
  assert.equal(r.status, 201, r.body);
  return (JSON.parse(r.body) as { Id: string }).Id;
}

async function inspectHost(id: string): Promise<Record<string, unknown>> {
  const r = await b.request('GET', `/containers/${id}/json`);
  assert.equal(r.status, 200, r.body);
  return (JSON.parse(r.body) as { HostConfig: Record<string, unknown> }).HostConfig;
}

const HOSTNAME_300 = 'a'.repeat(300);

describe('create refuses what dockerd refuses, and what could never start, storing nothing', () => {
  test('wrong JSON types, nulls, out-of-range values: 400 with the texts, no container left', async () => {
    const before = await containerIds();
    const cases: Array<[string, string | RegExp]> = [
      ['{"Image":1}', 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Image of type string'],
      ['{"Image":"busybox","Env":[1]}', 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Env of type string'],
      ['{"Image":"busybox","Cmd":[1]}', 'json: cannot unmarshal array into Go struct field ContainerConfigWrapper.Cmd of type string'],
      [
        '{"Image":"busybox","HostConfig":{"Mounts":[{"Target":1}]}}',
        'json: cannot unmarshal number into Go struct field Mount.HostConfig.Mounts.Target of type string',
      ],
      [
        '{"Image":"busybox","HostConfig":{"Memory":9223372036854775808}}',
        'json: cannot unmarshal number 9223372036854775808 into Go struct field HostConfig.HostConfig.Memory of type int64',
      ],
      [
        '{"Image":"busybox","HostConfig":{"Memory":1.5}}',
        'json: cannot unmarshal number 1.5 into Go struct field HostConfig.HostConfig.Memory of type int64',
      ],
      [
        '{"Image":"busybox","HostConfig":{"CpuShares":"str"}}',
        'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.CpuShares of type int64',
      ],
      ['[]', 'json: cannot unmarshal array into Go value of type runconfig.ContainerConfigWrapper'],
      ['{"Image":"busybox","HostConfig":{"Mounts":[null]}}', 'invalid mount config for type "": field Target must not be empty'],
      ['{"Image":"busybox","HostConfig":{"Binds":[null]}}', /invalid volume specification: ''/],
      ['{"Image":"busybox","HostConfig":{"Ulimits":[null]}}', 'invalid ulimit type: '],
      [
        '{"Image":"busybox","HostConfig":{"NanoCpus":1000000000000000000}}',
        /^Range of CPUs is from 0\.01 to \d+\.00, as there are only \d+ CPUs available$/,
      ],
      [
        '{"Image":"busybox","HostConfig":{"NanoCpus":1048576}}',
        /^Range of CPUs is from 0\.01 to \d+\.00, as there are only \d+ CPUs available$/,
      ],
      [
        '{"Image":"busybox","HostConfig":{"CpusetCpus":"0-99999"}}',
        'Invalid value 0-99999 for cpuset cpus: value of out range, maximum is 8192',
      ],
      ['{"Image":"busybox","HostConfig":{"CpusetCpus":"8000"}}', /^Requested CPUs are not available - requested 8000, available: /],
      ['{"Image":"busybox","HostConfig":{"CpuShares":1099511627776}}', /Invalid CPU shares 1099511627776/],
      [
        '{"Image":"busybox","HostConfig":{"Ulimits":[{"Name":"nofile","Soft":10,"Hard":5}]}}',
        'ulimit soft limit must be less than or equal to hard limit: 10 > 5',
      ],
      ['{"Image":"busybox","HostConfig":{"Tmpfs":{"/t":"size=-1"}}}', 'invalid tmpfs option ["size" "-1"]'],
      ['{"Image":"busybox","Env":["A=\\u0000b"]}', 'invalid environment variable: A=\0b'],
      [`{"Image":"busybox","Hostname":"${HOSTNAME_300}"}`, /^invalid hostname/],
      // One past int64: Go's text (2^63-1 itself is accepted, see "int64 fields beyond 2^53").
      [
        '{"Image":"busybox","HostConfig":{"Memory":9223372036854775808}}',
        'json: cannot unmarshal number 9223372036854775808 into Go struct field HostConfig.HostConfig.Memory of type int64',
      ],
    ];
    for (const [body, expected] of cases) {
      const message = errorOf(await post('/containers/create', body), 400);
      if (typeof expected === 'string') assert.equal(message, expected, body);
      else assert.match(message, expected, body);
    }
    assert.deepEqual(await containerIds(), before, 'a refused create stored a container');
  });

  test("a body nested past Go's depth is a 400, and the daemon keeps answering", async () => {
    const deep = '['.repeat(10001) + ']'.repeat(10001);
    for (const route of ['/containers/create', '/networks/create', '/volumes/create']) {
      const message = errorOf(await post(route, `{"Image":${deep}}`), 400);
      assert.equal(message, "invalid JSON: invalid character '[' exceeded max depth", route);
    }
    // A million levels: refused by the parser without touching the call stack.
    errorOf(await post('/containers/create', '{"a":'.repeat(1_000_000)), 400);
    assert.equal((await b.request('GET', '/_ping')).status, 200);
  });

  test('int64 values within 2^53 are kept exactly through inspect', async () => {
    const memory = Number.MAX_SAFE_INTEGER; // 9007199254740991
    const id = await create({ HostConfig: { Memory: memory, MemorySwap: -1, PidsLimit: 4096 } });
    const raw = (await b.request('GET', `/containers/${id}/json`)).body;
    assert.match(raw, /"Memory":9007199254740991[,}]/);
    assert.equal((await inspectHost(id)).MemorySwap, -1);
    assert.equal((await b.request('DELETE', `/containers/${id}?force=1`)).status, 204);
  });

  test('dockerode bodies: a wrong type is a 400 error with the text', async () => {
    const docker = new Docker({ socketPath: b.socket });
    await assert.rejects(
      docker.createContainer({ Image: 'busybox', HostConfig: { CpuShares: 'str' as unknown as number } }),
      (err: { statusCode?: number; json?: { message?: string } }) =>
        err.statusCode === 400 &&
        err.json?.message === 'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.CpuShares of type int64',
    );
  });
});

describe('update validates before storing: the container still starts after a refused update', () => {
  test('wrong types and out-of-range values are refused; nothing is changed', async () => {
    const id = await create({});
    const hostBefore = await inspectHost(id);
    const cases: Array<[string, string | RegExp]> = [
      ['{"CpuShares":"str"}', 'json: cannot unmarshal string into Go struct field UpdateConfig.CpuShares of type int64'],
      ['{"Memory":1.5}', 'json: cannot unmarshal number 1.5 into Go struct field UpdateConfig.Memory of type int64'],
      ['[]', 'json: cannot unmarshal array into Go value of type container.UpdateConfig'],
      ['{"NanoCpus":1000000000000000000}', /Range of CPUs is from 0\.01 to \d+\.00/],
      ['{"NanoCpus":1048576}', /Range of CPUs is from 0\.01 to \d+\.00/],
      ['{"CpusetCpus":"0-99999"}', /Invalid value 0-99999 for cpuset cpus: value of out range, maximum is 8192/],
      ['{"CpuShares":1099511627776}', /Invalid CPU shares/],
      [
        '{"Memory":-9223372036854775809}',
        'json: cannot unmarshal number -9223372036854775809 into Go struct field UpdateConfig.Memory of type int64',
      ],
    ];
    for (const [body, expected] of cases) {
      const message = errorOf(await post(`/containers/${id}/update`, body), 400);
      if (typeof expected === 'string') assert.equal(message, expected, body);
      else assert.match(message, expected, body);
    }
    assert.deepEqual(await inspectHost(id), hostBefore);
    // A null body changes nothing, as in dockerd.
    assert.equal((await post(`/containers/${id}/update`, 'null')).status, 200);
    const start = await b.request('POST', `/containers/${id}/start`);
    assert.equal(start.status, 204, start.body);
    assert.equal((await b.request('DELETE', `/containers/${id}?force=1`)).status, 204);
  });
});

describe('error shapes and leaks', () => {
  test('a malformed URL escape is a 400 with a {"message"} body', async () => {
    const message = errorOf(await b.request('GET', '/containers/%zz/json'), 400);
    assert.equal(message, 'invalid URL escape "%zz"');
    errorOf(await b.request('GET', '/no/such/route'), 404);
  });

  test('bytes that are not HTTP get a 400 and a closed connection', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const s = net.connect(b.socket);
      let data = '';
      s.on('data', (d) => (data += d.toString()));
      s.on('error', reject);
      s.on('close', () => resolve(data));
      s.write('HELLO\r\n\r\n');
    });
    assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
    const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
    assert.deepEqual(Object.keys(JSON.parse(body) as object), ['message']);
    assert.equal((await b.request('GET', '/_ping')).status, 200);
  });

  test('an internal failure does not show the data root (a container whose directory is broken)', async () => {
    const id = await create({});
    // The daemon's per-container directory replaced by a file: writing hostname, hosts and
    // resolv.conf there fails with a Node ENOTDIR error naming the full host path.
    const dir = path.join(b.dataRoot, 'containers', id);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.writeFileSync(dir, 'not a directory');
    try {
      const r = await b.request('POST', `/containers/${id}/start`);
      assert.ok(r.status >= 400, r.body);
      const message = errorOf(r, r.status);
      assert.ok(!message.includes(b.dataRoot) && !message.includes(b.dir), `error body shows a daemon path: ${message}`);
      assert.ok(!/ENOTDIR|ENOENT|at .*\.js:\d+/.test(message), `error body shows Node internals: ${message}`);
    } finally {
      fs.rmSync(dir, { force: true });
      fs.mkdirSync(dir);
      await b.request('DELETE', `/containers/${id}?force=1`);
    }
  });
});

describe('int64 fields beyond 2^53 are kept exact: create, inspect, start, update (as dockerd 20.10)', () => {
  const MAX = '9223372036854775807'; // 2^63-1

  /** The raw inspect text: JSON.parse would round the values under test. */
  async function inspectRaw(id: string): Promise<string> {
    const r = await b.request('GET', `/containers/${id}/json`);
    assert.equal(r.status, 200, r.body);
    return r.body;
  }

  test('raw HTTP: Memory 2^63-1 is stored and shown exactly, swap wraps to -2, the container starts', async () => {
    const r = await post(
      '/containers/create',
      `{"Image":"busybox","Cmd":["sleep","300"],"HostConfig":{"NetworkMode":"none","Memory":${MAX}}}`,
    );
    assert.equal(r.status, 201, r.body);
    const id = (JSON.parse(r.body) as { Id: string }).Id;
    try {
      const raw = await inspectRaw(id);
      assert.match(raw, new RegExp(`"Memory":${MAX}[,}]`));
      // dockerd's adaptContainerSettings doubles the limit in int64: 2 x (2^63-1) wraps to -2.
      assert.match(raw, /"MemorySwap":-2[,}]/);
      const start = await b.request('POST', `/containers/${id}/start`);
      assert.equal(start.status, 204, start.body);
      assert.match(await inspectRaw(id), /"Running":true/);
      // The limit reached the cgroup (the kernel rounds it down to whole pages), not a rounded double.
      const cat = await b.docker([
        'exec',
        id,
        'sh',
        '-c',
        'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max',
      ]);
      assert.equal(cat.code, 0, cat.stderr);
      assert.match(cat.stdout.trim(), /^(9223372036854771712|max)$/);

      // Update of a running container with big values round-trips (dockerd: 200, stored exactly).
      const up = await post(`/containers/${id}/update`, `{"Memory":${MAX},"MemorySwap":${MAX}}`);
      assert.equal(up.status, 200, up.body);
      const after = await inspectRaw(id);
      assert.match(after, new RegExp(`"Memory":${MAX}[,}]`));
      assert.match(after, new RegExp(`"MemorySwap":${MAX}[,}]`));
    } finally {
      await b.request('DELETE', `/containers/${id}?force=1`);
    }
  });

  test('every int64 resource field (and ulimits, shm, blkio rates) round-trips; docker update --pids-limit too', async () => {
    const body =
      `{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"none","Memory":${MAX},"MemorySwap":${MAX},` +
      `"MemoryReservation":4611686018427387905,"ShmSize":${MAX},"PidsLimit":${MAX},` +
      `"Ulimits":[{"Name":"fsize","Soft":9007199254740993,"Hard":${MAX}}],` +
      `"BlkioDeviceReadBps":[{"Path":"/dev/null","Rate":18446744073709551615}]}}`;
    const r = await post('/containers/create', body);
    assert.equal(r.status, 201, r.body);
    const id = (JSON.parse(r.body) as { Id: string }).Id;
    try {
      const raw = await inspectRaw(id);
      for (const field of [
        `"Memory":${MAX}`,
        `"MemorySwap":${MAX}`,
        '"MemoryReservation":4611686018427387905',
        `"ShmSize":${MAX}`,
        `"PidsLimit":${MAX}`,
      ]) {
        assert.match(raw, new RegExp(`${field}[,}]`), field);
      }
      assert.ok(
        raw.includes(`{"Name":"fsize","Hard":${MAX},"Soft":9007199254740993}`) ||
          raw.includes(`{"Name":"fsize","Soft":9007199254740993,"Hard":${MAX}}`),
        raw,
      );
      assert.ok(raw.includes('"Rate":18446744073709551615}'), raw);
      // The CLI parses --pids-limit as an int64 and sends its digits.
      const upd = await b.docker(['update', '--pids-limit', '9223372036854775806', id]);
      assert.equal(upd.code, 0, upd.stderr);
      assert.match(await inspectRaw(id), /"PidsLimit":9223372036854775806[,}]/);
    } finally {
      await b.request('DELETE', `/containers/${id}?force=1`);
    }
  });

  test("dockerode's shape: numbers as JSON.stringify writes them, exact when within int64, Go's text past it", async () => {
    const docker = new Docker({ socketPath: b.socket });
    // JSON.stringify(2 ** 62) is "4611686018427388000": an int64 Go keeps exactly, as Berth does.
    const c = await docker.createContainer({
      Image: 'busybox',
      Cmd: ['true'],
      HostConfig: { NetworkMode: 'none', Memory: 2 ** 62, MemorySwap: -1 },
    });
    try {
      assert.match(await inspectRaw(c.id), /"Memory":4611686018427388000[,}]/);
      assert.equal((await c.inspect()).HostConfig.Memory, 2 ** 62);
      await c.update({ Memory: 2 ** 61, MemorySwap: 2 ** 62 });
      const raw = await inspectRaw(c.id);
      assert.match(raw, /"Memory":2305843009213694000[,}]/);
      assert.match(raw, /"MemorySwap":4611686018427388000[,}]/);
    } finally {
      await c.remove({ force: true });
    }
    // 2^63-1 as a double is 2^63, written "9223372036854776000": beyond int64, refused as dockerd does.
    await assert.rejects(
      docker.createContainer({ Image: 'busybox', HostConfig: { Memory: 9223372036854775807 } }),
      (err: { statusCode?: number; json?: { message?: string } }) =>
        err.statusCode === 400 &&
        err.json?.message ===
          'json: cannot unmarshal number 9223372036854776000 into Go struct field HostConfig.HostConfig.Memory of type int64',
    );
  });
});

test('a volume name longer than a directory name may be is a 400, and nothing is created', async () => {
  const r = await post('/volumes/create', JSON.stringify({ Name: 'v'.repeat(300) }));
  assert.equal(r.status, 400, r.body);
  assert.match((JSON.parse(r.body) as { message: string }).message, /volume name is too long, at most 255 characters$/);
  const list = JSON.parse((await b.request('GET', '/volumes')).body) as { Volumes: { Name: string }[] | null };
  assert.ok(!(list.Volumes ?? []).some((v) => v.Name.length > 255));
});
