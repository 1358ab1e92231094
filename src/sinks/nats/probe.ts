import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { ProbeResult } from '../plugin.js';
import type { NatsTarget } from './target.js';

const PROBE_TIMEOUT_MS = 3_000;

/**
 * Whether a NATS sink's servers take a connection and JetStream answers on it, and when the trigger
 * names a `stream`, whether that stream exists. Publishes nothing. Bounded by `timeoutMs` as a whole.
 */
export async function probeNats(
  target: Pick<NatsTarget, 'servers' | 'stream'>,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<ProbeResult> {
  const where = `NATS ${target.servers.join(', ')}`;
  const deadline = Date.now() + timeoutMs;
  const within = <T>(work: Promise<T>): Promise<T> => beforeDeadline(work, deadline, timeoutMs);
  const opening = connect({
    servers: [...target.servers],
    name: 'walhook-probe',
    timeout: timeoutMs,
    reconnect: false,
  });
  let nc: NatsConnection;
  try {
    nc = await within(opening);
  } catch (err) {
    // A connection that opens after the deadline must not stay open.
    opening.then((late) => late.close()).catch(() => {});
    return {
      level: 'warn',
      message: `${where} not reachable: ${(err as Error).message}`,
      fix: 'start the NATS servers or correct sink.servers; until they answer, walhook retries each publish',
    };
  }
  try {
    const jsm = await within(jetstreamManager(nc, { timeout: remaining(deadline) }));
    if (target.stream === null) return { level: 'ok', message: `${where} reachable, JetStream answers` };
    await within(jsm.streams.info(target.stream));
    return { level: 'ok', message: `${where} reachable, stream ${target.stream} exists` };
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) {
      return {
        level: 'warn',
        message: `${where}: stream ${target.stream} not found`,
        fix: "create it with subjects that capture the trigger's sink.subject, or correct sink.stream; until then every publish is refused and retried",
      };
    }
    return {
      level: 'warn',
      message: `${where}: JetStream did not answer: ${(err as Error).message}`,
      fix: 'enable JetStream on the servers (nats-server -js); until then every publish is retried',
    };
  } finally {
    await nc.close().catch(() => {});
  }
}

function remaining(deadline: number): number {
  return Math.max(1, deadline - Date.now());
}

/** `work`, or a rejection once `deadline` passed: a server list is tried one server after another. */
function beforeDeadline<T>(work: Promise<T>, deadline: number, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), remaining(deadline));
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
