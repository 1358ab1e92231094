import type { Logger } from 'pino';

export interface HeartbeatOptions {
  query(sql: string, params?: unknown[]): Promise<unknown>;
  everySec: number;
  /** Beats only while this holds: a message nobody reads is WAL for nothing. */
  active(): boolean;
  logger: Logger;
  onError(err: unknown): void;
}

/**
 * Emits a transactional logical message in the source database every period (acknowledgement rule 7 in
 * docs/architecture.md). pgoutput sends it (the stream asks for `messages`) as a small transaction of
 * its own, which the tracker settles at its commit and confirms: the slot then follows the server's WAL
 * even when the published tables are quiet and only other databases write. Returns a function that
 * stops it.
 */
export function startHeartbeat(options: HeartbeatOptions): () => void {
  const { logger } = options;
  let running = false;
  let failing = false;
  const beat = async () => {
    if (running || !options.active()) return;
    running = true;
    try {
      await options.query(`SELECT pg_logical_emit_message(true, 'walhook', $1)`, [new Date().toISOString()]);
      if (failing) logger.info('heartbeat messages are written again');
      failing = false;
      logger.debug('heartbeat');
    } catch (err) {
      const code = (err as { code?: string }).code;
      // A provider may withhold the function from ordinary roles: that will not change while we run.
      if (code === '42501' || code === '42883') {
        clearInterval(timer);
        logger.warn(
          { err: (err as Error).message },
          'heartbeats are off: the role may not call pg_logical_emit_message; the slot advances only with changes to the published tables',
        );
        return;
      }
      options.onError(err);
      // One warning per run of failures; a database that is down is already reported elsewhere.
      if (!failing) logger.warn({ err }, 'cannot write a heartbeat message; retrying every period');
      failing = true;
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void beat(), options.everySec * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
