// What a node keeps of swarm mode in its data root (`<data-root>/swarm/`, 0700): its node ID
// (kept across leave and join, as dockerd keeps its node identity until the state is wiped: a
// fresh ID is made on each join here, see `newNodeId`) and, while it is in a cluster, the
// cluster's ID, the cluster key (0600) and the addresses it joined with.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Membership {
  clusterId: string;
  nodeId: string;
  /** base64 of the 256-bit cluster key. */
  clusterKey: string;
  advertiseAddr: string;
  listenAddr: string;
}

/** swarmkit's identity.NewID: 128 random bits in base36, 25 characters. */
export function newObjectId(): string {
  return BigInt(`0x${crypto.randomBytes(16).toString('hex')}`)
    .toString(36)
    .padStart(25, '0');
}

export class LocalSwarmState {
  private readonly dir: string;
  private readonly file: string;

  constructor(dataRoot: string) {
    this.dir = path.join(dataRoot, 'swarm');
    this.file = path.join(this.dir, 'state.json');
  }

  read(): Membership | null {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const v = JSON.parse(text) as Partial<Membership>;
    if (typeof v.clusterId !== 'string' || typeof v.nodeId !== 'string' || typeof v.clusterKey !== 'string') return null;
    return {
      clusterId: v.clusterId,
      nodeId: v.nodeId,
      clusterKey: v.clusterKey,
      advertiseAddr: v.advertiseAddr ?? '',
      listenAddr: v.listenAddr ?? '',
    };
  }

  write(m: Membership): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(m), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }

  clear(): void {
    fs.rmSync(this.file, { force: true });
  }
}
