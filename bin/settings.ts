/**
 * The settings `kafka-broker start` reads from the environment, derived from the components'
 * config schemas so that the list in `--help` and what is read cannot drift apart: every field
 * of a schema not set by a flag is `<PREFIX><FIELD_IN_UPPER_SNAKE_CASE>`
 * (dispatcher `maxInFlightPerEgress` → DISPATCHER_MAX_IN_FLIGHT_PER_EGRESS).
 */
import { z } from 'zod';
import { ingressConfigFields, ingressConfigSchema } from '../broker-ingress/config.js';
import { controllerConfigSchema } from '../controller/config.js';
import { dispatcherConfigSchema } from '../dispatcher/config.js';
import type { Env } from '../core/config.js';
import { memoryLogConfigSchema } from '../core/event-log/memory-config.js';
import { CliError } from './cli.js';

export interface SettingGroup {
  readonly component: string;
  readonly prefix: string;
  /** What the settings are parsed with. */
  readonly schema: z.ZodTypeAny;
  /** The settings listed (the schema's own object, when the schema adds checks across fields). */
  readonly fields?: z.AnyZodObject;
  /** Fields that flags set, not the environment. */
  readonly fromFlags: readonly string[];
}

export const START_SETTINGS = {
  controller: { component: 'controller', prefix: 'CONTROLLER_', schema: controllerConfigSchema, fromFlags: ['manifestsDir', 'ingressUrl', 'kafkaBootstrapServers'] },
  ingress: { component: 'ingress', prefix: 'INGRESS_', schema: ingressConfigSchema, fields: ingressConfigFields, fromFlags: ['host', 'port'] },
  dispatcher: { component: 'dispatcher', prefix: 'DISPATCHER_', schema: dispatcherConfigSchema, fromFlags: [] },
  memoryLog: { component: 'in-memory event log', prefix: 'EVENT_LOG_MEMORY_', schema: memoryLogConfigSchema, fromFlags: [] },
} as const satisfies Record<string, SettingGroup>;

export interface Setting {
  readonly key: string;
  readonly env: string;
  /** The default, as it would be written in the variable. */
  readonly defaultText: string;
  /** Objects and lists are written as JSON. */
  readonly json: boolean;
}

export const envName = (prefix: string, key: string): string => `${prefix}${key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;

/** The environment settings of a group, in schema order. */
export function settingsOf(group: SettingGroup): Setting[] {
  return Object.entries((group.fields ?? (group.schema as z.AnyZodObject)).shape as Record<string, z.ZodTypeAny>)
    .filter(([key]) => !group.fromFlags.includes(key))
    .map(([key, field]) => {
      const defaulted = field instanceof z.ZodDefault ? (field._def.innerType as z.ZodTypeAny) : field;
      const inner = defaulted instanceof z.ZodOptional ? (defaulted._def.innerType as z.ZodTypeAny) : defaulted;
      const fallback: unknown = field instanceof z.ZodDefault ? field._def.defaultValue() : undefined;
      const json = inner instanceof z.ZodRecord || inner instanceof z.ZodArray || inner instanceof z.ZodObject;
      const defaultText = fallback === undefined ? '(none)' : json || typeof fallback !== 'string' ? JSON.stringify(fallback) : fallback;
      return { key, env: envName(group.prefix, key), defaultText, json };
    });
}

/**
 * Validates a group's settings once: the environment's values (unset or empty means the default)
 * and `given` (from flags). A bad value is one line naming its variable.
 */
export function loadSettings<G extends SettingGroup>(group: G, env: Env, given: Record<string, unknown>): Readonly<z.infer<G['schema']>> {
  const input: Record<string, unknown> = {};
  const envOf = new Map<string, string>();
  for (const setting of settingsOf(group)) {
    const raw = env[setting.env];
    if (raw === undefined || raw === '') continue;
    envOf.set(setting.key, setting.env);
    if (!setting.json) input[setting.key] = raw;
    else {
      try {
        input[setting.key] = JSON.parse(raw) as unknown;
      } catch {
        throw new CliError(`${setting.env} must be JSON, e.g. ${setting.defaultText}`);
      }
    }
  }
  const result = group.schema.safeParse({ ...input, ...given });
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      const name = envOf.get(key) ?? key;
      return `${name}: ${issue.message}${envOf.has(key) ? ` (got "${env[name]}")` : ''}`;
    });
    throw new CliError(`invalid ${group.component} setting: ${problems.join('; ')}`);
  }
  return Object.freeze(result.data) as Readonly<z.infer<G['schema']>>;
}

/** The `Settings` part of `start --help`: every variable with its default. */
export function settingsHelp(notes: Readonly<Record<string, string>> = {}): string {
  const groups = Object.values(START_SETTINGS) as readonly SettingGroup[];
  const all = groups.flatMap((g) => settingsOf(g));
  const width = Math.max(...all.map((s) => s.env.length)) + 2;
  return groups
    .map((g) => [`  ${g.component}:`, ...settingsOf(g).map((s) => `    ${s.env.padEnd(width)}${s.defaultText}${notes[s.env] === undefined ? '' : `  ${notes[s.env]}`}`)].join('\n'))
    .join('\n');
}
