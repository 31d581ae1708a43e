// What the builder needs of the other areas, as small ports: containers to create, run, commit
// and remove, their filesystems, and images to look up, pull and tag. main.ts wires them to the
// container, file and image services; the builder never sees HTTP.
import type { Readable } from 'node:stream';
import type { ContainerConfig, HostConfig } from '../containers/api-types';
import type { ContainerRoot } from '../containers/rootfs-path';
import type { ImageConfig } from '../images/image-config';
import type { ProgressSink } from '../progress';
import type { Credentials, Platform } from '../../registry/types';

export interface StepContainer {
  /** `scratch`: a container without an image (FROM scratch), an empty root. */
  create(config: ContainerConfig, hostConfig: HostConfig, scratch: boolean): Promise<string>;
  start(id: string): Promise<void>;
  /** Resolves with the exit code of the next exit (registered before start). */
  waitExit(id: string, signal?: AbortSignal): Promise<number>;
  /** Output of the container while it runs, until it exits. */
  attachOutput(id: string, onOutput: (stream: 'stdout' | 'stderr', chunk: Buffer) => void | Promise<void>): Promise<void>;
  kill(id: string): Promise<void>;
  remove(id: string): Promise<void>;
  /** Runs `fn` on the container's root filesystem (read or write), released afterwards. */
  withRoot<T>(id: string, mode: 'read' | 'write', fn: (r: ContainerRoot) => Promise<T>): Promise<T>;
  /** Commits the container as an image with exactly this config and container config. */
  commit(id: string, config: ContainerConfig, containerConfig: ContainerConfig, author: string): Promise<string>;
}

export interface BuildImage {
  id: string;
  config: ImageConfig;
  /** The parent image's ID ('' for none); absent where it does not matter. */
  parent?: string;
}

export interface BuildImages {
  /** By reference or ID; undefined when not stored. */
  find(ref: string): BuildImage | undefined;
  byId(id: string): BuildImage | undefined;
  /** Images whose parent is `id` ('' for images without one). */
  children(id: string): BuildImage[];
  /** Pulls `ref` (for `platform`, the host's when undefined). */
  pull(ref: string, credentials: Credentials, progress: ProgressSink, signal?: AbortSignal, platform?: Platform): Promise<void>;
  tag(imageId: string, ref: string): string;
  setParent(imageId: string, parentId: string): void;
  /**
   * Stores an image restored from a cache-from source: `config` over the parent's layers plus the
   * source's layer `layerIndex` (none when undefined); its ID.
   */
  createCached(config: ImageConfig, parentId: string, layer: { imageId: string; layerIndex: number | undefined }): Promise<string>;
}

export interface BuildDeps {
  containers: StepContainer;
  images: BuildImages;
  /** Where build contexts are unpacked (a private, daemon-owned dir). */
  tmpDir: string;
}

/** The query of POST /build, parsed. */
export interface BuildOptions {
  tags: string[];
  dockerfile: string;
  /** A URL to fetch the context (or the Dockerfile) from instead of the body; '' for the body. */
  remote: string;
  quiet: boolean;
  noCache: boolean;
  remove: boolean;
  forceRemove: boolean;
  pull: boolean;
  target: string;
  buildArgs: Record<string, string | null>;
  labels: Record<string, string>;
  networkMode: string;
  extraHosts: string[];
  hostConfig: HostConfig;
  /** Registry credentials by server (X-Registry-Config). */
  authConfigs: Record<string, Credentials>;
  /** Images whose history may serve as cache (`cachefrom`); missing ones are skipped. */
  cacheFrom: string[];
  /** The `platform` query, parsed; undefined for the host's (no check). */
  platform?: Platform;
  signal?: AbortSignal;
}

/** The build's output: text lines of the stream, and the aux image IDs. */
export interface BuildOutput {
  stream(text: string): void;
  /** While the client lags behind, a promise of it catching up (a RUN's output then waits). */
  backpressure(): Promise<void> | undefined;
  aux(value: unknown): void;
  progress: ProgressSink;
}

export type { Readable };
