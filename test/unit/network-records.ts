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
