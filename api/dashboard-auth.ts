// Who may use the dashboard: a browser on this machine that has the per-start token. The listener
// is on loopback only (daemon/config/checks.ts refuses anything else); on top of that:
// - the Host header must name the listener by a loopback literal or `localhost` (a page of
//   another site that rebinds its DNS name to 127.0.0.1 sends its own name: refused);
// - every request carries the token, in the URL once (`/?token=...`, which sets an HttpOnly,
//   SameSite=Strict cookie and redirects to a clean URL), then in that cookie or an
//   `Authorization: Bearer` header;
// - a POST (the only method that acts) must also come with an Origin naming this listener, so
//   a page of another origin cannot forge one even where a cookie would be sent.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import type * as http from 'node:http';

export type Verdict = { ok: true; setCookie?: string } | { ok: false; status: 401 | 403; message: string };

export interface DashboardAuth {
  readonly token: string;
  readonly cookieName: string;
  check(req: http.IncomingMessage, url: URL): Verdict;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Host values that name this listener: its bound address, `localhost`, the loopback literals. */
export function allowedHosts(boundHost: string, port: number): Set<string> {
  const hosts = new Set([`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]);
  hosts.add(boundHost.includes(':') ? `[${boundHost}]:${port}` : `${boundHost}:${port}`);
  return hosts;
}

export function dashboardAuth(boundHost: string, port: number, token = randomBytes(32).toString('base64url')): DashboardAuth {
  const hosts = allowedHosts(boundHost, port);
  // Cookies are not scoped by port: two daemons' dashboards on one host must not share one.
  const cookieName = `berth_dashboard_${port}`;
  return {
    token,
    cookieName,
    check(req, url) {
      const host = (req.headers.host ?? '').toLowerCase();
      if (!hosts.has(host)) return { ok: false, status: 403, message: 'invalid Host header' };
      if (req.method === 'POST') {
        const origin = req.headers.origin;
        if (origin === undefined || origin.toLowerCase() !== `http://${host}`) {
          return { ok: false, status: 403, message: 'cross-origin request refused' };
        }
      }
      const fromUrl = url.searchParams.get('token');
      if (fromUrl !== null && req.method === 'GET' && url.pathname === '/') {
        if (!sameToken(fromUrl, token)) return { ok: false, status: 401, message: 'invalid token' };
        return { ok: true, setCookie: `${cookieName}=${token}; Path=/; HttpOnly; SameSite=Strict` };
      }
      const auth = req.headers.authorization;
      const bearer = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
      const presented = bearer ?? cookieValue(req.headers.cookie, cookieName);
      if (presented === undefined) return { ok: false, status: 401, message: 'token required: open the URL berthd logged' };
      if (!sameToken(presented, token)) return { ok: false, status: 401, message: 'invalid token' };
      return { ok: true };
    },
  };
}
