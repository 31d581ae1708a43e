// Port ranges as moby's network.ParsePortRange reads them ("80", "8000-8010", "53/udp"): for
// HostConfig.PortBindings' HostPort and for EXPOSE-style port specs.

export interface PortRange {
  start: number;
  end: number;
  /** Lower-cased; "tcp" when none was given. */
  proto: string;
}

/** strconv.ParseUint(s, 10, 16), reduced to the NumError reason moby keeps. */
function parsePortNumber(s: string): number {
  if (s === '') throw new Error('value is empty');
  if (!/^[0-9]+$/.test(s)) throw new Error('invalid syntax');
  const n = Number(s);
  if (n > 65535) throw new Error('value out of range');
  return n;
}

/**
 * network.ParsePortRange: an optional "/proto" is split off first, then "start[-end]" (a range
 * whose two ends are the same text is that one port). Throws with moby's texts.
 */
export function parsePortRange(s: string): PortRange {
  if (s === '') throw new Error('invalid port range: value is empty');
  const slash = s.indexOf('/');
  const range = slash < 0 ? s : s.slice(0, slash);
  const proto = slash < 0 || slash === s.length - 1 ? 'tcp' : s.slice(slash + 1).toLowerCase();
  const dash = range.indexOf('-');
  const startText = dash < 0 ? range : range.slice(0, dash);
  const endText = dash < 0 ? startText : range.slice(dash + 1);
  const number = (text: string, which: string): number => {
    try {
      return parsePortNumber(text);
    } catch (err) {
      throw new Error(`invalid ${which} port '${text}': ${(err as Error).message}`);
    }
  };
  const start = number(startText, 'start');
  if (endText === startText) return { start, end: start, proto };
  const end = number(endText, 'end');
  if (end < start) throw new Error(`invalid port range: ${s}`);
  return { start, end, proto };
}

/** parsePortRange, or undefined where it throws. */
export function tryParsePortRange(s: string): PortRange | undefined {
  try {
    return parsePortRange(s);
  } catch {
    return undefined;
  }
}
