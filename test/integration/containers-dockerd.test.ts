// `docker inspect` of containers created with the same `docker create` flags on Berth and on the
// reference dockerd (20.10, /usr/sbin/dockerd), field by field. Runs only where dockerd is
// installed (CI has none); Berth-only assertions on the same fields live in containers-query.
// Differences that are deliberate are listed in KNOWN with the reason; any other one fails.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { Kit, sleep } from './container-kit';
import { DOCKER, httpRequest, run } from './harness';

const DOCKERD = '/usr/sbin/dockerd';
const skip = fs.existsSync(DOCKERD) ? false : `${DOCKERD} is not installed`;

let k: Kit;
let refDir: string;
let refSock: string;
let ref: ChildProcess | undefined;
let refExited: Promise<unknown> | undefined;

async function refDocker(args: string[]): Promise<string> {
  const r = await run(DOCKER, ['-H', `unix://${refSock}`, ...args], {
    env: { ...process.env, DOCKER_CONFIG: path.join(refDir, 'docker-config'), DOCKER_CLI_HINTS: 'false' },
    input: undefined,
  });
  assert.equal(r.code, 0, `reference docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function refDockerInput(args: string[], input: Buffer): Promise<void> {
  const r = await run(DOCKER, ['-H', `unix://${refSock}`, ...args], {
    env: { ...process.env, DOCKER_CONFIG: path.join(refDir, 'docker-config'), DOCKER_CLI_HINTS: 'false' },
    input,
  });
  assert.equal(r.code, 0, r.stderr);
}

before(async () => {
  if (skip) return;
  k = await Kit.start();
  refDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-refd-'));
  refSock = path.join(refDir, 'ref.sock');
  const log = fs.openSync(path.join(refDir, 'dockerd.log'), 'a');
  ref = spawn(
    DOCKERD,
    [
      '-H',
      `unix://${refSock}`,
      '--data-root',
      path.join(refDir, 'root'),
      '--exec-root',
      path.join(refDir, 'exec'),
      '--pidfile',
      path.join(refDir, 'dockerd.pid'),
      '--bridge=none',
      '--iptables=false',
      '--config-file',
      writeEmptyConfig(),
    ],
    { stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  refExited = new Promise((resolve) => ref?.on('exit', resolve));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ping = await httpRequest(refSock, 'GET', '/_ping').catch(() => undefined);
    if (ping?.status === 200) break;
    if (ref.exitCode !== null || Date.now() > deadline) {
      throw new Error(`reference dockerd did not start:\n${fs.readFileSync(path.join(refDir, 'dockerd.log'), 'utf8').slice(-3000)}`);
    }
    await sleep(200);
  }
  await refDockerInput(['load'], await buildBusyboxArchive({ tags: ['busybox:latest'] }));
});

function writeEmptyConfig(): string {
  const f = path.join(refDir, 'daemon.json');
  fs.writeFileSync(f, '{}\n');
  return f;
}

after(async () => {
  if (skip) return;
  if (ref && ref.exitCode === null && ref.pid !== undefined) {
    process.kill(ref.pid, 'SIGTERM');
    const timer = setTimeout(() => ref?.pid !== undefined && ref.exitCode === null && process.kill(ref.pid, 'SIGKILL'), 30_000);
    await refExited;
    clearTimeout(timer);
  }
  if (refDir) {
    const mounts = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((m): m is string => m !== undefined && m.startsWith(`${refDir}/`));
    for (const m of mounts.sort((a, b) => b.length - a.length)) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
    fs.rmSync(refDir, { recursive: true, force: true });
  }
  if (k) await k.destroy();
});

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * Deliberate differences, by path (a trailing `*` matches the subtree). Each is in
 * docs/divergence.md or is dockerd 20.10 behaviour that current moby (API 1.53) changed.
 */
const KNOWN: Record<string, string> = {
  Driver: 'containerd overlayfs snapshotter, not overlay2',
  'GraphDriver*': 'containerd snapshot directories',
  'NetworkSettings*': 'API 1.53 NetworkSettings has only SandboxID, SandboxKey, Ports, Networks; no network sandboxes yet',
  'HostConfig.KernelMemory': 'removed from the API (1.42+)',
  'HostConfig.KernelMemoryTCP': 'removed from the API (1.42+)',
  'HostConfig.MaskedPaths': "current moby's list (adds /proc/interrupts, /sys/devices/virtual/powercap...), checked below as a superset",
  'HostConfig.Runtime': 'always "runc" (20.10 leaves it out for raw API creates)',
  'HostConfig.RestartPolicy.Name': '"no" when unset (20.10 keeps "")',
  'Config.NetworkDisabled':
    'an artifact of the reference running with --bridge=none: it disables networking of default-mode containers at start',
};

function known(p: string): boolean {
  return Object.keys(KNOWN).some((k2) => (k2.endsWith('*') ? p.startsWith(k2.slice(0, -1)) : p === k2));
}

function diff(a: Json, b: Json, p: string, out: string[]): void {
  if (known(p)) return;
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const sub = p ? `${p}.${key}` : key;
      if (!(key in a)) {
        if (!known(sub)) out.push(`${sub}: Berth has none, dockerd ${JSON.stringify(b[key])}`);
      } else if (!(key in b)) {
        if (!known(sub)) out.push(`${sub}: dockerd has none, Berth ${JSON.stringify(a[key])}`);
      } else diff(a[key], b[key], sub, out);
    }
    return;
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${p}: Berth ${JSON.stringify(a)}, dockerd ${JSON.stringify(b)}`);
}

/** Replaces what differs by nature (IDs, times, roots) with placeholders. */
function normalize(c: Record<string, Json>, root: string): Record<string, Json> {
  const id = c.Id as string;
  let text = JSON.stringify(c);
  text = text.split(id).join('<id>').split(id.slice(0, 12)).join('<id12>').split(root).join('<root>');
  const out = JSON.parse(text) as Record<string, Json>;
  delete out.Created;
  // The CLI orders -e variables without a value differently by API version (the raw API shows
  // dockerd keeps the order it is given, as Berth does): compare Env as a set.
  const config = out.Config as Record<string, Json>;
  if (Array.isArray(config.Env)) config.Env = [...(config.Env as string[])].sort();
  return out;
}

const FLAG_SETS: string[][] = [
  [],
  ['-it'],
  ['-i', '--rm'],
  ['--network', 'host'],
  ['--network', 'none', '--hostname', 'hh', '--domainname', 'example.test'],
  ['--privileged', '--ipc', 'host', '--pid', 'host'],
  [
    '-l',
    'a=b',
    '-e',
    'X=1',
    '-e',
    'Y',
    '-w',
    '/tmp',
    '-u',
    'nobody',
    '--init',
    '--read-only',
    '--cap-drop',
    'ALL',
    '--cap-add',
    'NET_RAW',
    '-m',
    '64m',
    '--pids-limit',
    '50',
    '--ulimit',
    'nofile=1024:2048',
    '--tmpfs',
    '/run',
    '--add-host',
    'h1:10.0.0.1',
    '--dns',
    '1.1.1.1',
    '--restart',
    'on-failure:3',
    '--stop-timeout',
    '5',
    '--stop-signal',
    'SIGUSR1',
    '--entrypoint',
    'sleep',
  ],
  ['--pids-limit', '-1', '-m', '100m', '--memory-swap', '-1', '--memory-reservation', '50m', '--memory-swappiness', '10'],
  ['--entrypoint', '', '--restart', 'unless-stopped'],
  [
    '--log-opt',
    'max-size=1m',
    '--log-opt',
    'max-file=2',
    '--cpus',
    '1.5',
    '--cpu-shares',
    '512',
    '--shm-size',
    '1g',
    '-p',
    '8080:80',
    '--expose',
    '90',
    '--dns-search',
    'x.y',
    '--dns-option',
    'ndots:2',
    '--sysctl',
    'net.ipv4.ip_forward=1',
    '--security-opt',
    'no-new-privileges',
    '--oom-score-adj',
    '100',
    '--group-add',
    '10',
    '--cgroupns',
    'host',
    '--uts',
    'host',
  ],
];

describe('inspect of the same docker run, after the exit, Berth against dockerd', { skip }, () => {
  for (const [i, flags] of [[], ['--network', 'none', '--init', '-e', 'A=1'], ['-t', '--restart', 'on-failure:1']].entries()) {
    test(`docker run ${flags.join(' ') || '(no flags)'} busybox sh -c 'echo out; exit 3'`, async () => {
      const name = `ran${i}`;
      const args = ['run', '--name', name, ...flags, 'busybox', 'sh', '-c', 'echo out; exit 3'];
      assert.equal((await k.docker(args)).code, 3);
      await refDocker(args).catch(() => undefined);
      const settle = async (inspect: () => Promise<string>): Promise<Record<string, Json>> => {
        for (let n = 0; ; n++) {
          const c = (JSON.parse(await inspect()) as Record<string, Json>[])[0];
          if ((c.State as Record<string, Json>).Status === 'exited' || n > 100) return c;
          await sleep(100);
        }
      };
      const ours = normalize(await settle(() => k.ok(['container', 'inspect', name])), k.b.dataRoot);
      const theirs = normalize(await settle(() => refDocker(['container', 'inspect', name])), path.join(refDir, 'root'));
      for (const c of [ours, theirs]) {
        const st = c.State as Record<string, Json>;
        for (const f of ['StartedAt', 'FinishedAt']) {
          assert.match(st[f] as string, /^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
          st[f] = '<time>';
        }
      }
      const out: string[] = [];
      diff(ours, theirs, '', out);
      assert.deepEqual(out, [], out.join('\n'));
      await k.ok(['rm', name]);
      await refDocker(['rm', name]);
    });
  }
});

describe('inspect of the same docker create, Berth against dockerd', { skip }, () => {
  for (const [i, flags] of FLAG_SETS.entries()) {
    test(`docker create ${flags.join(' ') || '(no flags)'}`, async () => {
      const name = `cmp${i}`;
      const cmd = flags.includes('--entrypoint') && !flags.includes('') ? ['1000'] : ['echo', 'hi'];
      await k.ok(['create', '--name', name, ...flags, 'busybox', ...cmd]);
      await refDocker(['create', '--name', name, ...flags, 'busybox', ...cmd]);
      const ours = normalize((JSON.parse(await k.ok(['container', 'inspect', name])) as Record<string, Json>[])[0], k.b.dataRoot);
      const theirs = normalize(
        (JSON.parse(await refDocker(['container', 'inspect', name])) as Record<string, Json>[])[0],
        path.join(refDir, 'root'),
      );
      const out: string[] = [];
      diff(ours, theirs, '', out);
      assert.deepEqual(out, [], out.join('\n'));
      const oursMasked = (ours.HostConfig as Record<string, Json>).MaskedPaths;
      const theirsMasked = (theirs.HostConfig as Record<string, Json>).MaskedPaths;
      if (theirsMasked === null) assert.equal(oursMasked, null);
      else for (const m of theirsMasked as string[]) assert.ok((oursMasked as string[]).includes(m), `MaskedPaths lacks ${m}`);
      await k.ok(['rm', name]);
      await refDocker(['rm', name]);
    });
  }
});
