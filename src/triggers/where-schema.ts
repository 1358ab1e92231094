import { z } from 'zod';

/** PLACEHOLDER being written by a helper: the zod schema and types of a trigger's `where` expression. */
export type WhereLiteral = string | number | bigint | boolean;
export type WhereExpression = Record<string, unknown>;
export const whereSchema: z.ZodType<WhereExpression> = z.record(z.string(), z.unknown());
