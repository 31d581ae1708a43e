// The task's status on its node, as swarmkit's agent moves it (agent/exec/controller.go `Do`,
// dockerd's container controller for the errors): one step per call, from the task's current
// status and desired state, through a controller that prepares (creates the container), starts
// (and waits for healthy when the container has a healthcheck), waits for the exit, shuts down.
// assigned → accepted → preparing → ready → starting → running → complete; an error before
// starting rejects the task, from starting on it fails; desired shutdown shuts it down.
import type { definitions } from '../../api-types/gen/engine-api';
import { stateRank, type TaskState } from '../task-states';

export { stateRank, type TaskState };
export type TaskStatus = definitions['TaskStatus'];
export type ContainerStatus = definitions['ContainerStatus'];

export function isTerminal(s: TaskState | undefined): boolean {
  return stateRank(s) >= stateRank('complete');
}

/** What the agent's runner does for a task; each call may take as long as the step takes. */
export interface TaskController {
  /** Pulls if it can and creates the container; an existing container of the task counts as prepared. */
  prepare(): Promise<void>;
  /** Starts the container; with a healthcheck, resolves once healthy (see startHealthOutcome). */
  start(): Promise<void>;
  /** Resolves when the container exits 0; throws TaskExitError for any other exit. */
  wait(): Promise<void>;
  /** Stops the container (with the spec's stop grace period). */
  shutdown(): Promise<void>;
  /** The container's ID, PID and exit code, if there is a container. */
  containerStatus(): Promise<ContainerStatus | undefined>;
}

/** A non-zero exit, with dockerd's text: `task: non-zero exit (1)[: cause]`. */
export class TaskExitError extends Error {
  constructor(
    readonly exitCode: number,
    readonly reason?: string,
  ) {
    super(reason ? `task: non-zero exit (${exitCode}): ${reason}` : `task: non-zero exit (${exitCode})`);
  }
}

/** An error the runner retries (the step is tried again; Err shows it meanwhile). */
export class TemporaryTaskError extends Error {}

/** dockerd's executor errors (daemon/cluster/executor/container/errors.go). */
export const ERR_CONTAINER_UNHEALTHY = 'dockerexec: unhealthy container';
export const ERR_CONTAINER_DESTROYED = 'dockerexec: container destroyed';

export type StepOutcome = 'transition' | 'noop' | 'retry';

export interface StepResult {
  status: TaskStatus;
  outcome: StepOutcome;
}

export interface TaskView {
  Status?: TaskStatus;
  DesiredState?: TaskState;
}

function sameStable(a: TaskStatus, b: TaskStatus): boolean {
  const strip = (s: TaskStatus): string => JSON.stringify({ ...s, Timestamp: undefined });
  return strip(a) === strip(b);
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * One step of the task, as swarmkit's exec.Do. The answered status carries a new Timestamp
 * (from `now`) when anything but the timestamp changed, and from `starting` on the container's
 * status (exit code from a TaskExitError when the container no longer tells).
 */
export async function stepTask(task: TaskView, ctlr: TaskController, now: () => Date): Promise<StepResult> {
  const before: TaskStatus = { ...(task.Status ?? {}), State: task.Status?.State ?? 'new' };
  const status: TaskStatus = { ...before };
  let exitCode = 0;
  let outcome: StepOutcome = 'noop';
  const cur = stateRank(status.State);
  const desired = stateRank(task.DesiredState);

  const transition = (state: TaskState, msg: string): void => {
    status.State = state;
    status.Message = msg;
    outcome = 'transition';
  };
  const fatal = (err: unknown): void => {
    if (err instanceof TaskExitError) exitCode = err.exitCode;
    status.Err = errText(err);
    if (err instanceof TemporaryTaskError) {
      outcome = 'retry';
      return;
    }
    status.State = cur < stateRank('starting') ? 'rejected' : 'failed';
    outcome = 'transition';
  };
  const run = async (step: () => Promise<void>, next: TaskState, msg: string): Promise<void> => {
    try {
      await step();
    } catch (err) {
      fatal(err);
      return;
    }
    transition(next, msg);
  };

  if (task.DesiredState === 'shutdown') {
    if (cur < stateRank('complete')) await run(() => ctlr.shutdown(), 'shutdown', 'shutdown');
  } else if (cur > desired) {
    // way beyond the desired state: pause
  } else if (status.State === 'preparing') {
    await run(() => ctlr.prepare(), 'ready', 'prepared');
  } else if (status.State === 'starting') {
    await run(() => ctlr.start(), 'running', 'started');
  } else if (status.State === 'running') {
    await run(() => ctlr.wait(), 'complete', 'finished');
  } else if (cur < desired) {
    if (cur <= stateRank('assigned')) transition('accepted', 'accepted');
    else if (status.State === 'accepted') transition('preparing', 'preparing');
    else if (status.State === 'ready') transition('starting', 'starting');
  }

  // A step that did nothing answers the status as it was (swarmkit refreshes the container
  // status even then; the agent re-reads it when it reports).
  if (outcome === 'noop') return { status: before, outcome };
  if (stateRank(status.State) >= stateRank('starting')) {
    const cs: ContainerStatus = { ...((await ctlr.containerStatus()) ?? before.ContainerStatus ?? {}) };
    if (exitCode !== 0) cs.ExitCode = exitCode;
    status.ContainerStatus = cs;
  }
  if (!sameStable(status, before) || status.Timestamp === undefined) status.Timestamp = now().toISOString();
  return { status, outcome };
}

/**
 * A task the agent cannot even turn into a container (template, mount or secret errors):
 * rejected with the error, as swarmkit's worker does when the executor refuses the task.
 */
export function rejectedStatus(current: TaskStatus | undefined, err: unknown, now: () => Date): TaskStatus {
  return { ...(current ?? {}), State: 'rejected', Err: errText(err), Timestamp: now().toISOString() };
}

/** The container's exit, as the controller's wait reports it (the unhealthy cause first). */
export function exitOutcome(exit: { exitCode: number; error?: string; unhealthy?: boolean }): TaskExitError | null {
  if (exit.exitCode === 0) return null;
  if (exit.unhealthy) return new TaskExitError(exit.exitCode, ERR_CONTAINER_UNHEALTHY);
  return new TaskExitError(exit.exitCode, exit.error || undefined);
}

/** A container event seen while start waits for health (dockerd's controller.Start). */
export type StartEvent =
  | { action: 'die'; exitCode: number }
  | { action: 'destroy' }
  | { action: 'health_status: healthy' }
  | { action: 'health_status: unhealthy' };

/**
 * What start does with an event: `done` (healthy, or a clean exit), `error` (a non-zero exit,
 * with the unhealthy cause if the container was stopped for it, or the container destroyed),
 * `shutdown` (unhealthy: stop the container and keep waiting for its die), `continue`.
 */
export function startHealthOutcome(
  ev: StartEvent,
  sawUnhealthy: boolean,
): { kind: 'done' } | { kind: 'error'; error: Error } | { kind: 'shutdown' } | { kind: 'continue' } {
  switch (ev.action) {
    case 'die':
      if (ev.exitCode !== 0)
        return { kind: 'error', error: new TaskExitError(ev.exitCode, sawUnhealthy ? ERR_CONTAINER_UNHEALTHY : undefined) };
      return { kind: 'done' };
    case 'destroy':
      return { kind: 'error', error: new Error(ERR_CONTAINER_DESTROYED) };
    case 'health_status: unhealthy':
      return { kind: 'shutdown' };
    case 'health_status: healthy':
      return { kind: 'done' };
  }
}
