// Runs fuzz cases against a berthd of its own (harness: temp socket and data root) with N
// parallel workers, a separate /_ping monitor, daemon-exit detection (with restart, so one run
// finds every crash class), a cap on the containers it creates, and at the end a clean-up and a
// check that nothing is left behind (containers, mounts, FIFOs, netns, shims).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { containerdNamespaceFor } from '../../daemon/config';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { containerdPid, destroyBerth, startBerth, type Berth } from '../integration/harness';
import { BODY_CAP, garbageRequest, send, type Outcome, type WireRequest } from './client';
import { Findings, messageOf, normalizeMessage, type Repro } from './findings';
import { anyCaseArb, serializeJson, type FuzzCase, type Pool } from './generators';
import { PUSH_TARGET, sanitizeBody, sanitizePath, sanitizeQuery, sanitizeRaw } from './sanitize';
import { loadSpec } from './spec-model';
import { afterStop, leftovers, scrub } from './leftovers';
import { api, idOf } from './api';

export interface FuzzOptions {
  seed: number;
  cases: number;
  workers: number;
  /** Operation ids, modes or finding classes (substrings) to skip. */
  exclude: string[];
  log: (line: string) => void;
}

export interface FuzzResult {
  findings: Findings;
  sent: number;
  ms: number;
  maxPingMs: number;
  exits: number;
  stalls: Map<string, number>;
}

const REQUEST_TIMEOUT_MS = 8000;
const MAX_CREATED = 24;
const MAX_RESTARTS = 6;

interface Pools {
  container: string[];
  image: string[];
  network: string[];
  volume: string[];
  exec: string[];
}

/** Percent-encodes every byte outside [A-Za-z0-9._~-] (lone surrogates included, as WTF-8 would not). */
export function encodeSegment(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9._~-]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The wire form of `c` with pool objects filled in and host-touching values neutered. */
export function buildRequest(c: FuzzCase, pools: Pools, safeDir: string, index: number): WireRequest {
  let i = 0;
  const p = c.template.replace(/\{[^}]+\}/g, () => {
    const a = c.pathArgs[i++];
    // A push would reach the registry the name points at (docker.io for a pool image): pin it.
    if (c.operationId === 'ImagePush' && i === 1) return PUSH_TARGET;
    if (!a) return '';
    if ('literal' in a) return encodeSegment(a.literal);
    const pool = pools[a.pool as Pool];
    return pool.length > 0 ? encodeSegment(pool[a.k % pool.length]) : 'missing';
  });
  const q = new Map<string, string[]>();
  for (const [k, v] of c.query) q.set(k, [...(q.get(k) ?? []), v]);
  sanitizeQuery(c.operationId, q);
  const qs = new URLSearchParams();
  for (const [k, vs] of q) for (const v of vs) qs.append(k, v);
  const query = qs.toString();
  let body: Buffer | undefined;
  const headers = { ...c.headers };
  if (c.raw !== undefined) body = Buffer.from(sanitizeRaw(c.operationId, c.raw), 'latin1');
  else if (c.bodyKind !== 'none' && c.body !== undefined) {
    // Sanitizing a clone keeps the case itself reproducible.
    const value = sanitizeBody(c.operationId, structuredClone(c.body), { safeDir, index });
    body = Buffer.from(serializeJson(value));
  }
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
    headers['Content-Type'] = c.bodyKind === 'non-json' && c.operationId !== 'ContainerCreate' ? 'application/x-tar' : 'application/json';
  }
  return { method: c.method, path: `/v1.53${sanitizePath(c.operationId, p)}${query ? `?${query}` : ''}`, headers, body };
}

async function fillPools(b: Berth, pools: Pools): Promise<void> {
  const runCfg = { Image: 'busybox', Cmd: ['sleep', '3600'], StopSignal: 'SIGKILL', StopTimeout: 1 };
  pools.container = [];
  for (const [name, start, cfg] of [
    ['fz-run-0', true, runCfg],
    ['fz-run-1', true, runCfg],
    ['fz-exited', true, { Image: 'busybox', Cmd: ['true'] }],
    ['fz-created', false, { Image: 'busybox', Cmd: ['true'] }],
  ] as const) {
    let r = await api(b, 'GET', `/containers/${name}/json`);
    if (r.status !== 200) {
      r = await api(b, 'POST', `/containers/create?name=${name}`, cfg);
      if (start) await api(b, 'POST', `/containers/${name}/start`);
    } else if (start && name.startsWith('fz-run')) {
      await api(b, 'POST', `/containers/${name}/unpause`);
      await api(b, 'POST', `/containers/${name}/start`);
    }
    pools.container.push(name);
  }
  const ex = await api(b, 'POST', '/containers/fz-run-0/exec', { Cmd: ['true'] });
  const execId = idOf(ex.json);
  pools.exec = execId ? [execId, 'fz-no-exec'] : ['fz-no-exec'];
  const img = await api(b, 'GET', '/images/busybox/json');
  pools.image = ['busybox', 'busybox:latest', ...(idOf(img.json) ? [idOf(img.json) as string] : [])];
  await api(b, 'POST', '/networks/create', { Name: 'fz-net', IPAM: { Config: [{ Subnet: '10.213.250.0/24' }] } });
  pools.network = ['bridge', 'none', 'host', 'fz-net'];
  await api(b, 'POST', '/volumes/create', { Name: 'fz-vol' });
  pools.volume = ['fz-vol'];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The cause of an exit from the daemon's log: the error code or first line of the last stack. */
export function exitCause(log: string): { cls: string; text: string } {
  const lines = log.split('\n').filter((l) => l.trim() !== '');
  const tail = lines.slice(-60);
  const text = tail
    .filter((l) => !l.startsWith('{"level":30'))
    .slice(-12)
    .join('\n')
    .slice(-1500);
  const code = [...tail.join('\n').matchAll(/code: '([A-Z_0-9]+)'/g)].pop();
  if (code) return { cls: code[1], text };
  const err = tail.filter((l) => /^\s*(\w*Error|Uncaught)\b/.test(l)).pop();
  return { cls: normalizeMessage(err?.trim() ?? tail[tail.length - 1] ?? 'no log'), text };
}

function reproOf(req: WireRequest, c: FuzzCase, index: number): Repro {
  if (c.mode === 'raw-garbage') {
    // What was sent is the garbage request, not the case's.
    const raw = garbageRequest(index);
    const nl = raw.indexOf('\r\n');
    return {
      method: 'RAW',
      path: JSON.stringify(raw.slice(0, nl < 0 ? 200 : Math.min(nl, 200))),
      headers: {},
      body: nl < 0 ? '' : raw.slice(nl + 2, nl + 300),
      mode: c.mode,
      caseIndex: index,
    };
  }
  return {
    method: req.method,
    path: req.path,
    headers: req.headers,
    body: req.body?.toString('latin1') ?? '',
    mode: c.mode,
    caseIndex: index,
  };
}

/**
 * What a case is, for BERTH_FUZZ_EXCLUDE: its operation id, mode, body kind, and 'redos' (a
 * backtracking-prone filter), 'deep' (nesting), 'int64' (an integer beyond 2^53).
 */
export function labelsOf(c: FuzzCase): string[] {
  const labels = [c.operationId, c.mode, `body-${c.bodyKind}`];
  const q = c.query.map(([, v]) => v).join(' ');
  if (/\+\)\+|\)\+x/.test(q)) labels.push('redos');
  const text = `${c.raw ?? ''}${c.body === undefined ? '' : JSON.stringify(c.body)}`;
  if (c.bodyKind === 'deep' || text.includes('\\u0001DEEP:')) labels.push('deep');
  if (text.includes('\\u0001BIG:')) labels.push('int64');
  return labels;
}

const PATH_LEAK = /\/tmp\/berth-|\/var\/lib\/berth|\/run\/berth|    at |node:internal|FST_ERR|"statusCode"/;

export async function runFuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const model = loadSpec();
  const findings = new Findings(opts.exclude);
  const excluded = (c: FuzzCase): boolean => {
    const labels = labelsOf(c);
    return opts.exclude.some((e) => labels.includes(e));
  };
  const cases = fc.sample(anyCaseArb(model), { seed: opts.seed, numRuns: opts.cases });
  const safeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-fuzz-binds-'));
  let b = await startBerth();
  const dir = b.dir;
  const archive = await buildBusyboxArchive({ tags: ['busybox:latest'] });
  await b.request('POST', '/images/load?quiet=1', { body: archive, headers: { 'Content-Type': 'application/x-tar' } });
  const pools: Pools = { container: [], image: [], network: [], volume: [], exec: [] };
  await fillPools(b, pools);
  const created: string[] = [];
  const everCreated = new Set<string>();
  const inFlight = new Map<number, { req: WireRequest; c: FuzzCase }>();
  const stalls = new Map<string, number>();
  let restarting: Promise<void> | undefined;
  let exits = 0;
  let stopped = false;
  let maxPingMs = 0;
  let next = 0;
  let sent = 0;
  const t0 = performance.now();

  let killedFrozen = false;
  const recentAbuse: [number, { req: WireRequest; c: FuzzCase }][] = [];
  const onExit = async (): Promise<void> => {
    exits++;
    const cause = exitCause(b.log());
    // Our own kill of a frozen daemon is recorded as daemon-frozen, not as an exit.
    if (killedFrozen) exits--;
    // The likeliest culprit first: clients that leave early, then writes, then the rest.
    // (streamed answers are GETs: a GET whose client left ranks before other methods).
    const rank = (v: { req: WireRequest; c: FuzzCase }): number =>
      (['upgrade-vanish', 'slow-reader', 'vanish-after-headers', 'vanish-after-send', 'truncated-body', 'raw-garbage'].indexOf(v.c.mode) +
        1 || 8) *
        2 +
      (v.req.method === 'GET' ? 0 : 1);
    // A client that left may be done before the daemon falls: recent abusive cases count too.
    const suspects = [...inFlight.entries(), ...recentAbuse].sort((a, b2) => rank(a[1]) - rank(b2[1]));
    recentAbuse.length = 0;
    const [idx, first] = suspects[0] ?? [-1, undefined];
    if (!killedFrozen)
      findings.add(
        `daemon-exit ${cause.cls}`,
        `log:\n${cause.text}\nin flight: ${suspects.map(([i, v]) => `case ${i} ${v.c.mode} ${v.req.method} ${v.req.path.slice(0, 80)}`).join(' | ')}`,
        first ? reproOf(first.req, first.c, idx) : undefined,
      );
    opts.log(killedFrozen ? 'frozen daemon killed; restarting' : `daemon exited (${exits}); restarting`);
    killedFrozen = false;
    if (exits > MAX_RESTARTS) {
      stopped = true;
      return;
    }
    await b.stop();
    const orphan = containerdPid(b.execRoot);
    if (orphan !== undefined) process.kill(orphan, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    try {
      b = await startBerth({ dir });
      await fillPools(b, pools);
    } catch (err) {
      findings.add('daemon-restart-fails', String(err).slice(0, 600));
      stopped = true;
    }
  };
  const checkAlive = async (): Promise<void> => {
    if (restarting) return restarting;
    if (stopped) return;
    if (alive(b.pid)) return;
    restarting = onExit().finally(() => {
      restarting = undefined;
    });
    return restarting;
  };

  // The monitor: /_ping must answer within 1 s throughout (a bound from the issue).
  let failedPings = 0;
  let frozenSince: string[] = [];
  const pinger = (async () => {
    while (!stopped) {
      if (restarting) await restarting;
      const flightAtSend = [...inFlight.entries()];
      const r = await send(b.socket, { method: 'GET', path: '/_ping', headers: {} }, 'normal', 5000);
      if (r.error && !alive(b.pid)) await checkAlive();
      else if (r.error) {
        // A daemon that answers nothing for 3 pings in a row is frozen: recorded, killed, restarted.
        // A dying daemon resets connections first: only a living one counts as slow.
        await new Promise((res) => setTimeout(res, 1000));
        if (!alive(b.pid)) {
          await checkAlive();
          continue;
        }
        if (failedPings++ === 0)
          frozenSince = flightAtSend.map(
            ([i, v]) =>
              `case ${i}: ${v.c.mode} ${v.req.method} ${v.req.path.slice(0, 200)} ${v.req.body?.toString('latin1').slice(0, 200) ?? ''}`,
          );
        findings.add('ping-slow', `/_ping: ${r.error} after ${Math.round(r.ms)} ms`);
        if (failedPings >= 3) {
          findings.add('daemon-frozen', `no /_ping answer for 15 s; in flight when it began:\n${frozenSince.join('\n')}`);
          failedPings = 0;
          killedFrozen = true;
          process.kill(b.pid, 'SIGKILL');
          await checkAlive();
        }
      } else {
        failedPings = 0;
        maxPingMs = Math.max(maxPingMs, r.ms);
        if (r.ms > 1000 || r.status !== 200) {
          const flight = flightAtSend.map(([i, v]) => `case ${i}: ${v.c.mode} ${v.req.method} ${v.req.path.slice(0, 100)}`);
          findings.add('ping-slow', `/_ping took ${Math.round(r.ms)} ms (status ${r.status ?? r.error}); in flight: ${flight.join(' | ')}`);
        }
      }
      await new Promise((res) => setTimeout(res, 200));
    }
  })();

  const handle = async (index: number, c: FuzzCase, req: WireRequest, out: Outcome): Promise<void> => {
    if (out.error) {
      if (!alive(b.pid)) return checkAlive();
      if (out.error === 'timeout' && c.mode === 'normal') {
        const k = `${c.operationId}`;
        stalls.set(k, (stalls.get(k) ?? 0) + 1);
      }
      return;
    }
    if (c.mode !== 'normal' && c.mode !== 'raw-garbage') return;
    const op = c.mode === 'raw-garbage' ? 'raw' : c.operationId;
    const body = classify(op, out, req.method, () => reproOf(req, c, index));
    if (c.mode !== 'normal') return;
    // Follow-ups reach what a 2xx stored: a created container is started (docker run), an
    // updated one restarted, a created exec started; a 500 there is the create's or update's fault.
    let then: WireRequest | undefined;
    let id: string | undefined;
    if (c.operationId === 'ContainerCreate' && out.status === 201) {
      id = /"Id":"([0-9a-f]{64})"/.exec(body)?.[1];
      if (id) {
        created.push(id);
        everCreated.add(id);
        then = { method: 'POST', path: `/v1.53/containers/${id}/start`, headers: {} };
      }
    } else if (c.operationId === 'ContainerUpdate' && out.status === 200) {
      then = { method: 'POST', path: req.path.replace(/\/update(\?.*)?$/, '/restart?t=0'), headers: {} };
    } else if (c.operationId === 'ExecCreate' && out.status === 201) {
      id = /"Id":"([0-9a-f]{64})"/.exec(body)?.[1];
      if (id)
        then = {
          method: 'POST',
          path: `/v1.53/exec/${id}/start`,
          headers: { 'Content-Type': 'application/json' },
          body: Buffer.from('{"Detach":true}'),
        };
    }
    if (!then) return;
    const out2 = await send(b.socket, then, 'normal', REQUEST_TIMEOUT_MS);
    if (out2.error) {
      if (!alive(b.pid)) return checkAlive();
      return;
    }
    const first = reproOf(req, c, index);
    classify(`${op}+${then.path.split('/').pop()?.split('?')[0] ?? ''}`, out2, then.method, () => ({
      ...first,
      then: `${then.method} ${then.path}`,
    }));
  };

  /** Records what is wrong with one answer; returns its body. */
  const classify = (op: string, out: Outcome, method: string, repro: () => Repro): string => {
    const status = out.status ?? 0;
    const bodyStart = out.body.indexOf('\r\n\r\n');
    let body = bodyStart >= 0 ? out.body.slice(bodyStart + 4) : '';
    if (/transfer-encoding: chunked/i.test(out.body.slice(0, bodyStart))) body = body.replace(/^[0-9a-f]+\r\n/, '');
    if (status >= 500 && status !== 501 && status !== 503) {
      findings.add(`500 ${normalizeMessage(messageOf(body))}`, `status ${status}`, repro(), op);
    }
    if (status >= 400 && method !== 'HEAD' && body.trim() !== '') {
      let shaped = false;
      try {
        const v = JSON.parse(body.trim().split('\r\n')[0]) as unknown;
        shaped = typeof v === 'object' && v !== null && 'message' in v && typeof v.message === 'string';
      } catch {
        // A body cut at the client's cap (a message quoting a huge parameter) cannot parse.
        shaped = out.body.length >= BODY_CAP && /^\{"message":"/.test(body);
      }
      if (!shaped) findings.add(`error-shape ${status} ${normalizeMessage(body).slice(0, 50)}`, `body: ${body.slice(0, 160)}`, repro(), op);
    }
    if (status >= 400 && PATH_LEAK.test(body)) {
      findings.add(`leak ${normalizeMessage(messageOf(body)).slice(0, 60)}`, `body: ${body.slice(0, 200)}`, repro(), op);
    }
    return body;
  };

  const worker = async (w: number): Promise<void> => {
    let done = 0;
    while (!stopped) {
      const index = next++;
      if (index >= cases.length) return;
      const c = cases[index];
      if (excluded(c)) continue;
      if (restarting) await restarting;
      if (stopped) return;
      // Keep the number of containers bounded: the oldest fuzz-created ones go.
      while (created.length > MAX_CREATED) {
        const id = created.shift() as string;
        await send(b.socket, { method: 'DELETE', path: `/containers/${id}?force=1&v=1`, headers: {} }, 'normal', REQUEST_TIMEOUT_MS);
      }
      if (w === 0 && ++done % 400 === 0) await fillPools(b, pools);
      let req: WireRequest;
      try {
        req = buildRequest(c, pools, safeDir, index);
      } catch (err) {
        findings.add(`fuzzer-error ${String(err).slice(0, 80)}`, `case ${index} ${c.operationId}`);
        continue;
      }
      inFlight.set(index, { req, c });
      const out = await send(b.socket, req, c.mode, REQUEST_TIMEOUT_MS, index);
      inFlight.delete(index);
      if (c.mode !== 'normal') {
        recentAbuse.push([index, { req, c }]);
        if (recentAbuse.length > 8) recentAbuse.shift();
      }
      sent++;
      await handle(index, c, req, out);
      if (sent % 1000 === 0)
        opts.log(`${sent} requests, ${findings.byClass.size} finding classes, ${Math.round((performance.now() - t0) / 1000)} s`);
    }
  };
  let ms = 0;
  try {
    await Promise.all(Array.from({ length: opts.workers }, (_, w) => worker(w)));
  } finally {
    stopped = true;
    await pinger;
    if (restarting) await restarting;
    ms = performance.now() - t0;
    // Clean-up through the API (a dead daemon is started again for it), then nothing of the
    // fuzz may remain.
    if (!alive(b.pid)) {
      const orphan = containerdPid(b.execRoot);
      if (orphan !== undefined) process.kill(orphan, 'SIGKILL');
      b = await startBerth({ dir });
    }
    await leftovers(b, findings, everCreated);
    const ns = containerdNamespaceFor(b.dataRoot);
    await destroyBerth(b);
    afterStop(dir, ns, everCreated, findings);
    scrub(dir, ns, everCreated);
    fs.rmSync(safeDir, { recursive: true, force: true });
  }
  return { findings, sent, ms, maxPingMs, exits, stalls };
}

/** What a stopped daemon must not leave: mounts, shims, netns, cgroups, firewall chains, bridges. */
