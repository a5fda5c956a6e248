import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { MysqlAppStore } from '../../../src/apps/mysql-store.js';
import { openAppCatalog } from '../../../src/apps/open.js';
import { PostgresAppStore } from '../../../src/apps/postgres-store.js';
import { configSchema } from '../../../src/config/schema.js';
import { StaticAppStore } from '../../../src/core/apps/static-store.js';

const logger = pino({ level: 'silent' });

test('appStore.driver picks the store; the database stores connect only when used', async () => {
  const config = configSchema.parse({});
  assert.ok(openAppCatalog(config, logger) instanceof StaticAppStore);

  // Nothing listens on port 1: building the stores must not try.
  const postgres = openAppCatalog(
    configSchema.parse({ appStore: { driver: 'postgres', url: 'postgres://herald@127.0.0.1:1/herald' } }),
    logger,
  );
  assert.ok(postgres instanceof PostgresAppStore);
  assert.equal(postgres.description, 'postgres table herald_apps');
  await postgres.close();

  const mysql = openAppCatalog(
    configSchema.parse({
      appStore: { driver: 'mysql', url: 'mysql://herald@127.0.0.1:1/herald', table: 'tenants' },
    }),
    logger,
  );
  assert.ok(mysql instanceof MysqlAppStore);
  assert.equal(mysql.description, 'mysql table tenants');
  await assert.rejects(mysql.check(), /^AppStoreUnavailable: MySQL at 127\.0\.0\.1:1 refused the connection/);
  await mysql.close();
});
