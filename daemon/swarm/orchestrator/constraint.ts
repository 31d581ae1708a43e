// Placement constraints as swarmkit's manager/constraint parses and matches them: `key==value` or
// `key!=value`, keys node.id, node.hostname, node.role, node.platform.os/arch, node.labels.<x>,
// engine.labels.<x> (node.ip as well); values compared case-insensitively, label names as given.
import type { Node } from './types';

export interface Constraint {
  key: string;
  op: '==' | '!=';
  value: string;
}

const KEY = /^[a-z_][a-z0-9\-_.]+$/i;
const VALUE = /^[a-z0-9:\-_\s.*()?+[\]\\^$|/]+$/i;
const NODE_LABELS = 'node.labels.';
const ENGINE_LABELS = 'engine.labels.';

/** Parses constraint expressions; throws an Error with swarmkit's text on the first bad one. */
export function parseConstraints(exprs: readonly string[] | undefined): Constraint[] {
  const out: Constraint[] = [];
  for (const e of exprs ?? []) {
    const op = (['==', '!='] as const).find((o) => e.includes(o));
    if (op === undefined) throw new Error('constraint expected one operator from ==, !=');
    const at = e.indexOf(op);
    const key = e.slice(0, at).trim();
    if (!KEY.test(key)) throw new Error(`key '${key}' is invalid`);
    const value = e.slice(at + op.length).trim();
    if (!VALUE.test(value)) throw new Error(`value '${value}' is invalid`);
    out.push({ key, op, value });
  }
  return out;
}

function matches(c: Constraint, what: string): boolean {
  const eq = c.value.toLowerCase() === what.toLowerCase();
  return c.op === '==' ? eq : !eq;
}

function hasPrefix(key: string, prefix: string): boolean {
  return key.length > prefix.length && key.slice(0, prefix.length).toLowerCase() === prefix;
}

/** The value a constraint key reads from a node, or undefined for an unknown key (never matches). */
export function nodeAttribute(key: string, n: Node): string | undefined {
  const k = key.toLowerCase();
  const d = n.Description;
  switch (k) {
    case 'node.id':
      return n.ID ?? '';
    case 'node.hostname':
      return d?.Hostname ?? '';
    case 'node.role':
      return n.Spec?.Role ?? 'worker';
    case 'node.platform.os':
      return d?.Platform?.OS ?? '';
    case 'node.platform.arch':
      return d?.Platform?.Architecture ?? '';
    case 'node.ip':
      return n.Status?.Addr ?? '';
  }
  if (hasPrefix(key, NODE_LABELS)) return n.Spec?.Labels?.[key.slice(NODE_LABELS.length)] ?? '';
  if (hasPrefix(key, ENGINE_LABELS)) return d?.Engine?.Labels?.[key.slice(ENGINE_LABELS.length)] ?? '';
  return undefined;
}

/** True if the node satisfies every constraint (AND). */
export function nodeMatches(constraints: readonly Constraint[], n: Node): boolean {
  for (const c of constraints) {
    const v = nodeAttribute(c.key, n);
    if (v === undefined) return false;
    if (c.key.toLowerCase() === 'node.ip') {
      if (!matchIp(c, v)) return false;
      continue;
    }
    if (!matches(c, v)) return false;
  }
  return true;
}

/** node.ip: a single address or a CIDR subnet (IPv4 only here; anything else never matches). */
function matchIp(c: Constraint, addr: string): boolean {
  const ip = ipv4(addr);
  const [net, bits] = c.value.split('/');
  const want = ipv4(net ?? '');
  if (ip === undefined || want === undefined) return false;
  let within: boolean;
  if (bits === undefined) within = ip === want;
  else {
    const n = Number(bits);
    if (!Number.isInteger(n) || n < 0 || n > 32) return false;
    const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
    within = (ip & mask) >>> 0 === (want & mask) >>> 0;
  }
  return c.op === '==' ? within : !within;
}

function ipv4(s: string): number | undefined {
  const p = s.split('.');
  if (p.length !== 4) return undefined;
  let v = 0;
  for (const x of p) {
    if (!/^\d{1,3}$/.test(x) || Number(x) > 255) return undefined;
    v = v * 256 + Number(x);
  }
  return v;
}
