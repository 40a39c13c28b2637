import { z } from 'zod';
import { BrokerError } from '../errors.js';
import type { Filter } from '../filters/types.js';
import { CONTRACT_VERSION, type Contract } from './types.js';
import { ATTRIBUTE_NAME } from '../cloudevents/event.js';

/**
 * parseContract(json) validates a contract document and returns it typed, or throws a
 * CONTRACT_INVALID error naming the bad field's path (e.g. `resources[0].egresses[2].filter.kind`).
 * An unknown filter kind or reply strategy is an error, never "match everything".
 */

const attributeMap = z.record(z.string().regex(ATTRIBUTE_NAME, 'attribute names are lower-case letters and digits'), z.string());

const filterSchema: z.ZodType<Filter> = z.lazy(() =>
  z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('attributes'), attributes: attributeMap }).strict(),
    z.object({ kind: z.literal('exact'), attributes: attributeMap }).strict(),
    z.object({ kind: z.literal('prefix'), attributes: attributeMap }).strict(),
    z.object({ kind: z.literal('suffix'), attributes: attributeMap }).strict(),
    z.object({ kind: z.literal('all'), filters: z.array(filterSchema) }).strict(),
    z.object({ kind: z.literal('any'), filters: z.array(filterSchema) }).strict(),
    z.object({ kind: z.literal('not'), filter: filterSchema }).strict(),
    z.object({ kind: z.literal('cesql'), expression: z.string().min(1) }).strict(),
  ]),
);

const url = z.string().url();
const nonEmpty = z.string().min(1);
const millis = z.number().int().min(0);

const referenceSchema = z.object({ kind: nonEmpty, namespace: nonEmpty, name: nonEmpty, uid: nonEmpty }).strict();

const egressConfigSchema = z
  .object({
    retry: z.number().int().min(0),
    backoffPolicy: z.enum(['linear', 'exponential']),
    backoffDelayMs: millis,
    timeoutMs: millis.nullable(),
    deadLetter: url.nullable(),
    retryAfterMaxMs: millis.nullable(),
  })
  .strict();

const replySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('topic') }).strict(),
  z.object({ kind: z.literal('url'), url }).strict(),
  z.object({ kind: z.literal('discard') }).strict(),
]);

const contentMode = z.enum(['binary', 'structured']);

const recordConversionSchema = z
  .object({
    kind: z.literal('kafka-source'),
    namespace: nonEmpty,
    name: nonEmpty,
    keyType: z.enum(['string', 'int', 'float', 'byte-array']),
    overrides: z.array(z.object({ name: z.string().regex(ATTRIBUTE_NAME, 'attribute names are lower-case letters and digits'), value: z.string() }).strict()),
  })
  .strict();

const egressSchema = z
  .object({
    uid: nonEmpty,
    reference: referenceSchema,
    consumerGroup: nonEmpty,
    destination: url,
    reply: replySchema,
    filter: filterSchema.nullable(),
    deliveryOrder: z.enum(['ordered', 'unordered']),
    contentMode,
    egressConfig: egressConfigSchema.nullable(),
    recordConversion: recordConversionSchema.optional(),
    auth: z
      .object({
        serviceAccount: z.object({ namespace: nonEmpty, name: nonEmpty }).strict(),
        destinationAudience: nonEmpty.optional(),
        deadLetterAudience: nonEmpty.optional(),
      })
      .strict()
      .optional(),
    rewind: z.object({ id: nonEmpty, kind: z.enum(['rewind', 'skip']), to: nonEmpty, who: z.string() }).strict().optional(),
  })
  .strict();

const k8sName = z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'a Kubernetes name');

const resourceSchema = z
  .object({
    uid: nonEmpty,
    kind: z.enum(['Broker', 'KafkaChannel', 'InMemoryChannel', 'KafkaSink', 'KafkaSource']),
    reference: referenceSchema,
    topics: z.array(nonEmpty).min(1),
    ingress: z
      .object({
        path: z.string().regex(/^\/[^?#\s]*$/, 'an absolute path'),
        contentMode,
        audience: nonEmpty.optional(),
        senders: z.array(z.object({ policy: nonEmpty, subjects: z.array(nonEmpty), filter: filterSchema.optional() }).strict()).optional(),
      })
      .strict()
      .refine((ingress) => ingress.senders === undefined || ingress.audience !== undefined, { message: 'senders need an audience', path: ['senders'] })
      .nullable(),
    egressConfig: egressConfigSchema.nullable(),
    egresses: z.array(egressSchema),
    cluster: z
      .object({
        bootstrapServers: z.array(z.string().regex(/^[^\s,]+:\d{1,5}$/, 'host:port')).min(1),
        // Kubernetes names (DNS-1123): they become folder names under --kafka-auth-root, so no '/' or '..'.
        authSecret: z.object({ namespace: k8sName, name: k8sName }).strict().nullable(),
      })
      .strict()
      .optional(),
  })
  .strict();

const contractSchema = z
  .object({
    version: z.literal(CONTRACT_VERSION),
    generation: z.number().int().min(0),
    resources: z.array(resourceSchema),
  })
  .strict()
  .superRefine((contract, ctx) => {
    const seen = new Map<string, string>();
    contract.resources.forEach((resource, r) => {
      claim(seen, `resource ${resource.uid}`, ['resources', r, 'uid'], ctx);
      if (resource.ingress !== null) claim(seen, `path ${resource.ingress.path}`, ['resources', r, 'ingress', 'path'], ctx);
      resource.egresses.forEach((egress, e) => {
        claim(seen, `egress ${egress.uid}`, ['resources', r, 'egresses', e, 'uid'], ctx);
        claim(seen, `group ${egress.consumerGroup}`, ['resources', r, 'egresses', e, 'consumerGroup'], ctx);
      });
    });
  });

function claim(seen: Map<string, string>, key: string, path: (string | number)[], ctx: z.RefinementCtx): void {
  const here = formatPath(path);
  const before = seen.get(key);
  if (before !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path, message: `duplicate ${key} (also at ${before})` });
  else seen.set(key, here);
}

function formatPath(path: readonly (string | number | symbol)[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? String(part) : `.${String(part)}`;
  return out || '(root)';
}

export function parseContract(input: unknown): Contract {
  const result = contractSchema.safeParse(input);
  if (result.success) return result.data as Contract;
  const first = result.error.issues[0]!;
  const problems = result.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  throw new BrokerError('CONTRACT_INVALID', `invalid contract: ${formatPath(first.path)}: ${first.message}`, { details: { problems } });
}

/** Parses contract JSON text; a syntax error is CONTRACT_INVALID too. */
export function parseContractJson(text: string): Contract {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new BrokerError('CONTRACT_INVALID', `invalid contract: not JSON: ${(error as Error).message}`);
  }
  return parseContract(json);
}
