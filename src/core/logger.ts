import { createRequire } from 'node:module';
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { uniqueCallFields, uniqueChildBindings } from './log-keys.js';
import { RepeatLimiter } from './rate-limit.js';
import { redactError, redactKeys, redactText } from './redact.js';

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
const FORMATS = new Set(['json', 'pretty']);
const ERROR_LEVEL = 50;
/** The same error (code or message, trigger, table) is written at error level at most once per this. */
const ERROR_REPEAT_INTERVAL_MS = 60_000;

export interface LoggerOverrides {
  /** Where lines go instead of stdout. */
  destination?: DestinationStream;
  /** The clock of the error rate limit. */
  now?: () => number;
}

/**
 * JSON lines on stdout, or human-readable lines with `LOG_FORMAT=pretty`; `LOG_LEVEL` picks the level
 * (info by default). Every line is redacted, and repeated errors are rate-limited (see docs/logs.md).
 */
export function createLogger(env: NodeJS.ProcessEnv = process.env, overrides: LoggerOverrides = {}): Logger {
  const requestedLevel = env.LOG_LEVEL?.toLowerCase();
  const level = requestedLevel && LEVELS.has(requestedLevel) ? requestedLevel : 'info';
  const requestedFormat = env.LOG_FORMAT?.toLowerCase();
  const pretty = requestedFormat === 'pretty';
  const options: LoggerOptions = {
    level,
    base: { service: 'walhook', pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: redactError },
    formatters: {
      level: (label) => ({ level: label }),
      log: (object) => redactKeys(object),
    },
    onChild: uniqueChildBindings,
    hooks: {
      logMethod: uniqueCallFields(
        limitRepeatedErrors(new RepeatLimiter(ERROR_REPEAT_INTERVAL_MS, overrides.now)),
      ),
      // The last line of defence: a password inside a message, a child's bindings or a stack trace.
      streamWrite: redactText,
    },
  };
  const logger = pino(options, pretty ? prettyStream(overrides.destination) : overrides.destination);
  if (requestedLevel && !LEVELS.has(requestedLevel)) {
    logger.warn({ LOG_LEVEL: env.LOG_LEVEL }, 'unknown LOG_LEVEL; using info');
  }
  if (requestedFormat && !FORMATS.has(requestedFormat)) {
    logger.warn({ LOG_FORMAT: env.LOG_FORMAT }, 'unknown LOG_FORMAT; using json');
  }
  return logger;
}

/**
 * pino-pretty as a synchronous stream rather than a worker transport: the CLI exits right after its
 * last line, which a transport's thread could still be holding. Loaded only when asked for.
 */
function prettyStream(destination: DestinationStream | undefined): DestinationStream {
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
  return pretty({
    destination: destination ?? 1,
    sync: true,
    colorize: destination === undefined ? process.stdout.isTTY : false,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    ignore: 'pid,hostname,service',
  });
}

type LogMethodHook = NonNullable<NonNullable<LoggerOptions['hooks']>['logMethod']>;

/**
 * Error level means "an operator must act", so a fault that repeats for every event (a receiver
 * refusing credentials, a dead-letter flood, a database down) writes one error line per key and
 * interval. The repeats are still written, at warn with `rate_limited: true`, so no event's line is
 * lost; the next error line of the key counts them in `suppressed`. The key is the line's `code`
 * (its message when it has none), `trigger` and `table`: one trigger's failures say nothing about
 * another's, nor one table leaving the publication about the next.
 */
function limitRepeatedErrors(limiter: RepeatLimiter): LogMethodHook {
  return function (this: Logger, args, method, level) {
    if (level !== ERROR_LEVEL) return method.apply(this, args);
    const [first, ...rest] = args as unknown[];
    const hasFields = typeof first === 'object' && first !== null;
    let fields: Record<string, unknown> = {};
    if (first instanceof Error) fields = { err: first };
    else if (hasFields) fields = first as Record<string, unknown>;
    const messageArgs = hasFields ? rest : args;
    // pino takes the message from the error when none is given; so does the key.
    const message = messageArgs[0] ?? (fields.err as Error | undefined)?.message;
    const suppressed = limiter.take(
      `${fields.code ?? message}\u0000${fields.trigger ?? ''}\u0000${fields.table ?? ''}`,
    );
    if (suppressed === null) {
      this.warn({ ...fields, rate_limited: true }, ...(messageArgs as [string]));
    } else if (suppressed > 0) {
      method.apply(this, [{ ...fields, suppressed }, ...messageArgs] as Parameters<typeof method>);
    } else {
      method.apply(this, args);
    }
  };
}
