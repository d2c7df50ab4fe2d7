import type { z } from 'zod';

/**
 * zod's own description of a schema (`schema._zod.def`), as far as the config loader's
 * hints and the generated reference read it: the kind of schema, what it wraps, its keys,
 * options, entries, default and checks.
 */
export interface ZodDefinition {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  defaultValue?: unknown;
  in?: z.ZodType;
  out?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  entries?: Record<string, string | number>;
  values?: unknown[];
  format?: string;
  checks?: {
    _zod: { def: { check: string; value?: number; inclusive?: boolean; format?: string } };
  }[];
}

export function zodDefinition(schema: z.ZodType): ZodDefinition {
  return (schema as unknown as { _zod: { def: ZodDefinition } })._zod.def;
}
