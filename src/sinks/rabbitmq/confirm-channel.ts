import type { ConfirmChannel, Message } from 'amqplib';
import type { AttemptError } from '../../core/delivery-event.js';
import type { Request } from '../plugin.js';
import type { RabbitmqTls } from './target.js';

/** One message: the event body, its id, what names it and where it goes. */
export interface Publication extends Request {
  urls: readonly string[];
  tls: RabbitmqTls | null;
  exchange: string;
  declare: boolean;
  routingKey: string;
  body: string;
  id: string;
  trigger: string;
  table: string;
  op: string;
  lsn: string;
  traceparent: string;
  timeoutMs: number;
}

/** A publish awaiting its confirm; `settle` runs once, whichever of confirm, close or timeout comes first. */
interface Waiting {
  settle(error?: AttemptError): void;
}

/**
 * One channel in confirm mode. Every message is persistent and mandatory: RabbitMQ returns one that no
 * queue takes (basic.return, before its ack), and that counts as a failure, never as delivered.
 *
 * A nack or a confirm that never came spoils the channel: it takes no more publishes and is closed once
 * its last one settled. Measured on RabbitMQ 3.10, a confirm channel opened on a surviving node during a
 * quorum queue's leader election nacked every publish for over 95 s while a fresh channel worked at once.
 */
export class ConfirmedChannel {
  readonly #channel: ConfirmChannel;
  readonly #waiting = new Map<string, Waiting>();
  /** Why RabbitMQ returned a message, by message id, until its ack settles it. */
  readonly #returned = new Map<string, string>();
  readonly #declared = new Set<string>();
  #open = true;
  #spoiled = false;
  #closeReason = 'channel closed';

  constructor(channel: ConfirmChannel) {
    this.#channel = channel;
    channel.on('return', (message: Message) => {
      const { messageId } = message.properties;
      const { replyCode, replyText, exchange, routingKey } = message.fields as Message['fields'] & {
        replyCode: number;
        replyText: string;
      };
      if (typeof messageId === 'string' && this.#waiting.has(messageId)) {
        this.#returned.set(
          messageId,
          `unroutable (${replyCode} ${replyText}): no queue bound to exchange ${exchange} takes routing key ${routingKey}`,
        );
      }
    });
    // A channel error (an exchange not found, say) closes the channel: its publishes fail and are retried.
    channel.on('error', (err: Error) => {
      this.#closeReason = `channel closed: ${err.message}`;
    });
    channel.on('close', () => {
      this.#open = false;
      for (const waiting of [...this.#waiting.values()])
        waiting.settle({ type: 'network', message: this.#closeReason });
    });
  }

  /** Whether it takes publishes: open, and neither nacked nor timed out. */
  get usable(): boolean {
    return this.#open && !this.#spoiled;
  }

  /**
   * Resolves with undefined once confirmed, or with why not; within `timeoutMs`, declaring the exchange
   * included (a blocked connection answers nothing). Never rejects.
   */
  publish(p: Publication): Promise<AttemptError | undefined> {
    return new Promise<AttemptError | undefined>((resolve) => {
      const waiting: Waiting = {
        settle: (error) => {
          if (this.#waiting.get(p.id) !== waiting) return;
          this.#waiting.delete(p.id);
          clearTimeout(timer);
          const returned = this.#returned.get(p.id);
          this.#returned.delete(p.id);
          resolve(error ?? (returned === undefined ? undefined : { type: 'network', message: returned }));
          if (this.#spoiled && this.#waiting.size === 0) this.close();
        },
      };
      const timer = setTimeout(() => {
        this.#spoiled = true;
        waiting.settle({ type: 'timeout', message: `no confirm within ${p.timeoutMs} ms` });
      }, p.timeoutMs);
      this.#waiting.set(p.id, waiting);
      void this.#declare(p).then((error) => {
        if (error !== undefined) waiting.settle(error);
        else if (this.#waiting.get(p.id) === waiting) this.#send(p, waiting);
      });
    });
  }

  #send(p: Publication, waiting: Waiting): void {
    try {
      this.#channel.publish(
        p.exchange,
        p.routingKey,
        Buffer.from(p.body),
        {
          persistent: true,
          mandatory: true,
          messageId: p.id,
          contentType: 'application/json',
          timestamp: Math.floor(Date.now() / 1000),
          headers: { trigger: p.trigger, table: p.table, op: p.op, lsn: p.lsn, traceparent: p.traceparent },
        },
        (err: unknown) => {
          if (err) this.#spoiled = true;
          waiting.settle(err ? { type: 'network', message: 'nacked by RabbitMQ' } : undefined);
        },
      );
    } catch (err) {
      waiting.settle({ type: 'network', message: (err as Error).message });
    }
  }

  /** Declares the publication's exchange once per channel, when walhook declares it; never rejects. */
  async #declare(p: Publication): Promise<AttemptError | undefined> {
    if (!p.declare || this.#declared.has(p.exchange)) return undefined;
    try {
      await this.#channel.assertExchange(p.exchange, 'topic', { durable: true });
      this.#declared.add(p.exchange);
      return undefined;
    } catch (err) {
      return { type: 'network', message: `cannot declare exchange ${p.exchange}: ${(err as Error).message}` };
    }
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#channel.close().catch(() => {});
  }
}
