// Linux signal names and numbers, parsed as dockerd's signal.ParseSignal does: a number, or a
// name with or without "SIG" in any case.
import * as os from 'node:os';
import { InvalidParameter } from '../lib/errors';

const NUMBERS: Readonly<Record<string, number>> = {
  ...Object.fromEntries(Object.entries(os.constants.signals).map(([name, n]) => [name.replace(/^SIG/, ''), n])),
  CLD: os.constants.signals.SIGCHLD,
};

const RT_MIN = 34;
const INT64_MAX = 2n ** 63n - 1n;
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
    // strconv.Atoi: beyond int64 it fails, and the name lookup after it fails too.
    const big = BigInt(raw);
    if (big === 0n || big > INT64_MAX || big < -INT64_MAX - 1n) throw new InvalidParameter(`Invalid signal: ${raw}`);
    return Number(big);
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

/**
 * moby's ValidSignalForPlatform: a signal of the Linux SignalMap (1-31, RTMIN..RTMAX). Anything
 * else parses (ParseSignal takes any non-zero integer) but can never be sent: containerd's kill
 * takes a uint32 and runc refuses what the kernel does not know.
 */
export function validSignalForPlatform(sig: number): boolean {
  return Number.isInteger(sig) && ((sig >= 1 && sig <= 31) || (sig >= RT_MIN && sig <= RT_MAX));
}

/** ParseSignal then ValidSignalForPlatform, as moby's ContainerKill checks a signal (400 both). */
export function parseSupportedSignal(raw: string): number {
  const sig = parseSignal(raw);
  if (!validSignalForPlatform(sig)) throw new InvalidParameter(`the linux daemon does not support signal ${sig}`);
  return sig;
}
