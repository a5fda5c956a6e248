import { randomBytes } from 'node:crypto';
import { type Config, DEFAULT_APP, dashboardSchema } from '../config/schema.js';
import { hashPassword } from './auth.js';

/** The user the development setup signs in as. */
export const DEVELOPMENT_USER = 'admin';

/** The development setup's dashboard: the configuration that serves it, and the password to print. */
export interface DevelopmentDashboard {
  config: Readonly<Config>;
  name: string;
  password: string;
}

/**
 * Whether `config` is the development setup: only the default app (`app-id`, `app-key`,
 * `app-secret`) from the configuration, and nothing said about the dashboard.
 */
export function isDevelopmentSetup(config: Readonly<Config>): boolean {
  if (config.dashboard !== undefined || config.appStore.driver !== 'config' || config.apps.length !== 1)
    return false;
  const app = config.apps[0]!;
  return app.id === DEFAULT_APP.id && app.key === DEFAULT_APP.key && app.secret === DEFAULT_APP.secret;
}

/**
 * In the development setup, `config` with the dashboard on for `admin` and a fresh random password,
 * which `herald start` prints; undefined otherwise. The password exists in this process only, so
 * this is for one process (`herald start` without `--workers`), whose restart draws a new one.
 */
export async function developmentDashboard(
  config: Readonly<Config>,
): Promise<DevelopmentDashboard | undefined> {
  if (!isDevelopmentSetup(config)) return undefined;
  const password = randomBytes(12).toString('base64url');
  const dashboard = dashboardSchema.parse({
    enabled: true,
    users: [{ name: DEVELOPMENT_USER, passwordHash: await hashPassword(password) }],
  });
  return { config: Object.freeze({ ...config, dashboard }), name: DEVELOPMENT_USER, password };
}
