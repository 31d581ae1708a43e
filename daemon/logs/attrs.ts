// The "attrs" a json-file entry carries (moby logger.Info.ExtraAttributes and ParseLogTag):
// container labels and environment variables picked by the labels/labels-regex/env/env-regex
// log-opts, and the "tag" log-opt rendered from its template.
import * as os from 'node:os';
import { compileClientPattern, PatternSyntaxError, type ClientPattern } from '../client-pattern';
import { SystemError } from '../../lib/errors';

/** What a log driver knows about its container (moby logger.Info). */
export interface LogContainerInfo {
  id: string;
  /** With or without the leading '/'. */
  name: string;
  imageId: string;
  imageName: string;
  entrypoint?: string;
  args?: string[];
  /** "KEY=value" strings. */
  env?: string[];
  labels?: Record<string, string>;
  daemonName?: string;
  logPath?: string;
}

function initFailure(message: string): SystemError {
  return new SystemError(`failed to initialize logging driver: ${message}`);
}

/** Go RE2 patterns, matched in linear time (the log-opts come from the client). */
function compileRegexp(src: string): ClientPattern {
  try {
    return compileClientPattern(src);
  } catch (err) {
    if (err instanceof PatternSyntaxError) throw initFailure(err.message);
    throw err;
  }
}

const truncateId = (id: string): string => (id.startsWith('sha256:') ? id.slice(7) : id).slice(0, 12);

/** Go's %v of a value: strings as they are, slices as [a b], maps as map[k:v] in key order. */
type TemplateValue = string | string[] | Record<string, string>;
function goPrint(v: TemplateValue): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `[${v.join(' ')}]`;
  return `map[${Object.keys(v)
    .sort()
    .map((k) => `${k}:${v[k]}`)
    .join(' ')}]`;
}

function templateFields(info: LogContainerInfo, opts: Record<string, string>): Record<string, () => TemplateValue> {
  const name = info.name.replace(/^\//, '');
  const command = [info.entrypoint ?? '', ...(info.args ?? [])].join(' ');
  return {
    ID: () => truncateId(info.id),
    FullID: () => info.id,
    Name: () => name,
    Command: () => command,
    ImageID: () => truncateId(info.imageId),
    ImageFullID: () => info.imageId,
    ImageName: () => info.imageName,
    Hostname: () => os.hostname(),
    DaemonName: () => info.daemonName ?? 'docker',
    ContainerID: () => info.id,
    ContainerName: () => info.name,
    ContainerEntrypoint: () => info.entrypoint ?? '',
    ContainerArgs: () => info.args ?? [],
    ContainerImageID: () => info.imageId,
    ContainerImageName: () => info.imageName,
    ContainerEnv: () => info.env ?? [],
    ContainerLabels: () => info.labels ?? {},
    LogPath: () => info.logPath ?? '',
    Config: () => opts,
  };
}

/**
 * Renders a log tag template. Supported: text with {{.Field}} actions on the fields of moby's
 * logger.Info; template functions and pipelines are refused.
 */
export function renderLogTag(template: string, info: LogContainerInfo, opts: Record<string, string> = {}): string {
  const fields = templateFields(info, opts);
  let out = '';
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{{', i);
    if (open < 0) {
      out += template.slice(i);
      break;
    }
    out += template.slice(i, open);
    const close = template.indexOf('}}', open + 2);
    if (close < 0) {
      const line = template.slice(0, open).split('\n').length;
      throw initFailure(`template: log-tag:${line}: unclosed action`);
    }
    let inner = template.slice(open + 2, close);
    let lead = 0;
    if (inner.startsWith('-')) {
      inner = inner.slice(1);
      lead = 1;
      out = out.replace(/\s+$/, '');
    }
    const trimRight = inner.endsWith('-');
    if (trimRight) inner = inner.slice(0, -1);
    const ws = inner.length - inner.trimStart().length;
    const expr = inner.trim();
    const m = /^\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(expr);
    if (!m) throw initFailure(`log tag template action {{${expr}}} is not supported (only {{.Field}})`);
    const getter = fields[m[1]!];
    if (!getter) {
      const before = template.slice(0, open + 2 + lead + ws);
      const line = before.split('\n').length;
      const col = before.length - (before.lastIndexOf('\n') + 1);
      throw initFailure(
        `template: log-tag:${line}:${col}: executing "log-tag" at <${expr}>: can't evaluate field ${m[1]} in type *logger.Info`,
      );
    }
    out += goPrint(getter());
    i = close + 2;
    if (trimRight) while (i < template.length && /\s/.test(template[i]!)) i++;
  }
  return out;
}

/** moby Info.ExtraAttributes plus the tag: the attrs for every entry of this container. */
export function extraAttributes(opts: Record<string, string>, info: LogContainerInfo): Record<string, string> {
  const extra: Record<string, string> = {};
  const labels = info.labels ?? {};
  if (opts['labels']) {
    for (const l of opts['labels'].split(',')) if (Object.prototype.hasOwnProperty.call(labels, l)) extra[l] = labels[l]!;
  }
  if (opts['labels-regex']) {
    const re = compileRegexp(opts['labels-regex']);
    for (const [k, v] of Object.entries(labels)) if (re.test(k)) extra[k] = v;
  }
  const env = new Map<string, string>();
  for (const e of info.env ?? []) {
    const eq = e.indexOf('=');
    if (eq >= 0) env.set(e.slice(0, eq), e.slice(eq + 1));
  }
  if (env.size > 0) {
    if (opts['env']) for (const k of opts['env'].split(',')) if (env.has(k)) extra[k] = env.get(k)!;
    if (opts['env-regex']) {
      const re = compileRegexp(opts['env-regex']);
      for (const [k, v] of env) if (re.test(k)) extra[k] = v;
    }
  }
  const tag = opts['tag'];
  if (tag) {
    const rendered = renderLogTag(tag, info, opts);
    if (rendered !== '') extra['tag'] = rendered;
  }
  return extra;
}
