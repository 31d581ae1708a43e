// Build arguments as moby's classic builder keeps them (builder/dockerfile/buildargs.go): values
// from --build-arg, ARGs declared before the first FROM (meta args), ARGs declared in the stage,
// and the predefined proxy arguments usable without a declaration.

/** Usable without an ARG line, never written into the image's history. */
export const BUILTIN_ARGS: ReadonlySet<string> = new Set([
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
]);

export class BuildArgs {
  private allowed = new Map<string, string | null>();
  private readonly meta = new Map<string, string | null>();
  private readonly referenced: Set<string>;

  constructor(
    private readonly fromOptions: Readonly<Record<string, string | null>>,
    referenced?: Set<string>,
  ) {
    this.referenced = referenced ?? new Set();
  }

  /** A copy for a new stage: meta args kept, stage ARGs forgotten (Clone + ResetAllowed). */
  forStage(): BuildArgs {
    const b = new BuildArgs(this.fromOptions, this.referenced);
    for (const [k, v] of this.meta) b.meta.set(k, v);
    return b;
  }

  addMeta(key: string, value: string | null): void {
    this.meta.set(key, value);
    this.referenced.add(key);
  }

  add(key: string, value: string | null): void {
    this.allowed.set(key, value);
    this.referenced.add(key);
  }

  private value(key: string, mapping: Map<string, string | null>): string | undefined {
    const opt = this.fromOptions[key];
    if (opt !== undefined && opt !== null && (mapping.has(key) || BUILTIN_ARGS.has(key))) return opt;
    if (!mapping.has(key)) return undefined;
    const def = mapping.get(key) ?? null;
    if (def === null) {
      const m = this.meta.get(key);
      return m === undefined || m === null ? undefined : m;
    }
    return def;
  }

  /** The meta args' values (for FROM lines). */
  metaValues(): Map<string, string> {
    const out = new Map<string, string>();
    for (const k of this.meta.keys()) {
      const v = this.value(k, this.meta);
      if (v !== undefined) out.set(k, v);
    }
    return out;
  }

  /** Declared (or builtin and given) args with a value, as moby's GetAllAllowed. */
  allowedValues(): Map<string, string> {
    const out = new Map<string, string>();
    for (const k of this.allowed.keys()) {
      const v = this.value(k, this.allowed);
      if (v !== undefined) out.set(k, v);
    }
    for (const k of BUILTIN_ARGS) {
      const v = this.fromOptions[k];
      if (v !== undefined && v !== null && !out.has(k)) out.set(k, v);
    }
    return out;
  }

  /** FilterAllowed: "k=v" for the allowed args the env does not set. */
  filterAllowed(env: readonly string[]): string[] {
    const keys = new Set(env.map((e) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e)));
    const out: string[] = [];
    for (const [k, v] of this.allowedValues()) if (!keys.has(k)) out.push(`${k}=${v}`);
    return out;
  }

  /** The --build-arg names nothing declared, sorted (moby's warning). */
  unused(): string[] {
    return Object.keys(this.fromOptions)
      .filter((k) => !this.referenced.has(k) && !BUILTIN_ARGS.has(k))
      .sort();
  }
}

/** moby's prependEnvOnCmd: `|N k=v ...` before the command, builtin args left out, sorted. */
export function prependEnvOnCmd(args: readonly string[], cmd: readonly string[]): string[] {
  const kept = args.filter((a) => !BUILTIN_ARGS.has(a.slice(0, a.indexOf('=')))).sort();
  if (kept.length === 0) return [...cmd];
  return [`|${kept.length}`, ...kept, ...cmd];
}
