import type { RawApp } from './types.ts';

/** A variable of the app's environment as PM2 launched it (the merged top level wins over `env`), as the probe reads it. */
export function envOf(app: RawApp, name: string): string | undefined {
  return stringOf(app.pm2_env[name]) ?? stringOf(app.pm2_env.env?.[name]);
}

export function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}
