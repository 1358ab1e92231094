import { z } from 'zod';
import { strictObject, uniqueList } from '../../core/strict-schema.js';
import { DEFAULT_SUBJECT, subjectTemplateProblem } from './subject.js';

/** nats.js reads only host and port from a server URL, so anything else would be silently ignored. */
const natsServer = z.string().refine((text) => {
  if (!URL.canParse(text)) return false;
  const url = new URL(text);
  return (
    url.protocol === 'nats:' &&
    url.hostname !== '' &&
    url.username === '' &&
    url.password === '' &&
    (url.pathname === '' || url.pathname === '/') &&
    url.search === '' &&
    url.hash === ''
  );
}, 'expected nats://host or nats://host:port');

/** `sink: {type: nats, servers, subject, stream, ack_timeout_sec}`. */
export const natsSettings = strictObject({
  type: z.literal('nats'),
  servers: uniqueList(natsServer, 'server', 'servers'),
  subject: z
    .string()
    .superRefine((text, ctx) => {
      const problem = subjectTemplateProblem(text);
      if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
    })
    .default(DEFAULT_SUBJECT),
  // JetStream's own rule for stream names.
  stream: z
    .string()
    .regex(/^[^\s.*>/\\]+$/, 'expected a stream name: no spaces, ., *, >, / or \\')
    .optional(),
  ack_timeout_sec: z.number().positive().default(5),
});

export type NatsSettings = z.output<typeof natsSettings>;
