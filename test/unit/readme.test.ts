import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { z } from 'zod';
import { appSchema, configSchema } from '../../src/config/schema.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

function leafPaths(schema: z.ZodType, prefix = ''): string[] {
  let s = schema;
  while (
    s instanceof z.ZodDefault ||
    s instanceof z.ZodPrefault ||
    s instanceof z.ZodOptional ||
    s instanceof z.ZodNullable
  )
    s = s.unwrap() as z.ZodType;
  if (s instanceof z.ZodDiscriminatedUnion) {
    // Every field of every variant (`adapter.url` is the redis and the nats variant's).
    return [...new Set((s.options as readonly z.ZodType[]).flatMap((option) => leafPaths(option, prefix)))];
  }
  if (!(s instanceof z.ZodObject) || prefix === 'apps') return [prefix];
  return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([key, child]) =>
    key === 'apps' ? ['apps'] : leafPaths(child, prefix ? `${prefix}.${key}` : key),
  );
}

test('the README documents every server setting and every app setting', () => {
  const missing = [...leafPaths(configSchema), ...Object.keys(appSchema.shape)].filter(
    (path) => !readme.includes(`\`${path}\``) && !readme.includes(`\`${path}\`,`),
  );
  assert.deepEqual(missing, []);
});
