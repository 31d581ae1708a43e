// The command line, with pflag semantics: --f v, --f=v, -f v, -fv, -f=v, combined bool shorthands.

import { ConfigError, type Layer, type PoolValue, type Ulimit } from './types';
import { BY_FLAG, BY_SHORT, type Option } from './options';
import { parseBool, parseGoInt } from '../../lib/go-strconv';
import { ramInBytes } from '../../lib/units';
import { parsePoolFlag, parseUlimitFlag } from './checks';

export interface CliResult {
  layer: Layer;
  /** Flags given, by option, in command-line order of first use. */
  given: Option[];
}

function flagDisplay(o: Option): string {
  return o.short ? `-${o.short}, --${o.flag}` : `--${o.flag}`;
}

export function parseArgv(argv: string[]): CliResult {
  const layer: Layer = new Map();
  const given: Option[] = [];
  const set = (o: Option, raw: string): void => {
    try {
      addCliValue(layer, o, raw);
    } catch (err) {
      throw new ConfigError(
        `invalid argument ${JSON.stringify(raw)} for ${JSON.stringify(flagDisplay(o))} flag: ${(err as Error).message}`,
        'usage',
      );
    }
    if (!given.includes(o)) given.push(o);
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--' && i === argv.length - 1) break;
    if (arg === '--' || !arg.startsWith('-') || arg === '-') {
      throw new ConfigError('"berthd" accepts no argument(s).', 'usage');
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      const o = BY_FLAG.get(name);
      if (!o) throw new ConfigError(`unknown flag: --${name}`, 'usage');
      if (eq !== -1) set(o, arg.slice(eq + 1));
      else if (o.kind === 'bool') set(o, 'true');
      else if (i + 1 < argv.length) set(o, argv[++i]);
      else throw new ConfigError(`flag needs an argument: --${name}`, 'usage');
      continue;
    }
    const shorts = arg.slice(1);
    for (let j = 0; j < shorts.length; j++) {
      const c = shorts[j];
      const o = BY_SHORT.get(c);
      if (!o) throw new ConfigError(`unknown shorthand flag: '${c}' in ${arg}`, 'usage');
      const rest = shorts.slice(j + 1);
      if (rest.startsWith('=')) {
        set(o, rest.slice(1));
        break;
      }
      if (o.kind === 'bool') {
        set(o, 'true');
        continue;
      }
      if (rest !== '') set(o, rest);
      else if (i + 1 < argv.length) set(o, argv[++i]);
      else throw new ConfigError(`flag needs an argument: '${c}' in -${shorts}`, 'usage');
      break;
    }
  }
  return { layer, given };
}

function addCliValue(layer: Layer, o: Option, raw: string): void {
  const k = o.key;
  switch (o.kind) {
    case 'string':
      layer.set(k, o.check ? o.check(raw) : raw);
      return;
    case 'bool':
      layer.set(k, parseBool(raw));
      return;
    case 'int':
      // pflag's int: strconv.ParseInt(raw, 0, 64), so 0x10, 0o17, 010 and 1_500 are numbers
      layer.set(k, Number(parseGoInt(raw, 0, 64)));
      return;
    case 'bytes':
      layer.set(k, ramInBytes(raw));
      return;
    case 'list': {
      const list = (layer.get(k) as string[] | undefined) ?? [];
      list.push(o.check ? o.check(raw) : raw);
      layer.set(k, list);
      return;
    }
    case 'map': {
      const map = (layer.get(k) as Record<string, string> | undefined) ?? {};
      const eq = raw.indexOf('=');
      if (eq === -1) map[raw] = '';
      else map[raw.slice(0, eq)] = raw.slice(eq + 1);
      layer.set(k, map);
      return;
    }
    case 'mapmap': {
      const map = (layer.get(k) as Record<string, Record<string, string>> | undefined) ?? {};
      const m = /^([^=]*)=([^=]*)=(.*)$/s.exec(raw);
      if (!m) throw new Error(`invalid value ${JSON.stringify(raw)} for map option, should be root-key=key=value`);
      (map[m[1]] ??= {})[m[2]] = m[3];
      layer.set(k, map);
      return;
    }
    case 'ulimit': {
      const map = (layer.get(k) as Record<string, Ulimit> | undefined) ?? {};
      const u = parseUlimitFlag(raw);
      map[u.Name] = u;
      layer.set(k, map);
      return;
    }
    case 'pool': {
      const pools = (layer.get(k) as PoolValue[] | undefined) ?? [];
      pools.push(parsePoolFlag(raw));
      layer.set(k, pools);
      return;
    }
    case 'json':
      throw new Error('not a flag');
  }
}
