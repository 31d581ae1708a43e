// Helpers of the dashboard tests: the page URL berthd logs at start, and raw HTTP requests to the
// dashboard listener with whatever Host, Origin, cookie or token a test wants to try.
import * as http from 'node:http';
import { pollUntil, type Berth } from './harness';

/** The `dashboard listening` line's URL (http://127.0.0.1:PORT/?token=...). */
export async function dashboardUrl(b: Berth): Promise<URL> {
  let url: string | undefined;
  await pollUntil(30_000, 100, () => {
    for (const line of b.log().split('\n')) {
      if (!line.includes('"dashboard listening"')) continue;
      url = (JSON.parse(line) as { url?: string }).url;
    }
    return url !== undefined;
  });
  if (!url) throw new Error(`no dashboard URL in the log:\n${b.log().slice(-2000)}`);
  return new URL(url);
}

export interface DashReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request to the listener of `base`; `headers` replace the defaults (Host included). */
export function dashRequest(base: URL, method: string, urlPath: string, headers: Record<string, string> = {}): Promise<DashReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: base.hostname, port: Number(base.port), method, path: urlPath, headers: { Host: base.host, ...headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        // An event stream never ends: the first chunk (or the headers) is what a test looks at.
        const eventStream = /^text\/event-stream/.test(res.headers['content-type'] ?? '');
        res.on('data', (d: Buffer) => {
          chunks.push(d);
          if (eventStream) res.destroy();
        });
        res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', () => undefined);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** The token of a dashboard URL. */
export function tokenOf(url: URL): string {
  return url.searchParams.get('token') ?? '';
}
