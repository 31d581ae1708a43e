// The classic builder's cache (moby daemon/images/cache.go): a step is reused when an image whose
// parent is the step's base image was committed from the same container config, the step's Cmd
// carrying the instruction (`#(nop) ` forms, `|N k=v` build args, COPY's content hash). Among
// several matches the newest wins.
import type { ContainerConfig } from '../containers/api-types';
import type { BuildImage } from './ports';

function sameList(a: readonly string[] | null | undefined, b: readonly string[] | null | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function sameKeys(a: Record<string, unknown> | null | undefined, b: Record<string, unknown> | null | undefined): boolean {
  const x = Object.keys(a ?? {});
  const y = new Set(Object.keys(b ?? {}));
  return x.length === y.size && x.every((k) => y.has(k));
}

/** moby's compare: Image and Hostname are not compared; OpenStdin never matches. */
export function sameStepConfig(a: ContainerConfig | null | undefined, b: ContainerConfig | null | undefined): boolean {
  if (!a || !b || a.OpenStdin === true || b.OpenStdin === true) return false;
  if (
    (a.AttachStdout ?? false) !== (b.AttachStdout ?? false) ||
    (a.AttachStderr ?? false) !== (b.AttachStderr ?? false) ||
    (a.User ?? '') !== (b.User ?? '') ||
    (a.Tty ?? false) !== (b.Tty ?? false)
  ) {
    return false;
  }
  if (!sameList(a.Cmd, b.Cmd) || !sameList(a.Env, b.Env) || !sameList(a.Entrypoint, b.Entrypoint)) return false;
  const la = a.Labels ?? {};
  const lb = b.Labels ?? {};
  if (!sameKeys(la, lb) || Object.keys(la).some((k) => la[k] !== lb[k])) return false;
  return sameKeys(a.ExposedPorts, b.ExposedPorts) && sameKeys(a.Volumes, b.Volumes);
}

/** The cached image for a step on `parentId` ('' for scratch), if any. */
export function findCached(children: readonly BuildImage[], config: ContainerConfig): string | undefined {
  let match: BuildImage | undefined;
  for (const img of children) {
    if (!sameStepConfig(img.config.container_config, config)) continue;
    if (match === undefined || Date.parse(match.config.created ?? '') < Date.parse(img.config.created ?? '')) match = img;
  }
  return match?.id;
}
