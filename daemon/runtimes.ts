// The OCI runtimes Berth offers: runc through containerd's runc v2 shim, under the two names
// dockerd lists for it. There is no `--add-runtime` (docs/divergence.md).
import { InvalidParameter } from '../lib/errors';

export const DEFAULT_RUNTIME = 'runc';

/** `docker info`'s Runtimes, as dockerd lists its stock ones. */
export const STOCK_RUNTIMES: Readonly<Record<string, { path: string }>> = {
  'io.containerd.runc.v2': { path: 'runc' },
  runc: { path: 'runc' },
};

/** Whether Berth can run containers under this runtime name. */
export function isStockRuntime(name: string): boolean {
  return Object.hasOwn(STOCK_RUNTIMES, name);
}

/** HostConfig.Runtime at create: '' is the default; anything Berth cannot run is refused as moby refuses it. */
export function checkRuntimeName(name: string | null | undefined): void {
  if (!name || isStockRuntime(name)) return;
  throw new InvalidParameter(`unknown or invalid runtime name: ${name}`);
}
