import { Redis } from 'ioredis';
import type { ProbeResult } from '../plugin.js';
import { connectionOptions } from './client.js';
import { endpointText, type RedisTarget } from './target.js';

const PROBE_TIMEOUT_MS = 3_000;

/**
 * Whether a Redis sink's server (or the master its sentinels name) takes a connection and is a master,
 * and with `wait`, whether it has the replicas WAIT will count. Writes nothing. Bounded by `timeoutMs`.
 */
export async function probeRedis(
  target: Pick<RedisTarget, 'endpoint' | 'wait'>,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<ProbeResult> {
  const where = `Redis ${endpointText(target.endpoint)}`;
  const client = new Redis(
    connectionOptions(target.endpoint, {
      connectionName: 'walhook-probe',
      connectTimeout: timeoutMs,
      lazyConnect: true,
      retryStrategy: () => null,
      sentinelRetryStrategy: () => null,
      reconnectOnError: () => false,
    }),
  );
  client.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([client.connect(), late]);
  } catch (err) {
    clearTimeout(timer);
    client.disconnect();
    return {
      level: 'warn',
      message: `${where} not reachable: ${(err as Error).message}`,
      fix: 'start Redis or correct sink.url (or sink.sentinels); until it answers, walhook retries each XADD',
    };
  }
  try {
    const [role] = (await Promise.race([client.call('ROLE'), late])) as [string];
    if (role !== 'master') {
      return {
        level: 'warn',
        message: `${where} is a ${role === 'slave' ? 'replica' : role}: it refuses every XADD (READONLY)`,
        fix: 'point sink.url at the primary, or use sink.sentinels to follow failovers; until then every XADD is retried',
      };
    }
    if (target.wait === null) return { level: 'ok', message: `${where} reachable, a master` };
    const info = await Promise.race([client.info('replication'), late]);
    const replicas = Number(/^connected_slaves:(\d+)/m.exec(info)?.[1] ?? 0);
    if (replicas < target.wait.replicas) {
      return {
        level: 'warn',
        message: `${where} has ${replicas} connected replicas, sink.wait.replicas is ${target.wait.replicas}`,
        fix: 'attach replicas or lower sink.wait.replicas; until enough acknowledge, every XADD is retried',
      };
    }
    return { level: 'ok', message: `${where} reachable, a master with ${replicas} connected replicas` };
  } catch (err) {
    return { level: 'warn', message: `${where} did not answer: ${(err as Error).message}` };
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}
