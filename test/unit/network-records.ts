// NetworkRecord and ID builders shared by the network unit tests.
import type { NetworkRecord } from '../../daemon/networks/model';

/** A 64-character ID made of one repeated character. */
export function hex(c: string): string {
  return c.repeat(64);
}

/** A bridge network record with dockerd's defaults; `extra` overrides any field. */
export function netRecord(name: string, id: string, extra: Partial<NetworkRecord> = {}): NetworkRecord {
  return {
    id,
    name,
    created: '2026-11-28T16:00:00.000000000Z',
    driver: 'bridge',
    internal: false,
    attachable: false,
    enableIPv6: false,
    labels: {},
    options: {},
    ipamDriver: 'default',
    ipamOptions: {},
    ipamConfigured: false,
    ipam: [],
    builtin: false,
    ...extra,
  };
}

/** The built-in networks and two user networks (net2 with a configured subnet), for the view tests. */
export const BRIDGE = netRecord('bridge', hex('b'), { builtin: true, ipam: [{ Subnet: '10.252.0.0/24', Gateway: '10.252.0.1' }] });
export const HOST = netRecord('host', hex('h'), { builtin: true, driver: 'host' });
export const NONE = netRecord('none', hex('0'), { builtin: true, driver: 'null' });
export const NET2 = netRecord('net2', hex('2'), { ipamConfigured: true, ipam: [{ Subnet: '10.99.0.0/24', Gateway: '10.99.0.1' }] });
export const N1 = netRecord('n1', hex('1'), { ipam: [{ Subnet: '10.253.0.0/24', Gateway: '10.253.0.1' }] });
