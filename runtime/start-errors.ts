// How a failed task/exec start is reported, after moby's daemon/errors.go setExitCodeFromError:
// containerd passes shim and runc failures on as bare text (gRPC UNKNOWN), so the text decides
// between "the command/config is wrong" (400, exit 126/127) and "something broke" (500, exit 128).
// The message is containerd's own, with moby's additions where moby makes them.

import { InvalidParameter, SystemError } from '../lib/errors';

/** The exit code a container or exec gets when it could not be started. */
export type StartExitCode = 126 | 127 | 128;

export interface StartFailure {
  /** What moby stores as the container's (or exec's) exit code. */
  readonly exitCode: StartExitCode;
  /** The runtime's message as containerd passed it on. */
  readonly runtimeMessage: string;
}

/** The command cannot be run as configured (not found, not executable, bad mount): HTTP 400. */
export class InvalidStartConfig extends InvalidParameter implements StartFailure {
  constructor(
    message: string,
    readonly exitCode: StartExitCode,
    readonly runtimeMessage: string,
  ) {
    super(message);
  }
}

/** Any other start failure: HTTP 500. */
export class StartFailed extends SystemError implements StartFailure {
  readonly exitCode = 128 as const;
  constructor(
    message: string,
    readonly runtimeMessage: string,
  ) {
    super(message);
  }
}

export function isStartFailure(err: unknown): err is InvalidStartConfig | StartFailed {
  return err instanceof InvalidStartConfig || err instanceof StartFailed;
}

const INVALID_COMMAND = [
  'executable file not found',
  'no such file or directory',
  'system cannot find the file specified',
  'failed to run runc create/exec call',
];

// Go's texts for EACCES, EISDIR and ENOTDIR, which is what appears in runc's messages.
const EACCES_TEXT = 'permission denied';
const EISDIR_TEXT = 'is a directory';
const ENOTDIR_TEXT = 'not a directory';

/**
 * Classifies a start failure's text (the whole text moby would see, including any prefix).
 * Same order of checks as moby, so e.g. "permission denied" wins over "no such file".
 */
export function classifyStartError(message: string, runtimeMessage = message): InvalidStartConfig | StartFailed {
  const lower = message.toLowerCase();
  if (lower.includes(EACCES_TEXT)) return new InvalidStartConfig(message, 126, runtimeMessage);
  // Go 1.20 reports exec of a directory as EISDIR; the docker CLI picks exit 126 by looking for
  // "permission denied", so moby appends it.
  if (lower.includes(EISDIR_TEXT)) return new InvalidStartConfig(`${message}: ${EACCES_TEXT}`, 126, runtimeMessage);
  if (lower.includes(ENOTDIR_TEXT)) {
    return new InvalidStartConfig(
      `${message}: Are you trying to mount a directory onto a file (or vice-versa)? Check if the specified host path exists and is the expected type`,
      127,
      runtimeMessage,
    );
  }
  if (INVALID_COMMAND.some((s) => lower.includes(s))) return new InvalidStartConfig(message, 127, runtimeMessage);
  return new StartFailed(message, runtimeMessage);
}

/** moby wraps Tasks.Create failures (libcontainerd NewTask) with this prefix. */
export const CREATE_TASK_PREFIX = 'failed to create task for container: ';
