// Container inspect's ExecIDs come from the exec service, which containers/views.ts does not
// know. Until the container view asks the exec service itself, this wraps the container
// service handed to the API so that inspect fills them in; every other member passes through.
import type { ContainerInspectResponse } from '../containers/api-types';
import type { ExecService } from './service';

interface Inspectable {
  inspect(input: string, size: boolean): Promise<ContainerInspectResponse>;
}

export function withExecIds<T extends Inspectable>(containers: T, exec: ExecService): T {
  const inspect = async (input: string, size: boolean): Promise<ContainerInspectResponse> => {
    const res = await containers.inspect(input, size);
    return { ...res, ExecIDs: res.Id ? exec.execIds(res.Id) : null };
  };
  return new Proxy(containers, {
    get(target, prop) {
      if (prop === 'inspect') return inspect;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
