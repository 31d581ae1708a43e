// Service templates, as swarmkit's agent expands them (template/context.go, expand.go) before a
// task runs: `{{.Service.Name}}`, `{{.Task.Slot}}`, `{{.Node.Hostname}}`... in a ContainerSpec's
// Env values, Hostname and mount Source/Target/volume labels and driver options, and in network
// aliases. swarmkit runs Go's text/template; Berth reads the part of it that services use:
// field chains on the context, `index <map> "key"`, comments, and `{{-`/`-}}` trimming. Any
// other action is refused with a template error (docs/divergence.md).

/** What a template can see: swarmkit's template.Context. */
export interface TemplateContext {
  Service: { ID: string; Name: string; Labels: Record<string, string> };
  Node: { ID: string; Hostname: string; Platform: { Architecture: string; OS: string } };
  Task: { ID: string; Name: string; Slot: string };
}

export interface TemplateFacts {
  serviceId: string;
  serviceName: string;
  serviceLabels?: Record<string, string>;
  nodeId: string;
  nodeHostname?: string;
  nodeArchitecture?: string;
  nodeOs?: string;
  taskId: string;
  /** 0 for a global service's task: its slot is then the node ID. */
  slot: number;
}

/** `<service>.<slot>.<taskID>`, or `<service>.<nodeID>.<taskID>` without a slot (naming.Task). */
export function taskName(serviceName: string, slot: number, nodeId: string, taskId: string): string {
  return `${serviceName}.${slot !== 0 ? String(slot) : nodeId}.${taskId}`;
}

export function templateContext(f: TemplateFacts): TemplateContext {
  return {
    Service: { ID: f.serviceId, Name: f.serviceName, Labels: { ...(f.serviceLabels ?? {}) } },
    Node: {
      ID: f.nodeId,
      Hostname: f.nodeHostname ?? '',
      Platform: { Architecture: f.nodeArchitecture ?? '', OS: f.nodeOs ?? '' },
    },
    Task: {
      ID: f.taskId,
      Name: taskName(f.serviceName, f.slot, f.nodeId, f.taskId),
      Slot: f.slot !== 0 ? String(f.slot) : f.nodeId,
    },
  };
}

export class TemplateError extends Error {}

const FIELD_CHAIN = /^(?:\.[A-Za-z_][A-Za-z0-9_]*)+$|^\.$/;
const INDEX_CALL = /^index\s+((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s+"((?:[^"\\]|\\.)*)"$/;

type Value = string | Record<string, unknown> | undefined;

function lookup(ctx: TemplateContext, chain: string, action: string): Value {
  if (chain === '.')
    throw new TemplateError(`template: expansion: executing "expansion" at <${action}>: the whole context cannot be printed`);
  let cur: unknown = ctx;
  let isMap = false;
  for (const part of chain.slice(1).split('.')) {
    if (typeof cur !== 'object' || cur === null) {
      throw new TemplateError(`template: expansion: executing "expansion" at <${chain}>: can't evaluate field ${part}`);
    }
    const obj = cur as Record<string, unknown>;
    if (!Object.prototype.hasOwnProperty.call(obj, part)) {
      // A map's missing key prints Go's "<no value>"; a struct's unknown field is an error.
      if (isMap) return undefined;
      throw new TemplateError(
        `template: expansion: executing "expansion" at <${chain}>: can't evaluate field ${part} in type template.Context`,
      );
    }
    cur = obj[part];
    isMap = chain.startsWith('.Service.Labels') && part === 'Labels';
  }
  return cur as Value;
}

function print(v: Value): string {
  if (v === undefined) return '<no value>';
  if (typeof v === 'string') return v;
  // Go prints a map as map[k:v ...] with sorted keys, a struct as {a b}.
  const entries = Object.entries(v);
  const isLabels = entries.every(([, x]) => typeof x === 'string');
  if (isLabels) {
    return `map[${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, x]) => `${k}:${String(x)}`)
      .join(' ')}]`;
  }
  return `{${entries.map(([, x]) => print(x as Value)).join(' ')}}`;
}

function evalAction(ctx: TemplateContext, action: string): string {
  if (action.startsWith('/*') && action.endsWith('*/')) return '';
  if (FIELD_CHAIN.test(action)) return print(lookup(ctx, action, action));
  const idx = INDEX_CALL.exec(action);
  if (idx) {
    const m = lookup(ctx, idx[1], action);
    if (typeof m !== 'object')
      throw new TemplateError(`template: expansion: executing "expansion" at <index ${idx[1]}>: can't index item of type string`);
    const key = idx[2].replace(/\\(.)/g, '$1');
    const v = Object.prototype.hasOwnProperty.call(m, key) ? m[key] : undefined;
    return v === undefined ? '<no value>' : print(v as Value);
  }
  throw new TemplateError(`template: expansion: unsupported action {{${action}}} (Berth expands field references and index only)`);
}

/** Expands s as swarmkit's Context.Expand does; a string without `{{` is returned as is. */
export function expandTemplate(ctx: TemplateContext, s: string): string {
  if (!s.includes('{{')) return s;
  let out = '';
  let i = 0;
  while (i < s.length) {
    const open = s.indexOf('{{', i);
    if (open < 0) {
      out += s.slice(i);
      break;
    }
    let text = s.slice(i, open);
    let start = open + 2;
    if (s.startsWith('- ', start) || s.startsWith('-\t', start) || s.startsWith('-\n', start)) {
      text = text.replace(/\s+$/, '');
      start += 1;
    }
    out += text;
    const close = s.indexOf('}}', start);
    if (close < 0) throw new TemplateError('template: expansion:1: unclosed action');
    let end = close;
    let trimAfter = false;
    if (end - start >= 2 && s[end - 1] === '-' && /\s/.test(s[end - 2])) {
      trimAfter = true;
      end -= 1;
    }
    out += evalAction(ctx, s.slice(start, end).trim());
    i = close + 2;
    if (trimAfter) while (i < s.length && /\s/.test(s[i])) i++;
  }
  return out;
}
