// The API types say Int64 (number | bigint) exactly where the body decoder keeps integers exact:
// the generated types say number for every integer, and a bigint reaching code typed number would
// throw in arithmetic. The list below is checked both ways: against the decoder at run time, and
// against daemon/containers/api-types.ts at compile time (the build fails if a listed field cannot
// hold a bigint).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CREATE_BODY, UPDATE_BODY, type GoType } from '../../api/go-decode';
import type { HealthConfig, HostConfig, ThrottleDevice, Ulimit } from '../../daemon/containers/api-types';

const HOST_CONFIG_INT64 = [
  'CpuShares',
  'Memory',
  'NanoCpus',
  'CpuPeriod',
  'CpuQuota',
  'CpuRealtimePeriod',
  'CpuRealtimeRuntime',
  'MemoryReservation',
  'MemorySwap',
  'MemorySwappiness',
  'PidsLimit',
  'CpuCount',
  'CpuPercent',
  'IOMaximumIOps',
  'IOMaximumBandwidth',
  'ShmSize',
] as const satisfies readonly (keyof HostConfig)[];
/** The healthcheck's durations (nanoseconds), at the top of the create body. */
const HEALTH_INT64 = ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const satisfies readonly (keyof HealthConfig)[];
const THROTTLE_LISTS = ['BlkioDeviceReadBps', 'BlkioDeviceWriteBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps'] as const;
/** Decoded (dockerd still reads them) but gone from the v1.53 spec; Berth ignores them. */
const NOT_IN_SPEC = ['KernelMemory', 'KernelMemoryTCP'];

type HoldsBigint<T> = bigint extends T ? true : false;
type ListedHold = { [K in (typeof HOST_CONFIG_INT64)[number]]: HoldsBigint<HostConfig[K]> }[(typeof HOST_CONFIG_INT64)[number]];
const hostConfigHolds: false extends ListedHold ? never : true = true;
const rateHolds: HoldsBigint<ThrottleDevice['Rate']> = true;
type HealthHold = { [K in (typeof HEALTH_INT64)[number]]: HoldsBigint<HealthConfig[K]> }[(typeof HEALTH_INT64)[number]];
const healthHolds: false extends HealthHold ? never : true = true;
const ulimitHolds: HoldsBigint<Ulimit['Soft']> & HoldsBigint<Ulimit['Hard']> = true;

/** Dotted paths of the exact integer fields of a decoder type (slices and pointers see through). */
function exactFields(t: GoType, prefix = ''): string[] {
  switch (t.k) {
    case 'int':
      return t.exact === true ? [prefix] : [];
    case 'ptr':
    case 'slice':
    case 'map':
      return exactFields(t.of, prefix);
    case 'struct':
      return Object.entries(t.fields).flatMap(([name, f]) => exactFields(f, prefix === '' ? name : `${prefix}.${name}`));
    default:
      return [];
  }
}

function expected(prefix: string, withShmSize: boolean): string[] {
  const fields: string[] = [...HOST_CONFIG_INT64.filter((f) => withShmSize || f !== 'ShmSize'), ...NOT_IN_SPEC];
  fields.push(...THROTTLE_LISTS.map((l) => `${l}.Rate`), 'Ulimits.Soft', 'Ulimits.Hard');
  return fields.map((f) => `${prefix}${f}`).sort();
}

test('the fields typed Int64 are the ones the body decoder keeps exact', () => {
  assert.ok(hostConfigHolds && rateHolds && ulimitHolds && healthHolds);
  const health = HEALTH_INT64.map((f) => `Healthcheck.${f}`);
  assert.deepEqual(exactFields(CREATE_BODY).sort(), [...expected('HostConfig.', true), ...health].sort());
  assert.deepEqual(exactFields(UPDATE_BODY).sort(), expected('', false));
});
