// "Who uses X": the question the image, volume and network services ask about containers
// before they delete something. The container store answers it from its indexes; the services
// get it through their constructors, so none can be built without an answer.

export interface ContainerUsage {
  /** Containers whose rootfs or an image mount comes from the image (`docker rmi` conflicts). */
  containersUsingImage(imageId: string): { id: string; running: boolean }[];
  /** IDs of the containers whose mounts use the volume. */
  volumeUsers(volumeName: string): string[];
  /** IDs of the containers (running or not) configured on the network. */
  networkUsers(networkId: string): string[];
  /** A container's name (without the slash), by full ID. */
  containerName(id: string): string | undefined;
  /**
   * Settles once the containerd side (container record, snapshot) of every container removed
   * so far is deleted or failed to: an image's GC frees its layers only after.
   */
  removalsSettled(): Promise<void>;
}
