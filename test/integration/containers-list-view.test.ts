// `docker ps` / `GET /containers/json` against inspect: for a mix of containers (labels, published
// and exposed ports, volume, bind and anonymous mounts, a user network plus the default bridge,
// host, none and container:<id> modes, created, running, paused and exited, with and without
// sizes), every list entry, fetched through dockerode, is what the same container's inspect says
// it should be, field for field and in the same key order. The list looks images and networks up
// once per answer; the fixture has two containers created from the same name that now means
// different images, so a lookup keyed too coarsely, or kept past one answer, shows the wrong one.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import Docker from 'dockerode';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { Kit, lines } from './container-kit';

interface Inspect {
  Id: string;
  Name: string;
  Created: string;
  Path: string;
  Args: string[];
  Image: string;
  State: { Status: string; ExitCode: number; Health?: { Status: string; FailingStreak: number } };
  Config: { Image: string; Labels: Record<string, string> | null };
  HostConfig: { NetworkMode: string };
  NetworkSettings: { Ports: Record<string, { HostIp: string; HostPort: string }[] | null>; Networks: Record<string, unknown> };
  Mounts: unknown[];
  SizeRw?: number;
  SizeRootFs?: number;
}

type Entry = Record<string, unknown> & { Names: string[]; Ports: unknown[]; Status: string };

/** The keys of an entry, in the order Berth has always written them. */
const KEYS = [
  'Id',
  'Names',
  'Image',
  'ImageID',
  'Command',
  'Created',
  'Ports',
  'Labels',
  'State',
  'Status',
  'HostConfig',
  'NetworkSettings',
  'Mounts',
  'Health',
];
const NAMES = ['l-old', 'l-new', 'l-created', 'l-ports', 'l-mounts', 'l-net', 'l-host', 'l-exited', 'l-none', 'l-shared', 'l-paused'];

let k: Kit;
let docker: Docker;
let bindDir: string;

before(async () => {
  k = await Kit.start();
  docker = new Docker({ socketPath: k.b.socket });
  bindDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-list-bind-'));
  // A second image (another ID), then one name that meant busybox for l-old and means it for l-new.
  await k.ok(['load'], await buildBusyboxArchive({ tags: ['bb:two'], extraFiles: { 'etc/marker': 'two' } }));
  await k.ok(['tag', 'busybox', 'bb:one']);
  await k.ok(['create', '--name', 'l-old', 'bb:one', 'true']);
  await k.ok(['tag', 'bb:two', 'bb:one']);
  await k.ok(['create', '--name', 'l-new', 'bb:one', 'true']);
  await k.ok(['network', 'create', 'lnet']);
  await k.ok(['volume', 'create', 'lvol']);
  await k.ok(['create', '--name', 'l-created', '-l', 'a=1', '-l', 'b=two words', 'busybox', 'true']);
  await k.ok([
    'run',
    '-d',
    '--name',
    'l-ports',
    '-p',
    '127.0.0.1::80',
    '-p',
    '127.0.0.1::81/udp',
    '--expose',
    '90',
    'busybox',
    'sleep',
    '1000',
  ]);
  await k.ok([
    'run',
    '-d',
    '--name',
    'l-mounts',
    '-v',
    'lvol:/data',
    '-v',
    `${bindDir}:/bind:ro`,
    '-v',
    '/anon',
    'busybox',
    'sleep',
    '1000',
  ]);
  await k.ok(['run', '-d', '--name', 'l-net', '--network', 'lnet', '--network-alias', 'al', 'busybox', 'sleep', '1000']);
  await k.ok(['network', 'connect', 'bridge', 'l-net']);
  await k.ok(['run', '-d', '--name', 'l-host', '--network', 'host', 'busybox', 'sleep', '1000']);
  assert.equal((await k.docker(['run', '--name', 'l-exited', 'busybox', 'sh', '-c', 'exit 3'])).code, 3);
  await k.ok(['run', '-d', '--name', 'l-none', '--network', 'none', 'busybox', 'sleep', '1000']);
  await k.ok(['create', '--name', 'l-shared', '--network', 'container:l-none', 'busybox', 'sh', '-c', "echo 'a b'"]);
  await k.ok(['run', '-d', '--name', 'l-paused', 'busybox', 'sleep', '1000']);
  await k.ok(['pause', 'l-paused']);
});

after(async () => {
  if (k) await k.destroy();
  if (bindDir) fs.rmSync(bindDir, { recursive: true, force: true });
});

async function inspect(name: string, size: boolean): Promise<Inspect> {
  const res = await k.request('GET', `/containers/${name}/json${size ? '?size=1' : ''}`);
  assert.equal(res.status, 200, res.body);
  return JSON.parse(res.body) as Inspect;
}

/** What the list shows of a container, from its inspect (Ports and Status checked apart). */
function expected(i: Inspect, image: string, size: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    Id: i.Id,
    Names: [i.Name],
    Image: image,
    ImageID: i.Image,
    // moby's list: the path and the arguments, one holding a space in single quotes.
    Command: [i.Path, ...i.Args.map((a) => (a.includes(' ') ? `'${a}'` : a))].join(' '),
    Created: Math.floor(Date.parse(i.Created.replace(/\.\d+/, '')) / 1000),
    Labels: i.Config.Labels ?? {},
    State: i.State.Status,
    HostConfig: { NetworkMode: i.HostConfig.NetworkMode || 'default' },
    NetworkSettings: { Networks: listNetworks(i.NetworkSettings.Networks) },
    Mounts: i.Mounts,
    // From API 1.52, for every container: "none" without a healthcheck.
    Health: { Status: i.State.Health?.Status ?? 'none', FailingStreak: i.State.Health?.FailingStreak ?? 0 },
  };
  // Left out when zero (omitempty in moby's Summary).
  if (size && i.SizeRw) out.SizeRw = i.SizeRw;
  if (size && i.SizeRootFs) out.SizeRootFs = i.SizeRootFs;
  return out;
}

/**
 * The endpoints as the list shows them: moby's container view copies the operational fields and
 * the IPAM addresses only, so Links, Aliases, DriverOpts and DNSNames are null there.
 */
function listNetworks(networks: Record<string, unknown>): unknown {
  const out: Record<string, unknown> = {};
  for (const [name, ep] of Object.entries(networks)) {
    const e = ep as Record<string, unknown>;
    const ipam = e.IPAMConfig as { IPv4Address?: string; IPv6Address?: string } | null;
    out[name] = {
      ...e,
      IPAMConfig: ipam ? { IPv4Address: ipam.IPv4Address, IPv6Address: ipam.IPv6Address } : null,
      Links: null,
      Aliases: null,
      DriverOpts: null,
      DNSNames: null,
    };
  }
  return JSON.parse(JSON.stringify(out)) as unknown;
}

/** The list's Ports from inspect's port map: one row per binding, a bare row per unbound port. */
function expectedPorts(i: Inspect): unknown[] {
  const rows: unknown[] = [];
  for (const [key, bindings] of Object.entries(i.NetworkSettings.Ports ?? {})) {
    const [port, type] = key.split('/');
    if (bindings === null) rows.push({ PrivatePort: Number(port), Type: type });
    else for (const b of bindings) rows.push({ IP: b.HostIp, PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: type });
  }
  return rows;
}

const sortRows = (rows: unknown[]): string[] => rows.map((r) => JSON.stringify(r)).sort();

function statusPattern(i: Inspect): RegExp {
  switch (i.State.Status) {
    case 'created':
      return /^Created$/;
    case 'running':
      return /^Up /;
    case 'paused':
      return /^Up .* \(Paused\)$/;
    case 'exited':
      return new RegExp(`^Exited \\(${i.State.ExitCode}\\) .* ago$`);
    default:
      throw new Error(`unexpected state ${i.State.Status}`);
  }
}

async function checkList(size: boolean, imageOf: (name: string, i: Inspect) => string): Promise<void> {
  const list = (await docker.listContainers({ all: true, size })) as unknown as Entry[];
  assert.equal(list.length, NAMES.length);
  for (const name of NAMES) {
    const entry = list.find((e) => e.Names[0] === `/${name}`);
    assert.ok(entry, `${name} listed`);
    const i = await inspect(name, size);
    const sizes = [...(size && i.SizeRw ? ['SizeRw'] : []), ...(size && i.SizeRootFs ? ['SizeRootFs'] : [])];
    assert.deepEqual(Object.keys(entry), [...KEYS, ...sizes], `${name}: keys and their order`);
    const { Ports, Status, ...rest } = entry;
    assert.deepEqual(rest, expected(i, imageOf(name, i), size), name);
    assert.deepEqual(sortRows(Ports), sortRows(expectedPorts(i)), `${name}: Ports`);
    assert.match(Status, statusPattern(i), `${name}: Status`);
  }
}

test('each list entry is what inspect says of the container, with and without sizes', async () => {
  // bb:one now names bb:two's image: l-old shows its image ID, l-new the name.
  const imageOf = (name: string, i: Inspect): string => (name === 'l-old' ? i.Image : i.Config.Image);
  await checkList(false, imageOf);
  await checkList(true, imageOf);
  // The fixture covers what it claims to.
  const states = new Set((await Promise.all(NAMES.map((n) => inspect(n, false)))).map((i) => i.State.Status));
  assert.deepEqual([...states].sort(), ['created', 'exited', 'paused', 'running']);
  const ports = await inspect('l-ports', false);
  assert.equal(expectedPorts(ports).length, 3);
  assert.equal((await inspect('l-mounts', false)).Mounts.length, 3);
  assert.deepEqual(Object.keys((await inspect('l-net', false)).NetworkSettings.Networks).sort(), ['bridge', 'lnet']);
});

test('the Image column follows the name as it is now, answer by answer', async () => {
  const row = async (): Promise<string[]> =>
    lines(await k.ok(['ps', '-a', '--filter', 'name=l-old', '--filter', 'name=l-new', '--format', '{{.Names}} {{.Image}}']));
  const busyboxId = (await inspect('l-old', false)).Image.slice('sha256:'.length, 'sha256:'.length + 12);
  const twoId = (await inspect('l-new', false)).Image.slice('sha256:'.length, 'sha256:'.length + 12);
  assert.notEqual(busyboxId, twoId);
  assert.deepEqual(await row(), ['l-new bb:one', `l-old ${busyboxId}`]);
  await k.ok(['tag', 'busybox', 'bb:one']);
  assert.deepEqual(await row(), [`l-new ${twoId}`, 'l-old bb:one']);
  // A network filter names the user network and the default bridge alike.
  const byNetwork = async (n: string): Promise<string[]> =>
    lines(await k.ok(['ps', '-a', '--filter', `network=${n}`, '--format', '{{.Names}}']));
  assert.deepEqual(await byNetwork('lnet'), ['l-net']);
  assert.ok((await byNetwork('bridge')).includes('l-net'));
});
