// The shapes the image area answers with (the spec's ImageSummary, ImageInspect, history and
// delete items). Version-dependent trimming is the router's job; these carry everything.
import type { definitions } from '../api-types/gen/engine-api';
import type { ContainerConfig } from './image-config';

export type ImageSummaryView = definitions['ImageSummary'];

export interface ImageInspectView {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  DockerVersion: string;
  Author: string;
  Config: ContainerConfig;
  Architecture: string;
  Variant?: string;
  Os: string;
  OsVersion?: string;
  Size: number;
  GraphDriver: { Name: string; Data: Record<string, string> | null };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime?: string };
}

export interface ImageHistoryView {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

export type ImageDeleteItem = { Untagged: string } | { Deleted: string };

export interface ImagePruneView {
  ImagesDeleted: ImageDeleteItem[];
  SpaceReclaimed: number;
}
