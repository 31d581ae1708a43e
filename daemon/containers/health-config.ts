// A container's healthcheck settings as dockerd reads them (daemon/health.go, validateHealthCheck):
// which probe the Test names, the create-time checks, and the effective timings, a zero field
// meaning the default. Durations are Go nanoseconds and may be beyond 2^53 (Int64).
import { InvalidParameter } from '../../lib/errors';
import type { Int64 } from '../../lib/int64';
import type { HealthConfig } from './api-types';

const MS = 1_000_000n;
/** moby's container.MinimumDuration (1ms), as its error texts print it. */
const MINIMUM_DURATION_NS = MS;
const MINIMUM_DURATION_TEXT = '1ms';

export const DEFAULT_INTERVAL_NS = 30_000n * MS;
export const DEFAULT_TIMEOUT_NS = 30_000n * MS;
export const DEFAULT_START_PERIOD_NS = 0n;
export const DEFAULT_START_INTERVAL_NS = 5_000n * MS;
export const DEFAULT_RETRIES = 3;

/** dockerd's validateHealthCheck: zero is "unset"; negative or below 1ms is refused (a 400). */
export function validateHealthCheck(hc: HealthConfig | undefined | null): void {
  if (!hc) return;
  const tooSmall = (v: Int64 | undefined): boolean => v !== undefined && v !== 0 && BigInt(v) < MINIMUM_DURATION_NS;
  if (tooSmall(hc.Interval)) throw new InvalidParameter(`Interval in Healthcheck cannot be less than ${MINIMUM_DURATION_TEXT}`);
  if (tooSmall(hc.Timeout)) throw new InvalidParameter(`Timeout in Healthcheck cannot be less than ${MINIMUM_DURATION_TEXT}`);
  if (hc.Retries !== undefined && hc.Retries < 0) throw new InvalidParameter('Retries in Healthcheck cannot be negative');
  if (tooSmall(hc.StartPeriod)) throw new InvalidParameter(`StartPeriod in Healthcheck cannot be less than ${MINIMUM_DURATION_TEXT}`);
  if (tooSmall(hc.StartInterval)) throw new InvalidParameter(`StartInterval in Healthcheck cannot be less than ${MINIMUM_DURATION_TEXT}`);
}

/** The healthcheck as dockerd stores and shows it: its zero fields are "unset" (Go's omitempty). */
export function withoutZeroFields(hc: HealthConfig): HealthConfig {
  const out: HealthConfig = {};
  if (hc.Test && hc.Test.length > 0) out.Test = [...hc.Test];
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) {
    const v = hc[k];
    if (v !== undefined && v !== null && v !== 0) (out as Record<string, Int64>)[k] = v;
  }
  return out;
}

/** The command a probe runs (moby's getProbe and cmdProbe); undefined for none, NONE or an unknown type. */
export function probeCommand(hc: HealthConfig | undefined | null, shell: readonly string[] | null | undefined): string[] | undefined {
  const test = hc?.Test ?? [];
  if (test.length === 0) return undefined;
  switch (test[0]) {
    case 'CMD':
      return test.slice(1);
    case 'CMD-SHELL':
      return [...(shell && shell.length > 0 ? shell : ['/bin/sh', '-c']), ...test.slice(1)];
    default:
      // NONE, or a type dockerd does not know (it logs a warning and runs no probe).
      return undefined;
  }
}

/** The timings a monitor runs with, defaults applied (moby's timeoutWithDefault). */
export interface ProbeTimings {
  intervalNs: bigint;
  timeoutNs: bigint;
  startPeriodNs: bigint;
  startIntervalNs: bigint;
  retries: number;
}

export function probeTimings(hc: HealthConfig | undefined | null): ProbeTimings {
  const or = (v: Int64 | undefined, def: bigint): bigint => (v === undefined || v === 0 ? def : BigInt(v));
  return {
    intervalNs: or(hc?.Interval, DEFAULT_INTERVAL_NS),
    timeoutNs: or(hc?.Timeout, DEFAULT_TIMEOUT_NS),
    startPeriodNs: or(hc?.StartPeriod, DEFAULT_START_PERIOD_NS),
    startIntervalNs: or(hc?.StartInterval, DEFAULT_START_INTERVAL_NS),
    retries: hc?.Retries !== undefined && hc.Retries > 0 ? hc.Retries : DEFAULT_RETRIES,
  };
}

/** Nanoseconds as whole milliseconds for timers (at least 1: nothing below 1ms passes validation). */
export function nsToMs(ns: bigint): number {
  const ms = ns / MS;
  return ms < 1n ? 1 : Number(ms);
}
