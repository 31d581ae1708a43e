// Raw API throughput: a fixed number of requests over 32 keep-alive connections at once, from the
// bench's own process, timed as one batch (requests per second = REQUESTS / time). Also `docker
// logs`-sized reads: GET /containers/{id}/logs of a large json-file log, counted, not kept.
import * as http from 'node:http';
import { inBatches, must, output, type Case } from '../case';
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
  ];
}
