// Linux signal names and numbers, parsed as dockerd's signal.ParseSignal does: a number, or a
// name with or without "SIG" in any case.
import * as os from 'node:os';
import { InvalidParameter } from './errors';

const NUMBERS: Readonly<Record<string, number>> = {
  ...Object.fromEntries(Object.entries(os.constants.signals).map(([name, n]) => [name.replace(/^SIG/, ''), n])),
  CLD: os.constants.signals.SIGCHLD,
};

const RT_MIN = 34;
const RT_MAX = 64;

/** Number of a signal name (RTMIN+n included); undefined when unknown. */
export function signalNumber(name: string): number | undefined {
  const n = name.toUpperCase().replace(/^SIG/, '');
  if (n in NUMBERS) return NUMBERS[n];
  // As moby's SignalMap: RTMIN, RTMIN+1..+15, RTMAX, RTMAX-1..-14.
  const rt = /^RTMIN(?:\+(\d+))?$/.exec(n) ?? /^RTMAX(?:-(\d+))?$/.exec(n);
  if (rt) {
    const off = Number(rt[1] ?? 0);
    if (n.startsWith('RTMIN')) return off <= 15 ? RT_MIN + off : undefined;
    return off <= 14 ? RT_MAX - off : undefined;
  }
  return undefined;
}

/** dockerd's ParseSignal: "9", "KILL", "sigkill", "SIGKILL" → 9; anything else is an error. */
export function parseSignal(raw: string): number {
  if (/^[+-]?[0-9]+$/.test(raw)) {
    const n = Number(raw);
    if (n === 0) throw new InvalidParameter(`Invalid signal: ${raw}`);
    return n;
  }
  const n = signalNumber(raw);
  if (n === undefined) throw new InvalidParameter(`Invalid signal: ${raw}`);
  return n;
}

export function isValidSignal(raw: string): boolean {
  try {
    parseSignal(raw);
    return true;
  } catch {
    return false;
  }
}
