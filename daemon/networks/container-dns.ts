// Which containers have the embedded DNS, and its listeners' life: from the first endpoint on a
// user-defined network until the sandbox goes (dockerd starts a sandbox's resolver once and stops
// it with the sandbox), on 127.0.0.11:53 inside the container's netns, keyed by container id.
import type { Logger } from 'pino';
import type { DnsServer } from '../../network/dns-server';
import { EMBEDDED_DNS_IP } from '../../network/dns-in-netns';
import type { NetworkRecord } from './model';

export { EMBEDDED_DNS_IP };

/** User-defined bridge networks have the embedded DNS; the default bridge, host and none do not. */
export function hasEmbeddedDns(n: NetworkRecord): boolean {
  return n.driver === 'bridge' && n.name !== 'bridge';
}

export class ContainerResolvers {
  constructor(
    private readonly dns: DnsServer,
    private readonly logger: Logger,
  ) {}

  /** Listens in the container's netns (again after a daemon restart); a no-op when it does. A
   *  failure is logged and the container runs on, as dockerd's "Resolver Start failed". */
  async start(containerId: string, netnsPath: string): Promise<void> {
    try {
      await this.dns.listen(containerId, EMBEDDED_DNS_IP, 53, netnsPath);
    } catch (err) {
      this.logger.error({ err, container: containerId }, 'embedded DNS could not listen in the container');
    }
  }

  /** Whether the container's resolver is running. */
  running(containerId: string): boolean {
    return this.dns.has(containerId);
  }

  /** Closes the container's listeners (never throws). */
  async stop(containerId: string): Promise<void> {
    await this.dns
      .close(containerId)
      .catch((err: unknown) => this.logger.warn({ err, container: containerId }, 'embedded DNS close failed'));
  }
}
