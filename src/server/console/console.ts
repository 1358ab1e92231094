import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import type { Metrics } from '../../core/metrics/metrics.js';
import type { ConsoleHooks } from '../../service/pipeline.js';
import { AdminAuth } from '../admin/auth.js';
import { HttpError, sendJson } from '../admin/json.js';
import { type ConsoleSources, consoleApi, type PipelineProbe } from './api.js';
import { SECURITY_HEADERS, serveAsset } from './assets-route.js';
import { DeadLetterReader } from './dead-letter-reader.js';
import { FilteredChanges } from './filtered-changes.js';
import { LoggedInvocations } from './logged-invocations.js';
import { RecentDeliveries } from './recent-deliveries.js';
import { BUCKET_MS, Throughput, type ThroughputPoint } from './throughput.js';

/** What a pipeline hands its sink and router; each is absent when the console does not keep it. */
/**
 * The event console: the page at `/console`, its read-only API under `/console/api/`, and what it
 * keeps in memory (recent deliveries, throughput, filtered changes). Actions go through the admin API.
 */
export class EventConsole {
  readonly hooks: ConsoleHooks;
  readonly #sources: ConsoleSources;
  readonly #throughput = new Map<string, { series: Throughput; read: () => [number, number] }>();
  /** Starts a series for each trigger that has none yet. */
  readonly #track: (nowMs: number) => void;
  readonly #timer: NodeJS.Timeout;
  readonly #auth: AdminAuth | null;
  readonly #tokenSet: boolean;
  readonly #logger: Logger;

  constructor(options: {
    configs: readonly Readonly<Config>[];
    metrics: Metrics;
    probe(pipeline: string): PipelineProbe | null;
    logger: Logger;
  }) {
    const { configs, metrics, logger } = options;
    const [first] = configs;
    if (first === undefined) throw new Error('the console needs at least one pipeline');
    const { recent, debug_filters } = first.server.console;
    const { host, admin_token } = first.server;
    this.#logger = logger;
    this.#tokenSet = admin_token !== undefined;
    // On a loopback address only local users reach the API, as they reach /status; elsewhere it shows
    // row data and needs the admin token.
    this.#auth = isLoopback(host) ? null : new AdminAuth(admin_token, logger);
    const recentDeliveries = recent > 0 ? new RecentDeliveries(recent) : null;
    const filtered = debug_filters ? new FilteredChanges() : null;
    this.hooks = { recorder: recentDeliveries ?? undefined, onFiltered: filtered?.record };
    this.#track = (now) => {
      // `configs` is the live list: a trigger added by a reload gets its series at the next sample.
      for (const { name } of configs.flatMap((c) => c.triggers)) {
        if (this.#throughput.has(name)) continue;
        const counters = metrics.trigger(name);
        const read = (): [number, number] => [counters.delivered.value, counters.deadLettered.value];
        this.#throughput.set(name, { series: new Throughput(now, ...read()), read });
      }
    };
    this.#track(Date.now());
    this.#timer = setInterval(() => this.#sample(Date.now()), BUCKET_MS);
    this.#timer.unref();
    this.#sources = {
      configs,
      probe: options.probe,
      throughput: (trigger, nowMs) => this.#points(trigger, nowMs),
      recent: recentDeliveries,
      logged: LoggedInvocations.of(configs),
      filtered,
      deadLetters: new DeadLetterReader(configs, logger.child({ stage: 'console' })),
      admin: this.#tokenSet,
    };
  }

  /** A dead-letter store changed through an admin action. */
  deadLettersChanged(): void {
    this.#sources.deadLetters.changed();
  }

  /** Answers a GET or HEAD of `/console`, `/console/assets/*` or `/console/api/*`. */
  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (!path.startsWith('/console/api/')) {
      await serveAsset(res, path);
      return;
    }
    try {
      this.#authorize(req, path);
      const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
      const answer = await consoleApi(this.#sources, path.slice('/console/api'.length), query);
      sendJson(res, answer.status ?? 200, answer.body, SECURITY_HEADERS);
    } catch (err) {
      if (err instanceof HttpError) {
        sendJson(res, err.status, { error: err.message }, { ...SECURITY_HEADERS, ...err.headers });
        return;
      }
      this.#logger.error({ err, path }, 'console request failed');
      sendJson(res, 500, { error: 'internal error; see the walhook log' }, SECURITY_HEADERS);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#sources.deadLetters.close();
    await this.#sources.logged?.close();
  }

  #authorize(req: IncomingMessage, path: string): void {
    if (this.#auth === null) return;
    if (!this.#tokenSet) {
      throw new HttpError(
        401,
        'the console API needs server.admin_token when server.host is not a loopback address',
        { 'www-authenticate': 'Bearer realm="walhook"' },
      );
    }
    this.#auth.check(req, path);
  }

  #sample(nowMs: number): void {
    this.#track(nowMs);
    for (const { series, read } of this.#throughput.values()) series.observe(nowMs, ...read());
  }

  #points(trigger: string, nowMs: number): ThroughputPoint[] {
    const entry = this.#throughput.get(trigger);
    if (entry === undefined) return [];
    // Read now too, so the current bucket is up to date rather than up to 5 s behind.
    entry.series.observe(nowMs, ...entry.read());
    return entry.series.points(nowMs);
  }
}

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and localhost: addresses only this machine reaches. */
export function isLoopback(host: string): boolean {
  const address = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (address === 'localhost') return true;
  if (isIP(address) === 4) return address.startsWith('127.');
  if (isIP(address) === 6)
    return address === '::1' || /^::ffff:127\./.test(address) || address === '0:0:0:0:0:0:0:1';
  return false;
}
