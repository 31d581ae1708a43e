// What the image operations (pull, push, load, import, save, remove) need from the image service.
// ImageService satisfies it structurally; the operations import this instead of service.ts, which
// imports them, so the area has no import cycle.
import type { Logger } from 'pino';
import type { Containerd } from '../../runtime/containerd';
import type { ImageRepo, ImageRow } from '../../store/image-repo';
import type { EventBus } from '../events';
import type { ImageConfig } from './image-config';
import type { Named } from './reference';
import type { ContainerUsage } from '../container-usage';

export interface ImageCore {
  readonly ctd: Containerd;
  readonly repo: ImageRepo;
  readonly events: EventBus;
  readonly logger: Logger;
  /** Who uses an image (the containers). */
  readonly usage: Pick<ContainerUsage, 'containersUsingImage' | 'removalsSettled'>;
  readonly tmpDir: string;
  config(image: ImageRow): ImageConfig;
  addTag(imageId: string, named: Named, opts?: { touch?: boolean; event?: boolean }): void;
  publish(imageId: string, action: string, name: string): void;
  eventAttributes(imageId: string, name: string): Record<string, string>;
}
