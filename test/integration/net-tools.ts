// Small network helpers shared by the networking integration tests: random names, a busybox
// httpd command, an HTTP GET from the host, and free-port probes.
import { randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import * as http from 'node:http';
import * as net from 'node:net';

/** Six hex digits, for names that do not clash between runs. */
export const rnd = (): string => randomBytes(3).toString('hex');

/** busybox httpd in the foreground serving `text` as / on `port`. */
export const httpdCmd = (text: string, port = 80): string[] => [
  'sh',
  '-c',
  `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p ${port} -h /www`,
];

/** GET http://host:port/path from the host: status and body, or the error code. */
export function httpGet(
  host: string,
  port: number,
  timeoutMs = 3000,
  urlPath = '/',
): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: urlPath, timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

export function tcpFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

export function udpFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, host, () => s.close(() => resolve(true)));
  });
}

/** A TCP port free on 127.0.0.1 right now (the kernel's pick for port 0). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** `count` consecutive ports free for tcp and udp on 0.0.0.0, below the ephemeral range (Berth hands those out). */
export async function freePorts(count = 1): Promise<number> {
  for (;;) {
    const start = 20_000 + Math.floor(Math.random() * 10_000);
    let ok = true;
    for (let p = start; p < start + count && ok; p++) ok = (await tcpFree('0.0.0.0', p)) && (await udpFree('0.0.0.0', p));
    if (ok) return start;
  }
}
