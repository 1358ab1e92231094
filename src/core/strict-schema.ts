import { z } from 'zod';

/** A `z.strictObject` whose unknown-key message lists the keys it accepts, so typos are easy to spot. */
export function strictObject<Shape extends z.core.$ZodLooseShape>(shape: Shape) {
  const known = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `unknown key (expected one of ${known})` : undefined,
  });
}

/**
 * Rejects repeated entries, naming the first occurrence, because a repeat is almost always a typo.
 * `quote: false` leaves the value out of the message, for secrets.
 */
export function uniqueList<T extends z.ZodType<string>>(item: T, what: string, key: string, quote = true) {
  return z
    .array(item)
    .min(1)
    .superRefine((items, ctx) => {
      items.forEach((value, index) => {
        const first = items.indexOf(value);
        if (first !== index) {
          ctx.addIssue({
            code: 'custom',
            path: [index],
            message: `duplicate ${what}${quote ? ` "${value}"` : ''} (also ${key}[${first}])`,
          });
        }
      });
    });
}
