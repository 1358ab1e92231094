import pino, { type Logger } from 'pino';

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** JSON lines on stdout; `LOG_LEVEL` picks the level (info by default). */
export function createLogger(env: NodeJS.ProcessEnv = process.env): Logger {
  const requested = env.LOG_LEVEL?.toLowerCase();
  const level = requested && LEVELS.has(requested) ? requested : 'info';
  const logger = pino({
    level,
    base: { service: 'walhook', pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
  if (requested && !LEVELS.has(requested)) {
    logger.warn({ LOG_LEVEL: env.LOG_LEVEL }, 'unknown LOG_LEVEL; using info');
  }
  return logger;
}
