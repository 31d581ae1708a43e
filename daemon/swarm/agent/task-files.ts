// A task's secrets and configs as files: dockerd writes each one (named by its object ID, never
// by a client-chosen name) into a per-container directory and bind-mounts it read-only at its
// target: a secret at /run/secrets/<name> (or its absolute name), a config at /<name> (or its
// absolute name). Berth keeps the files in a per-task directory under the exec root (a tmpfs on
// usual hosts, as dockerd's secrets tmpfs: secret data never reaches the data root's disk) and
// hands the bind mounts to the container create request (task-container.ts).
import { constants as fsc } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { InvalidParameter } from '../../../lib/errors';

export const SECRETS_DIR_IN_CONTAINER = '/run/secrets';
export const CONFIGS_DIR_IN_CONTAINER = '/';

/** A secret's or config's reference in a ContainerSpec (both have the same File). */
export interface FileTarget {
  Name?: string;
  UID?: string;
  GID?: string;
  Mode?: number;
}

export interface TaskFileInput {
  kind: 'secret' | 'config';
  /** The object's ID (the host file's name). */
  id: string;
  /** The object's name, for error texts. */
  name: string;
  file: FileTarget;
  /** Decrypted payload. */
  data: Buffer;
}

export interface TaskFileMount {
  kind: 'secret' | 'config';
  id: string;
  /** The host file. */
  source: string;
  /** The path inside the container. */
  target: string;
}

const OBJECT_ID = /^[A-Za-z0-9]{1,64}$/;

/** The path inside the container, as moby's getSecretTargetPath / getConfigTargetPath. */
export function fileTargetPath(kind: 'secret' | 'config', name: string): string {
  if (name.startsWith('/')) return path.posix.normalize(name);
  const base = kind === 'secret' ? SECRETS_DIR_IN_CONTAINER : CONFIGS_DIR_IN_CONTAINER;
  return path.posix.join(base, name);
}

function checkTarget(kind: 'secret' | 'config', ref: { name: string; file: FileTarget }): string {
  const fileName = ref.file.Name ?? '';
  if (fileName === '') throw new InvalidParameter(`malformed file ${kind} reference, invalid target file name provided`);
  if (fileName.includes('\0')) throw new InvalidParameter(`invalid ${kind} target: ${JSON.stringify(fileName)}`);
  // A relative name stays inside its directory: "../etc/shadow" is not /etc/shadow by accident.
  if (!fileName.startsWith('/') && fileName.split('/').includes('..')) {
    throw new InvalidParameter(
      `invalid ${kind} target "${fileName}": a relative target cannot leave ${kind === 'secret' ? SECRETS_DIR_IN_CONTAINER : 'the root'}`,
    );
  }
  const target = fileTargetPath(kind, fileName);
  if (target === '/' || (kind === 'secret' && target === SECRETS_DIR_IN_CONTAINER)) {
    throw new InvalidParameter(`invalid ${kind} target "${fileName}"`);
  }
  return target;
}

/**
 * The references' checks of swarmkit's controlapi (texts included): an ID and a name, a file
 * target, no two references of a kind on one target; plus the target rule above.
 */
export function validateFileRefs(kind: 'secret' | 'config', refs: { id?: string; name?: string; file?: FileTarget }[]): void {
  const seen = new Map<string, string>();
  for (const r of refs) {
    if (!r.id || !r.name) throw new InvalidParameter(`malformed ${kind} reference`);
    if (!r.file) throw new InvalidParameter(`malformed ${kind} reference, no target provided`);
    checkTarget(kind, { name: r.name, file: r.file });
    const fileName = r.file.Name ?? '';
    const prev = seen.get(fileName);
    if (prev !== undefined) {
      throw new InvalidParameter(`${kind} references '${prev}' and '${r.name}' have a conflicting target: '${fileName}'`);
    }
    seen.set(fileName, r.name);
  }
}

function parseId(v: string | undefined, what: string): number {
  if (v === undefined || v === '') return 0;
  if (!/^[0-9]{1,10}$/.test(v) || Number(v) > 0xffffffff) throw new InvalidParameter(`invalid ${what} "${v}"`);
  return Number(v);
}

/** <root>/<taskID>: the task's directory (root is the agent's, e.g. <exec-root>/swarm/tasks). */
export function taskFilesDir(root: string, taskId: string): string {
  if (!OBJECT_ID.test(taskId)) throw new InvalidParameter(`invalid task ID "${taskId}"`);
  return path.join(root, taskId);
}

/**
 * Writes each file (created exclusively, never through a symlink, owned by File.UID/GID, with
 * File.Mode's permission bits, default 0444) and answers the read-only bind mounts. A failure
 * removes what was written.
 */
export async function writeTaskFiles(root: string, taskId: string, files: TaskFileInput[]): Promise<TaskFileMount[]> {
  const dir = taskFilesDir(root, taskId);
  for (const kind of ['secret', 'config'] as const) {
    validateFileRefs(
      kind,
      files.filter((f) => f.kind === kind).map((f) => ({ id: f.id, name: f.name, file: f.file })),
    );
  }
  const mounts: TaskFileMount[] = [];
  const uses = new Map<string, number>();
  await fs.mkdir(root, { recursive: true, mode: 0o700 });
  try {
    await fs.mkdir(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // A leftover of an earlier attempt of this task: start over.
    await fs.rm(dir, { recursive: true, force: true });
    await fs.mkdir(dir, { mode: 0o700 });
  }
  try {
    for (const f of files) {
      if (!OBJECT_ID.test(f.id)) throw new InvalidParameter(`invalid ${f.kind} ID "${f.id}"`);
      const target = checkTarget(f.kind, f);
      const uid = parseId(f.file.UID, 'uid');
      const gid = parseId(f.file.GID, 'gid');
      const mode = (f.file.Mode ?? 0o444) & 0o7777;
      const sub = path.join(dir, f.kind === 'secret' ? 'secrets' : 'configs');
      await fs.mkdir(sub, { recursive: true, mode: 0o700 });
      // One object may be referenced at two targets: one file per reference.
      const n = uses.get(`${f.kind}/${f.id}`) ?? 0;
      uses.set(`${f.kind}/${f.id}`, n + 1);
      const source = path.join(sub, n === 0 ? f.id : `${f.id}.${n}`);
      const fh = await fs.open(source, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
      try {
        await fh.writeFile(f.data);
        await fh.chown(uid, gid);
        await fh.chmod(mode);
      } finally {
        await fh.close();
      }
      mounts.push({ kind: f.kind, id: f.id, source, target });
    }
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
  return mounts;
}

/** Removes the task's files (on task removal); absent is fine. */
export async function removeTaskFiles(root: string, taskId: string): Promise<void> {
  await fs.rm(taskFilesDir(root, taskId), { recursive: true, force: true });
}

/** A ContainerSpec's secret or config reference (the two shapes share these fields). */
export interface SpecFileRef {
  File?: FileTarget;
  SecretID?: string;
  SecretName?: string;
  ConfigID?: string;
  ConfigName?: string;
}

/**
 * The files of a task's ContainerSpec, with each payload from `payload` (the agent opens the
 * sealed data with the cluster key). A reference without a file target (a config used as a
 * Windows credential spec: `Runtime`) is skipped, as dockerd skips it; a missing object is
 * dockerd's "unable to get secret from secret store: secret <id> not found".
 */
export function taskFileInputs(
  spec: { Secrets?: SpecFileRef[]; Configs?: SpecFileRef[] },
  payload: (kind: 'secret' | 'config', id: string) => Buffer | undefined,
): TaskFileInput[] {
  const out: TaskFileInput[] = [];
  for (const [kind, refs] of [
    ['secret', spec.Secrets ?? []],
    ['config', spec.Configs ?? []],
  ] as const) {
    for (const r of refs) {
      if (!r.File) continue;
      const id = (kind === 'secret' ? r.SecretID : r.ConfigID) ?? '';
      const name = (kind === 'secret' ? r.SecretName : r.ConfigName) ?? '';
      const data = payload(kind, id);
      if (!data) throw new InvalidParameter(`unable to get ${kind} from ${kind} store: ${kind} ${id} not found`);
      out.push({ kind, id, name, file: r.File, data });
    }
  }
  return out;
}
