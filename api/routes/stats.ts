// GET /containers/{id}/stats: one JSON sample per line, each second (stream=true, the default),
// or a single sample (stream=false, with one-shot=true from API 1.41), as dockerd's
// getContainersStats serves them. Collection and sample shaping live in daemon/containers/stats.ts.

import type { FastifyReply, FastifyRequest } from 'fastify';
import type * as http from 'node:http';
import type { ContainerStatsResponse, StatsOptions, StatsSink } from '../../daemon/containers/stats';
import { boolValueOrDefault, queryOf } from '../query';
import { versionLessThan } from '../version';
import type { Operations } from './operations';

export interface StatsBackend {
  /** Delivers samples to `sink`; returns the function that stops delivery. Throws NotFound. */
  open(input: string, opts: StatsOptions, sink: StatsSink): () => void;
}

/** A client not reading gets no further samples while this much output waits for it. */
const MAX_PENDING_BYTES = 1024 * 1024;

/** JSON text of a sample; bigints (uint64 counters beyond 2^53) are written as exact integers. */
export function encodeStatsJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(encodeStatsJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined);
  return `{${keys.map((k) => `${JSON.stringify(k)}:${encodeStatsJson(obj[k])}`).join(',')}}`;
}

/** Go marshals a map with its keys sorted; the memory stats map is one. */
function sortedStats(s: ContainerStatsResponse): ContainerStatsResponse {
  const stats = s.memory_stats.stats;
  if (!stats) return s;
  const sorted = Object.fromEntries(
    Object.keys(stats)
      .sort()
      .map((k) => [k, stats[k]]),
  );
  return { ...s, memory_stats: { ...s.memory_stats, stats: sorted } };
}

/**
 * Status and headers go out before the first sample. dockerd names the type only for a single
 * sample (application/json); its stream carries no Content-Type.
 */
function startResponse(reply: FastifyReply, contentType: string | undefined): http.ServerResponse {
  reply.hijack();
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined && !/^content-type$/i.test(name)) headers[name] = value;
  }
  if (contentType) headers['Content-Type'] = contentType;
  const res = reply.raw;
  res.writeHead(200, headers);
  res.flushHeaders();
  return res;
}

async function containerStats(backend: StatsBackend, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const q = queryOf(request);
  const { id } = request.params as { id: string };
  const stream = boolValueOrDefault(q, 'stream', true);
  const oneShot = versionLessThan(request.apiVersion, '1.41') ? false : boolValueOrDefault(q, 'one-shot', false);
  const opts: StatsOptions = { stream, oneShot, withOsType: !versionLessThan(request.apiVersion, '1.48') };

  let res: http.ServerResponse | undefined;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  let ended = false;
  const sink: StatsSink = {
    sample: (s) => {
      res ??= startResponse(reply, stream ? undefined : 'application/json');
      if (res.destroyed || res.writableEnded) return;
      if (stream && res.writableLength > MAX_PENDING_BYTES) return;
      res.write(`${encodeStatsJson(sortedStats(s))}\n`);
    },
    end: () => {
      if (ended) return;
      ended = true;
      res ??= startResponse(reply, stream ? undefined : 'application/json');
      res.end();
      resolveDone();
    },
  };
  // Unknown container or bad options throw here, before any byte is sent: a proper error status.
  const stop = backend.open(id, opts, sink);
  if (ended) return;
  // A stream answers at once (headers now), as dockerd flushes before the first sample.
  if (stream) res ??= startResponse(reply, undefined);
  const raw = reply.raw;
  const onClose = (): void => {
    stop();
    resolveDone();
  };
  raw.once('close', onClose);
  if (raw.destroyed) onClose();
  await done;
  raw.off('close', onClose);
}

export function statsOperations(backend: StatsBackend): Operations {
  return {
    ContainerStats: (request, reply) => containerStats(backend, request, reply),
  };
}
