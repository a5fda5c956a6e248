import { z } from 'zod';

/** A setting's schema and the wrappers around its own type (default, prefault, optional, nullable), outermost first. */
export function layers(schema: z.ZodType): z.ZodType[] {
  const all = [schema];
  let s = schema;
  while (
    s instanceof z.ZodDefault ||
    s instanceof z.ZodPrefault ||
    s instanceof z.ZodOptional ||
    s instanceof z.ZodNullable
  ) {
    s = s.unwrap() as z.ZodType;
    all.push(s);
  }
  return all;
}

/** A setting's own type, without its wrappers. */
export const unwrap = (schema: z.ZodType): z.ZodType => layers(schema).at(-1)!;
