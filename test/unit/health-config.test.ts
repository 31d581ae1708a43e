// Healthcheck settings as dockerd reads them: validation texts (zero is "unset"), the merge with
// the image's HEALTHCHECK, zero fields dropped as Go's omitempty drops them, the defaults, the
// probe command, exact durations beyond 2^53 through the create body decoder, and Go's duration
// formatting used in the timeout message.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CREATE_BODY, decodeGoText } from '../../api/go-decode';
import { InvalidParameter } from '../../lib/errors';
import type { ContainerConfig } from '../../daemon/containers/api-types';
import { probeCommand, probeTimings, validateHealthCheck } from '../../daemon/containers/health-config';
import { mergeWithImage, verifySettings } from '../../daemon/containers/settings';
import { formatGoDuration } from '../../daemon/go-duration';

const S = 1_000_000_000;

test('zero-valued fields (what compose and the SDKs send for unset) are accepted', () => {
  const config: ContainerConfig = {
    Image: 'busybox',
    Healthcheck: { Test: ['CMD', 'true'], Interval: 0, Timeout: 0, Retries: 0, StartPeriod: 0, StartInterval: 0 },
  };
  assert.deepEqual(verifySettings(config, {}), []);
  validateHealthCheck({});
  validateHealthCheck(undefined);
  validateHealthCheck({ Interval: 1_000_000, Timeout: 1_000_000, StartPeriod: 1_000_000, StartInterval: 1_000_000 });
});

test('negative or below 1ms: dockerd texts, a 400, in its order', () => {
  const refused = (hc: Parameters<typeof validateHealthCheck>[0], message: string): void => {
    assert.throws(
      () => verifySettings({ Healthcheck: hc ?? undefined }, {}),
      (err: unknown) => err instanceof InvalidParameter && err.message === message,
      message,
    );
  };
  refused({ Interval: 999_999 }, 'Interval in Healthcheck cannot be less than 1ms');
  refused({ Interval: -1 }, 'Interval in Healthcheck cannot be less than 1ms');
  refused({ Timeout: -S }, 'Timeout in Healthcheck cannot be less than 1ms');
  refused({ Timeout: 1 }, 'Timeout in Healthcheck cannot be less than 1ms');
  refused({ Retries: -1 }, 'Retries in Healthcheck cannot be negative');
  refused({ StartPeriod: 500 }, 'StartPeriod in Healthcheck cannot be less than 1ms');
  refused({ StartInterval: 999 }, 'StartInterval in Healthcheck cannot be less than 1ms');
  refused({ StartInterval: -9_223_372_036_854_775_807n }, 'StartInterval in Healthcheck cannot be less than 1ms');
  // moby checks Interval, Timeout, Retries, StartPeriod, StartInterval in that order.
  refused({ Interval: -1, Timeout: -1 }, 'Interval in Healthcheck cannot be less than 1ms');
  refused({ Retries: -1, StartPeriod: -1 }, 'Retries in Healthcheck cannot be negative');
});

test('the create body keeps durations beyond 2^53 exact', () => {
  const body = decodeGoText(
    '{"Image":"busybox","Healthcheck":{"Test":["CMD","true"],"Interval":9223372036854775807,"Timeout":9007199254740993}}',
    CREATE_BODY,
  ) as ContainerConfig;
  assert.equal(body.Healthcheck?.Interval, 9_223_372_036_854_775_807n);
  assert.equal(body.Healthcheck?.Timeout, 9_007_199_254_740_993n);
  assert.deepEqual(verifySettings(body, {}), []);
  const t = probeTimings(body.Healthcheck);
  assert.equal(t.intervalNs, 9_223_372_036_854_775_807n);
  assert.equal(t.timeoutNs, 9_007_199_254_740_993n);
  assert.throws(
    () => decodeGoText('{"Healthcheck":{"Interval":9223372036854775808}}', CREATE_BODY),
    /cannot unmarshal number 9223372036854775808 into Go struct field HealthConfig.Healthcheck.Interval of type time.Duration/,
  );
});

test('defaults for zero or absent fields: 30s interval and timeout, 3 retries, no start period, 5s start interval', () => {
  const d = { intervalNs: 30n * BigInt(S), timeoutNs: 30n * BigInt(S), startPeriodNs: 0n, startIntervalNs: 5n * BigInt(S), retries: 3 };
  assert.deepEqual(probeTimings({ Test: ['CMD', 'x'], Interval: 0, Timeout: 0, Retries: 0, StartPeriod: 0, StartInterval: 0 }), d);
  assert.deepEqual(probeTimings(undefined), d);
  assert.deepEqual(probeTimings({ Interval: 2 * S, Timeout: S, Retries: 1, StartPeriod: 4 * S, StartInterval: 100_000_000 }), {
    intervalNs: 2n * BigInt(S),
    timeoutNs: BigInt(S),
    startPeriodNs: 4n * BigInt(S),
    startIntervalNs: 100_000_000n,
    retries: 1,
  });
});

test('merge with the image: an unset healthcheck or field takes the image one; zero fields are dropped', () => {
  const image = {
    Healthcheck: { Test: ['CMD-SHELL', 'pg_isready'], Interval: 5 * S, Timeout: 2 * S, StartPeriod: S, StartInterval: 3 * S, Retries: 7 },
  };
  assert.deepEqual(mergeWithImage({}, image).Healthcheck, image.Healthcheck);
  assert.deepEqual(mergeWithImage({ Healthcheck: { Test: [], Interval: 0, Timeout: 9 * S, Retries: 0 } }, image).Healthcheck, {
    Test: ['CMD-SHELL', 'pg_isready'],
    Interval: 5 * S,
    Timeout: 9 * S,
    StartPeriod: S,
    StartInterval: 3 * S,
    Retries: 7,
  });
  assert.deepEqual(mergeWithImage({ Healthcheck: { Test: ['NONE'] } }, image).Healthcheck, {
    Test: ['NONE'],
    Interval: 5 * S,
    Timeout: 2 * S,
    StartPeriod: S,
    StartInterval: 3 * S,
    Retries: 7,
  });
  // Without an image healthcheck, the zero fields go (dockerd shows them omitted).
  assert.deepEqual(
    mergeWithImage({ Healthcheck: { Test: ['CMD', 'true'], Interval: 0, Timeout: 0, Retries: 0, StartPeriod: 0 } }, {}).Healthcheck,
    { Test: ['CMD', 'true'] },
  );
  assert.deepEqual(mergeWithImage({ Healthcheck: { Interval: 0 } }, undefined).Healthcheck, {});
  assert.equal(mergeWithImage({}, {}).Healthcheck, undefined);
});

test('the probe command: CMD as is, CMD-SHELL through the Shell or /bin/sh -c, NONE and unknown types none', () => {
  assert.deepEqual(probeCommand({ Test: ['CMD', 'curl', '-f', 'http://x/'] }, undefined), ['curl', '-f', 'http://x/']);
  assert.deepEqual(probeCommand({ Test: ['CMD-SHELL', 'a && b'] }, null), ['/bin/sh', '-c', 'a && b']);
  assert.deepEqual(probeCommand({ Test: ['CMD-SHELL', 'a'] }, ['/bin/bash', '-c']), ['/bin/bash', '-c', 'a']);
  assert.deepEqual(probeCommand({ Test: ['CMD'] }, undefined), []);
  assert.equal(probeCommand({ Test: ['NONE'] }, undefined), undefined);
  assert.equal(probeCommand({ Test: ['SHELL', 'x'] }, undefined), undefined);
  assert.equal(probeCommand({ Test: [] }, undefined), undefined);
  assert.equal(probeCommand(undefined, undefined), undefined);
});

test("Go's Duration.String", () => {
  const cases: Array<[bigint | number, string]> = [
    [0, '0s'],
    [1, '1ns'],
    [1500, '1.5\u00b5s'],
    [1_000_000, '1ms'],
    [500_000_000, '500ms'],
    [1_500_000, '1.5ms'],
    [S, '1s'],
    [30 * S, '30s'],
    [90 * S, '1m30s'],
    [60 * S, '1m0s'],
    [3600 * S, '1h0m0s'],
    [3661 * S + 500_000_000, '1h1m1.5s'],
    [-2 * S, '-2s'],
    [9_223_372_036_854_775_807n, '2562047h47m16.854775807s'],
  ];
  for (const [ns, text] of cases) assert.equal(formatGoDuration(ns), text, String(ns));
});
