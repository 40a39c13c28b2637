import { z } from 'zod';
import { BrokerError } from './errors.js';
import { logLevels } from './logger.js';

/**
 * Configuration is validated once at start-up into a frozen, typed object. Components declare a
 * zod schema; `loadConfig` is the only place that turns raw input (flags and environment) into it.
 * Nothing else reads `process.env`: the environment is passed in.
 */
export type Env = Readonly<Record<string, string | undefined>>;

export function loadConfig<S extends z.ZodTypeAny>(schema: S, input: unknown): Readonly<z.infer<S>> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new BrokerError('CONFIG_INVALID', `invalid configuration: ${problems.join('; ')}`, { details: { problems } });
  }
  return Object.freeze(result.data) as Readonly<z.infer<S>>;
}

/** Schema pieces shared by the components. */
export const portSchema = z.coerce.number().int().min(0).max(65535);
export const logLevelSchema = z.enum(logLevels).default('info');
export const bootstrapServersSchema = z
  .string()
  .trim()
  .min(1)
  .transform((value) => value.split(',').map((s) => s.trim()).filter((s) => s.length > 0))
  .refine((brokers) => brokers.every((b) => /^[^\s:]+:\d{1,5}$/.test(b)), {
    message: 'expected host:port[,host:port...]',
  });

/** Values a process reads from the environment, with the variable names users set. */
export function commonEnv(env: Env): { kafkaBootstrapServers: string | undefined; logLevel: string | undefined } {
  return { kafkaBootstrapServers: env['KAFKA_BOOTSTRAP_SERVERS'] || undefined, logLevel: env['LOG_LEVEL'] || undefined };
}
