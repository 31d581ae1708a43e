// Interface counters from the host's /proc/net/dev: one read a tick serves every container,
// through the host side of each endpoint's veth pair.

export interface LinkCounters {
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDropped: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDropped: number;
}

/** /proc/net/dev's text → counters by interface name. */
export function parseProcNetDev(text: string): Map<string, LinkCounters> {
  const out = new Map<string, LinkCounters>();
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    if (f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out.set(name, {
      rxBytes: f[0],
      rxPackets: f[1],
      rxErrors: f[2],
      rxDropped: f[3],
      txBytes: f[8],
      txPackets: f[9],
      txErrors: f[10],
      txDropped: f[11],
    });
  }
  return out;
}

/** What the container's end of a veth pair counts: the host end's counters, directions swapped. */
export function peerCounters(host: LinkCounters): LinkCounters {
  return {
    rxBytes: host.txBytes,
    rxPackets: host.txPackets,
    rxErrors: host.txErrors,
    rxDropped: host.txDropped,
    txBytes: host.rxBytes,
    txPackets: host.rxPackets,
    txErrors: host.rxErrors,
    txDropped: host.rxDropped,
  };
}
