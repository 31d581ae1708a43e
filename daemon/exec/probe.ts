// Healthcheck probes as moby's cmdProbe runs them: an exec in the container's task with the
// container's environment, user and working directory, no TTY, no stdin, not privileged, its
// exec_create/exec_start/exec_die events and its ID in the container's ExecIDs while it runs,
// as dockerd does. Its output is kept only up to the health log's cap while the pipes are read to
// the end, so a probe that floods its output costs no memory; once it has exited the record is
// dropped (dockerd keeps exec records for minutes; probes would pile them up).
import type { Container } from '../containers/model';
import { ProbeOutput, type ProbeProcess, type ProbeRunner } from '../containers/health';
import { withDefaultEnv } from '../containers/spec-factory';
import { isStartFailure } from '../../runtime/start-errors';
import { newExecRecord, type ExecService } from './service';

const SIGKILL = 9;

export class ExecProbeRunner implements ProbeRunner {
  constructor(private readonly svc: ExecService) {}

  async start(c: Container, cmd: string[]): Promise<ProbeProcess> {
    const { svc } = this;
    const rec = newExecRecord(c, {
      cmd,
      env: withDefaultEnv({ ...c.record.config, Tty: false }),
      user: c.record.config.User ?? '',
      workingDir: c.record.config.WorkingDir ?? '',
      privileged: false,
      tty: false,
      openStdin: false,
      openStdout: true,
      openStderr: true,
      detachKeys: Buffer.alloc(0),
    });
    svc.addRecord(rec);
    svc.publish(c, `exec_create: ${svc.commandLine(rec)}`, { execID: rec.id });
    rec.started = true;
    rec.running = true;
    svc.publish(c, `exec_start: ${svc.commandLine(rec)}`, { execID: rec.id });
    let started;
    try {
      started = await svc.launch(rec, c);
    } catch (err) {
      rec.running = false;
      rec.exitCode = isStartFailure(err) ? err.exitCode : 126;
      rec.markReady(false);
      svc.dropRecord(rec);
      throw err;
    }
    rec.pid = started.pid;
    rec.markReady(true);
    const { io } = started;
    const output = new ProbeOutput();
    const take = (chunk: Buffer): void => output.write(chunk);
    io.stdout.on('data', take);
    io.stderr?.on('data', take);
    io.stdout.on('error', () => undefined);
    io.stderr?.on('error', () => undefined);

    const exited = (async (): Promise<number> => {
      let code: number;
      try {
        code = (await svc.runtime.waitTaskAndIO(rec.containerId, io, { execId: rec.id })).exitStatus;
      } catch (err) {
        // The task went away under the probe (its container died): it died with it.
        svc.logger.debug({ err, exec: rec.id }, 'probe wait ended without an exit status');
        code = 137;
      }
      rec.exitCode = code;
      rec.running = false;
      await svc.runtime
        .deleteProcess(rec.containerId, rec.id)
        .catch((err: unknown) => svc.logger.debug({ err, exec: rec.id }, 'could not delete probe process'));
      await io.close().catch(() => undefined);
      svc.publish(c, 'exec_die', { execID: rec.id, exitCode: String(code) });
      svc.dropRecord(rec);
      return code;
    })().catch((err: unknown) => {
      svc.logger.warn({ err, exec: rec.id }, 'probe cleanup failed');
      svc.dropRecord(rec);
      return -1;
    });

    return {
      exited,
      output: () => output.toString(),
      kill: () => {
        if (!rec.running) return;
        svc.runtime
          .kill(rec.containerId, SIGKILL, { execId: rec.id })
          .catch((err: unknown) => svc.logger.debug({ err, exec: rec.id }, 'could not kill probe'));
      },
    };
  }
}
