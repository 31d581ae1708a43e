// What an image archive holds once read (archive-read.ts and its layouts, archive-legacy.ts).

export interface ArchiveLayer {
  /** Temp file holding the blob as stored in the archive; absent when it went into the blob store. */
  path?: string;
  /** sha256 of the stored bytes. */
  digest: string;
  size: number;
  /** The media type to store the blob under. */
  mediaType: string;
  /** sha256 of the uncompressed tar. */
  diffId: string;
  uncompressedSize: number;
}

export interface ArchiveImage {
  config: Buffer;
  configDigest: string;
  layers: ArchiveLayer[];
  /** Names as written in the archive, not normalised (familiar or full, as the producer wrote). */
  repoTags: string[];
}
