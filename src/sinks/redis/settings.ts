import { z } from 'zod';
import { strictObject, uniqueList } from '../../core/strict-schema.js';
import { DEFAULT_FIELDS, FIELDS, fieldsProblem } from './fields.js';
import { DEFAULT_STREAM, streamTemplateProblem } from './stream-name.js';

/** A server's URL: anything the client would not read (a query, a fragment) is refused, not ignored. */
function serverUrl(options: { protocols: readonly string[]; master: boolean; expected: string }) {
  return z.string().refine((text) => {
    if (!URL.canParse(text)) return false;
    const url = new URL(text);
    return (
      options.protocols.includes(url.protocol) &&
      url.hostname !== '' &&
      // A database number and credentials are the master's; a sentinel is only asked where it is.
      (options.master ? /^\/?(\d+)?$/ : /^\/?$/).test(url.pathname) &&
      (options.master || (url.username === '' && url.password === '')) &&
      url.search === '' &&
      url.hash === ''
    );
  }, `expected ${options.expected}`);
}

const redisUrl = serverUrl({
  protocols: ['redis:', 'rediss:'],
  master: true,
  expected: 'redis://[user:password@]host[:port][/db], or rediss://… for TLS',
});
const sentinelUrl = serverUrl({ protocols: ['redis:'], master: false, expected: 'redis://host:port' });

/** `sink: {type: redis, url | sentinels + master_name, stream, maxlen, fields, wait, ack_timeout_sec}`. */
export const redisSettings = strictObject({
  type: z.literal('redis'),
  url: redisUrl.optional(),
  sentinels: uniqueList(sentinelUrl, 'sentinel', 'sentinels').optional(),
  master_name: z.string().min(1).optional(),
  stream: z
    .string()
    .superRefine((text, ctx) => {
      const problem = streamTemplateProblem(text);
      if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
    })
    .default(DEFAULT_STREAM),
  maxlen: z.number().int().positive().optional(),
  fields: uniqueList(z.enum(FIELDS), 'field', 'fields')
    .superRefine((fields, ctx) => {
      const problem = fieldsProblem(fields);
      if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
    })
    .default([...DEFAULT_FIELDS]),
  wait: strictObject({
    replicas: z.number().int().positive(),
    timeout_ms: z.number().int().positive().default(1000),
  }).optional(),
  ack_timeout_sec: z.number().positive().default(5),
}).superRefine((settings, ctx) => {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (settings.url === undefined && settings.sentinels === undefined)
    issue('url', 'required (or sentinels and master_name)');
  if (settings.url !== undefined && settings.sentinels !== undefined)
    issue('sentinels', 'set either url or sentinels, not both');
  if (settings.sentinels !== undefined && settings.master_name === undefined)
    issue('master_name', 'required with sentinels: the name the sentinels monitor the master by');
  if (settings.sentinels === undefined && settings.master_name !== undefined)
    issue('master_name', 'only with sentinels');
  // WAIT answers by its own timeout; the attempt must still be waiting to hear it.
  if (settings.wait !== undefined && settings.wait.timeout_ms >= settings.ack_timeout_sec * 1000)
    issue('wait', 'timeout_ms must be below ack_timeout_sec (in ms): raise ack_timeout_sec or lower it');
});

export type RedisSettings = z.output<typeof redisSettings>;
