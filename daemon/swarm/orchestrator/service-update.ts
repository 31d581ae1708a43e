// What swarmkit's controlapi UpdateService does to the stored service, for the API wiring: the new
// spec becomes Spec, the old one PreviousSpec, and UpdateStatus is cleared (the orchestrator then
// starts a rolling update); `rollback=previous` swaps them back and starts a rollback at once.
import { InvalidParameter } from '../../../lib/errors';
import type { Service, ServiceSpec } from './types';
import { iso } from './types';
import { validateServiceUpdate } from './validate';

/**
 * The service to store after an update request (`next` already through prepareServiceSpec).
 * Version, UpdatedAt and the etcd compare-and-swap are the wiring's.
 */
export function applyServiceUpdate(current: Service, next: ServiceSpec, now: number, rollback = false): Service {
  validateServiceUpdate(current, next, rollback);
  const out = structuredClone(current);
  if (rollback) {
    if (current.PreviousSpec === undefined || current.Spec === undefined)
      throw new InvalidParameter(`service ${current.ID ?? ''} does not have a previous spec`);
    out.Spec = structuredClone(current.PreviousSpec);
    out.PreviousSpec = structuredClone(current.Spec);
    out.UpdateStatus = { State: 'rollback_started', StartedAt: iso(now), Message: 'manually requested rollback' };
    return out;
  }
  if (current.Spec !== undefined) out.PreviousSpec = structuredClone(current.Spec);
  out.Spec = structuredClone(next);
  delete out.UpdateStatus;
  return out;
}
