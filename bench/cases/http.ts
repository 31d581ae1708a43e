// Raw API throughput: a fixed number of requests over 32 keep-alive connections at once, from the
// bench's own process, timed as one batch (requests per second = REQUESTS / time). Also `docker
// logs`-sized reads: GET /containers/{id}/logs of a large json-file log, counted, not kept.
import * as http from 'node:http';
import { inBatches, must, output, type Case, type Figures } from '../case';
import { httpRequest } from '../../test/integration/harness';
import type { Engine } from '../engines';

const CONNECTIONS = 32;
const REQUESTS = 2000;
/** Containers the listing case lists (created, never started). */
const LISTED = 10;
const LABEL = 'berth.bench=http';

/** One request on `agent`; resolves with the status and the number of body bytes (body dropped). */
function drain(agent: http.Agent | undefined, socket: string, urlPath: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path: urlPath, agent }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function burst(e: Engine, urlPath: string): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  try {
    const slots = Array.from({ length: REQUESTS }, (_, i) => i);
    await inBatches(slots, CONNECTIONS, async () => {
      const r = await drain(agent, e.socket, urlPath);
      if (r.status !== 200) throw new Error(`GET ${urlPath}: ${r.status}`);
    });
  } finally {
    agent.destroy();
  }
}

interface Inspected {
  State: { StartedAt: string; FinishedAt: string; ExitCode: number };
}

/**
 * `docker logs -f` against a container writing `bytes` as fast as it can: the container is
 * started, the follower attached at once (it reads from the log's start, so it misses nothing),
 * and the stream read to its end, which comes when the container has exited and every line was
 * sent. Figures: the writer's rate (its bytes over its StartedAt..FinishedAt), the follower's
 * (the bytes over StartedAt..its last byte) and how far the follower ended behind the writer.
 */
async function follow(e: Engine, bytes: number): Promise<Figures> {
  const start = await httpRequest(e.socket, 'POST', '/containers/bench-follow/start');
  if (start.status !== 204) throw new Error(`start: ${start.status} ${start.body}`);
  const r = await drain(undefined, e.socket, '/containers/bench-follow/logs?follow=1&stdout=1&stderr=1');
  const ended = Date.now();
  if (r.status !== 200) throw new Error(`logs -f: ${r.status}`);
  if (r.bytes < bytes) throw new Error(`logs -f: ${r.bytes} bytes, expected at least ${bytes}`);
  const res = await httpRequest(e.socket, 'GET', '/containers/bench-follow/json');
  const st = (JSON.parse(res.body) as Inspected).State;
  if (st.ExitCode !== 0) throw new Error(`writer exited ${st.ExitCode}`);
  const started = Date.parse(st.StartedAt);
  const finished = Date.parse(st.FinishedAt);
  const mbps = (ms: number): number => bytes / 1e6 / (ms / 1000);
  return {
    'writer MB/s': mbps(finished - started),
    'follower MB/s': mbps(ended - started),
    'follower behind the writer, ms': ended - finished,
  };
}

export function httpCases(small: Buffer, logMiB: number): Case[] {
  const logBytes = logMiB * 1024 * 1024;
  // 100-byte lines (99 characters and the newline), as in the 100 MB / 1 M lines.
  const writer = `yes ${'x'.repeat(99)} | head -c ${logBytes}`;
  return [
    {
      name: `GET /_ping x${REQUESTS}, ${CONNECTIONS} conns`,
      step: (e) => burst(e, '/_ping'),
    },
    {
      name: `GET /containers/json x${REQUESTS}, ${CONNECTIONS} conns`,
      setup: async (e) => {
        await must(e.docker(['load'], small));
        const slots = Array.from({ length: LISTED }, (_, i) => i);
        await inBatches(slots, 4, () => must(e.docker(['create', '--network', 'none', '--label', LABEL, 'busybox', 'true'])));
      },
      step: (e) => burst(e, '/containers/json?all=1'),
      teardown: async (e) => {
        const ids = (await output(e.docker(['ps', '-aq', '--filter', `label=${LABEL}`]))).split('\n').filter((s) => s !== '');
        if (ids.length > 0) await must(e.docker(['rm', ...ids]));
      },
    },
    {
      name: `GET /containers/{id}/logs (${logMiB} MiB)`,
      memory: true,
      setup: async (e) => {
        await must(e.docker(['load'], small));
        await must(e.docker(['run', '-d', '--network', 'none', '--name', 'bench-logs', 'busybox', 'sh', '-c', writer]));
        await must(e.docker(['wait', 'bench-logs']));
      },
      step: async (e) => {
        const r = await drain(undefined, e.socket, '/containers/bench-logs/logs?stdout=1&stderr=1');
        if (r.status !== 200) throw new Error(`logs: ${r.status}`);
        // Each frame adds an 8-byte header (no TTY), so the stream is at least the log's size.
        if (r.bytes < logBytes) throw new Error(`logs: ${r.bytes} bytes, expected at least ${logBytes}`);
      },
      teardown: (e) => must(e.docker(['rm', '-f', 'bench-logs'])),
    },
    {
      name: `docker logs -f of a ${logMiB} MiB writer`,
      memory: true,
      setup: (e) => must(e.docker(['load'], small)),
      step: async (e) => {
        await must(e.docker(['create', '--network', 'none', '--name', 'bench-follow', 'busybox', 'sh', '-c', writer]));
        return follow(e, logBytes);
      },
      reset: (e) => must(e.docker(['rm', '-f', 'bench-follow'])),
    },
  ];
}
