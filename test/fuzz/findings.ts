// Findings: one class per kind of failure (500 by route and message, daemon exit by cause, slow
// /_ping, error body shape, leaked internals, leftovers), each with its count and the first
// reproduction. The allow-list holds the few reasoned exceptions.

export interface Repro {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  mode: string;
  caseIndex: number;
  /** A follow-up request sent after this one succeeded (e.g. start after create). */
  then?: string;
}

export interface Finding {
  cls: string;
  count: number;
  detail: string;
  repro?: Repro;
  /** Where it was seen (operation ids), with counts. */
  where: Map<string, number>;
}

/** Known and reasoned exceptions: a class matching `match` is not a failure. Keep it small. */
export const ALLOW: { match: RegExp; reason: string }[] = [
  {
    // dockerd runs ps with the client's ps_args and answers 500 when ps fails (moby
    // daemon/top_unix.go: a plain fmt.Errorf, no errdefs class).
    match: /^500 Error running ps: /,
    reason: 'dockerd answers 500 when ps rejects the client ps_args',
  },
  {
    // moby daemon/container_operations.go: DisconnectFromNetwork and disconnectFromNetwork return
    // a plain fmt.Errorf for a container not on the network (checked on dockerd 20.10: 500).
    match: /^500 container <id> is not connected to (the )?network /,
    reason: 'dockerd answers 500 for disconnecting a container that is not on the network',
  },
  {
    // The fuzzer points login and distribution inspect at a closed loopback port (sanitize.ts);
    // dockerd answers an unreachable registry (or a build's remote context URL) with the HTTP
    // client's error, untyped: a 500.
    match: /^500 (Get|Head) "https?:\/\/N\.N\.N\.N:N\/.*ECONNREFUSED/,
    reason: 'dockerd answers 500 when the registry cannot be reached',
  },
  {
    // moby's distribution router: errors.Errorf("no manifest found for full image ID"), untyped.
    match: /^500 no manifest found for full image ID$/,
    reason: 'dockerd answers 500 for distribution inspect of an image ID',
  },
  {
    // moby's plugin router: strconv.Atoi(r.Form.Get("timeout")) returned as it is, untyped.
    // A long value's message is cut (normalizeMessage keeps 90 characters; the client caps the
    // body), so the class is told by its start.
    match: /^500 strconv\.Atoi: parsing "/,
    reason: 'dockerd answers 500 for plugin enable with a timeout that is not an integer (or not an int64)',
  },
  {
    // moby's rmLink: errors.New("Conflict, cannot remove the default link name of the container"),
    // untyped, hence 500 (the text checked on dockerd 20.10 with `docker rm --link <name>`).
    match: /^500 Conflict, cannot remove the default link name of the container$/,
    reason: "dockerd answers 500 for removing a container's own name as a link",
  },
  {
    // runc refusing the resources a container was updated to (e.g. a swap limit without a memory
    // limit, which dockerd's update accepts as this does) when it next starts: moby's
    // translateContainerdStartErr leaves such errors errdefs.Unknown, a 500.
    match: /^500 failed to create task for container: failed to create shim task: OCI runtime create failed/,
    reason: 'dockerd answers 500 when runc refuses the settings at start',
  },
  {
    // A build context without the Dockerfile: moby's backwards-compatible errors.Errorf, untyped
    // (checked on dockerd 20.10: 500 for POST /build with an empty body).
    match: /^500 Cannot locate specified Dockerfile: /,
    reason: 'dockerd answers 500 for a build context without its Dockerfile',
  },
  {
    // A container path with a component past NAME_MAX (or PATH_MAX in all): dockerd's lstat of it
    // fails with ENAMETOOLONG, untyped, a 500 (checked on dockerd 20.10 for GET, HEAD and PUT
    // archive). The class is the message's first 90 characters, all path: no ": " in them.
    match: /^500 lstat \/[^:]{80,}$/,
    reason: 'dockerd answers 500 from lstat for a name too long for the kernel',
  },
];

/** Message text with ids, numbers and long tails normalized, so one cause is one class. */
export function normalizeMessage(m: string): string {
  return m
    .replace(/[0-9a-f]{12,64}/g, '<id>')
    .replace(/\d+/g, 'N')
    .replace(/\s+/g, ' ')
    .slice(0, 90);
}

/** The `message` of a dockerd-shaped error body, or the start of the body. */
export function messageOf(body: string): string {
  try {
    const v = JSON.parse(body) as unknown;
    if (typeof v === 'object' && v !== null && 'message' in v && typeof v.message === 'string') return v.message;
  } catch {
    // Not JSON, or a dockerd-shaped body cut at the client's cap (a message quoting a huge
    // parameter): its message so far, so the allow-list sees the same text as for a short one.
    const cut = /^\{"message":"((?:[^"\\]|\\.)*)/.exec(body);
    if (cut) return cut[1].replace(/\\(["\\/])/g, '$1');
  }
  return body.slice(0, 120);
}

export class Findings {
  readonly byClass = new Map<string, Finding>();
  constructor(private readonly exclude: string[] = []) {}

  excluded(cls: string): boolean {
    return this.exclude.some((e) => e !== '' && cls.includes(e));
  }

  add(cls: string, detail: string, repro?: Repro, where?: string): void {
    if (this.excluded(cls) || (where !== undefined && this.excluded(where))) return;
    let f = this.byClass.get(cls);
    if (f) f.count++;
    else {
      f = { cls, count: 1, detail, repro, where: new Map() };
      this.byClass.set(cls, f);
    }
    if (where !== undefined) f.where.set(where, (f.where.get(where) ?? 0) + 1);
  }

  /** Findings that fail the run (not allow-listed). */
  failures(): Finding[] {
    return [...this.byClass.values()].filter((f) => !ALLOW.some((a) => a.match.test(f.cls)));
  }

  report(seed: number): string {
    const lines: string[] = [];
    for (const f of [...this.byClass.values()].sort((a, b) => b.count - a.count)) {
      const allowed = ALLOW.find((a) => a.match.test(f.cls));
      lines.push(`- [${f.count}x] ${f.cls}${allowed ? ` (allowed: ${allowed.reason})` : ''}`);
      if (f.where.size > 0) {
        const top = [...f.where.entries()].sort((a, b) => b[1] - a[1]);
        lines.push(
          `    on ${top.length} route(s): ${top
            .slice(0, 8)
            .map(([w, n]) => `${w} ${n}x`)
            .join(', ')}${top.length > 8 ? ', ...' : ''}`,
        );
      }
      if (f.detail) lines.push(`    ${f.detail.replace(/\n/g, '\n    ')}`);
      if (f.repro) {
        const r = f.repro;
        const body = r.body.length > 300 ? `${r.body.slice(0, 300)}... (${r.body.length} bytes)` : r.body;
        const p = r.path.length > 400 ? `${r.path.slice(0, 400)}... (${r.path.length} chars)` : r.path;
        lines.push(
          `    repro${f.cls.startsWith('daemon-exit') ? ' (likeliest of the cases in flight or just done)' : ''} (seed ${seed}, case ${r.caseIndex}, mode ${r.mode}): ${r.method} ${p}`,
        );
        if (Object.keys(r.headers).length > 0) lines.push(`      headers: ${JSON.stringify(r.headers)}`);
        if (body !== '') lines.push(`      body: ${JSON.stringify(body)}`);
        if (r.then) lines.push(`      then: ${r.then}`);
      }
    }
    return lines.join('\n');
  }
}
