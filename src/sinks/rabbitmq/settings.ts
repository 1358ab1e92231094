import { z } from 'zod';
import { strictObject, uniqueList } from '../../core/strict-schema.js';
import { DEFAULT_ROUTING_KEY, routingKeyProblem } from './routing-key.js';

/**
 * A node's URL as the AMQP URI spec has it: user, password and virtual host may be given. Query options
 * would pass to the client unchecked (walhook sets the heartbeat itself), so none are taken.
 */
const nodeUrl = z.string().refine((text) => {
  if (!URL.canParse(text)) return false;
  const url = new URL(text);
  return (
    (url.protocol === 'amqp:' || url.protocol === 'amqps:') &&
    url.hostname !== '' &&
    url.search === '' &&
    url.hash === ''
  );
}, 'expected amqp://[user:password@]host[:port][/vhost] or amqps://…');

/** RabbitMQ's rule for exchange names; the default exchange ("") routes by queue name, not by topic. */
const exchangeName = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,255}$/, 'expected an exchange name: letters, digits, -, _, . and :');

const fileSchema = z.string().min(1);

/** A private CA to trust instead of the system's, and a client certificate for mutual TLS. */
const tlsSchema = strictObject({
  ca_file: fileSchema.optional(),
  cert_file: fileSchema.optional(),
  key_file: fileSchema.optional(),
}).refine(
  (tls) => (tls.cert_file === undefined) === (tls.key_file === undefined),
  'set cert_file and key_file together (the client certificate and its private key)',
);

/** `sink: {type: rabbitmq, urls, exchange, declare, routing_key, tls, ack_timeout_sec}`. */
export const rabbitmqSettings = strictObject({
  type: z.literal('rabbitmq'),
  urls: uniqueList(nodeUrl, 'URL', 'urls'),
  exchange: exchangeName.default('walhook'),
  // A durable topic exchange, declared before the first publish; false: it must exist.
  declare: z.boolean().default(true),
  routing_key: z
    .string()
    .superRefine((text, ctx) => {
      const problem = routingKeyProblem(text);
      if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
    })
    .default(DEFAULT_ROUTING_KEY),
  tls: tlsSchema.optional(),
  ack_timeout_sec: z.number().positive().default(5),
}).superRefine((settings, ctx) => {
  if (settings.tls !== undefined && settings.urls.some((url) => !url.startsWith('amqps:')))
    ctx.addIssue({
      code: 'custom',
      path: ['tls'],
      message: 'only with amqps:// URLs; make every URL amqps://',
    });
  if (settings.declare && settings.exchange.startsWith('amq.'))
    ctx.addIssue({
      code: 'custom',
      path: ['exchange'],
      message: 'amq.* names are reserved by RabbitMQ; set declare: false to publish to one that exists',
    });
});

export type RabbitmqSettings = z.output<typeof rabbitmqSettings>;
