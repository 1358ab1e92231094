import type { Config } from '../config/schema.js';
import type { AttemptErrorType, DeliveryTarget } from '../core/delivery-event.js';
import { inBatchEnvelope, lastErrorText } from '../dead-letters/letter.js';
import { type RecorderOf, type RedeliveryResult, redeliverLetters } from '../dead-letters/redeliver.js';
import type { DeadLetter } from '../dead-letters/store.js';
import type { StoreScope } from '../dead-letters/store-scope.js';
import { InvocationLogReader, type LoggedDelivery } from '../invocation-log/reader.js';
import { sinkTarget } from '../sinks/registry.js';

/** What became of a redelivery, and whether the event was a dead letter or taken from the log. */
export interface EventRedelivery extends RedeliveryResult {
  from: 'dead_letter' | 'invocation_log';
}

/** Neither a dead letter nor a logged event has the id. */
export class EventNotFound extends Error {}

/** The event is known but cannot be sent again: its trigger is gone, or its body was not kept. */
export class RedeliveryRefused extends Error {}

/**
 * Runs `work` on the dead-letter stores of `selected` pipelines: the admin routes' way, one action at
 * a time, so that two redeliveries never send one letter twice.
 */
export type OnStores = <T>(
  selected: readonly Readonly<Config>[],
  work: (scopes: StoreScope[]) => Promise<T>,
) => Promise<T>;

/**
 * "Redeliver the event with this id", for the admin route, the metadata API and the CLI: its dead
 * letter when there is one, else its latest attempt in the invocation log, made a dead letter and
 * redelivered as one. So either way the outcome is the dead letters': delivered, it is no dead letter;
 * failed, it is one, with this attempt recorded, and nothing is lost.
 */
export class EventRedeliverer {
  /** One reader per log table, opened on first use. */
  readonly #readers = new Map<string, InvocationLogReader>();

  constructor(
    /** The configs in effect; a reload changes the content, which is read at each redelivery. */
    private readonly configs: readonly Readonly<Config>[],
    private readonly onStores: OnStores,
    private readonly recorderOf: RecorderOf = () => undefined,
  ) {}

  /** Throws EventNotFound or RedeliveryRefused. `selected`: the pipelines looked in. */
  async redeliver(
    id: string,
    selected: readonly Readonly<Config>[] = this.configs,
  ): Promise<EventRedelivery> {
    const letter = await this.onStores(selected, async (scopes) => {
      for (const scope of scopes) {
        const [found] = await scope.list({ id });
        if (found !== undefined) return found;
      }
      return null;
    });
    const from = letter === null ? 'invocation_log' : 'dead_letter';
    const toSend = letter ?? (await this.#fromLog(id, selected));
    const config = this.#pipelineOf(toSend.trigger, id);
    // Refused before anything is stored: a dead letter that redelivery cannot send is no help.
    webhookOf(config, toSend.trigger, id);
    const [result] = await this.onStores([config], async (scopes) => {
      const [scope] = scopes;
      if (letter === null && scope !== undefined) await scope.store.add(toSend);
      return redeliverLetters(scopes, this.configs, { id }, undefined, this.recorderOf);
    });
    // Another action (a purge) took the letter between the two steps.
    if (result === undefined) throw new EventNotFound(`event ${id} is no longer a dead letter`);
    return { ...result, from };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#readers.values()].map((reader) => reader.close()));
    this.#readers.clear();
  }

  /** The event's latest logged attempt, as the dead letter it becomes. */
  async #fromLog(id: string, selected: readonly Readonly<Config>[]): Promise<DeadLetter> {
    const logs = selected.filter((config) => config.invocation_log !== undefined);
    for (const config of logs) {
      const logged = await this.#reader(config).delivery(id);
      if (logged !== null) return letterOfLogged(logged, this.#pipelineOf(logged.trigger, id));
    }
    throw new EventNotFound(
      logs.length === 0
        ? `no dead letter has id ${id}, and no pipeline keeps an invocation_log to look it up in`
        : `no dead letter and no event of the invocation log has id ${id}`,
    );
  }

  /** The pipeline whose config has `trigger` now; redelivery uses its current settings. */
  #pipelineOf(trigger: string, id: string): Readonly<Config> {
    const config = this.configs.find((c) => c.triggers.some((t) => t.name === trigger));
    if (config === undefined) throw noTrigger(trigger, id);
    return config;
  }

  #reader(config: Readonly<Config>): InvocationLogReader {
    const table = config.invocation_log?.table ?? '';
    const key = `${config.source.connection} ${table}`;
    let reader = this.#readers.get(key);
    if (reader === undefined) {
      reader = new InvocationLogReader(config.source.connection, table);
      this.#readers.set(key, reader);
    }
    return reader;
  }
}

/**
 * The dead letter a logged event makes: its body as walhook rendered it (in a batch's envelope for a
 * trigger that batches, as the engine's letters are) and its latest attempt's result.
 */
export function letterOfLogged(logged: LoggedDelivery, config: Readonly<Config>): DeadLetter {
  const { eventId: id, trigger: name } = logged;
  if (logged.eventBody === null) {
    throw new RedeliveryRefused(
      `event ${id} was logged by a walhook version that did not keep event bodies, so it cannot be redelivered from the invocation log`,
    );
  }
  const target = webhookOf(config, name, id);
  const batched = (target.batch?.maxEvents ?? 1) > 1;
  const errorType = logged.errorType as AttemptErrorType | null;
  return {
    id,
    trigger: name,
    table: logged.table,
    op: logged.op,
    lsn: logged.lsn,
    body: batched ? inBatchEnvelope(logged.eventBody) : logged.eventBody,
    attempts: logged.attempt,
    lastStatus: logged.status,
    lastError: lastErrorText(errorType && { type: errorType, message: logged.error ?? '' }),
    responseSnippet: logged.responseBody === '' ? null : logged.responseBody,
    firstAttemptAt: logged.firstAt,
    lastAttemptAt: logged.at,
    deadLetteredAt: new Date(),
  };
}

/** The trigger's target, which redelivery POSTs to: a webhook. */
function webhookOf(config: Readonly<Config>, name: string, id: string): DeliveryTarget {
  const trigger = config.triggers.find((t) => t.name === name);
  if (trigger === undefined) throw noTrigger(name, id);
  const target = sinkTarget(trigger);
  if (target.type !== 'webhook') {
    throw new RedeliveryRefused(
      `event trigger "${name}" has no webhook to POST event ${id} to; redelivery sends to webhooks only`,
    );
  }
  return target;
}

function noTrigger(trigger: string, id: string): RedeliveryRefused {
  return new RedeliveryRefused(
    `event trigger "${trigger}" of event ${id} is no longer in the config; add it back to redeliver the event`,
  );
}
