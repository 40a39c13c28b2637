import type { FastifyInstance } from 'fastify';
import type { Contract } from '../core/contract/types.js';
import { BrokerError } from '../core/errors.js';
import { createHttpServer, registerHealth } from '../core/http-server.js';
import type { Logger } from '../core/logger.js';
import { apiVersionOf, collectionPath, KINDS, type KindInfo } from './kinds.js';
import type { ObjectView } from './reconciler.js';
import type { SourceProblem } from './sources/source.js';

/**
 * The admin HTTP server: one fastify instance that components extend by registering routes on it
 * before it listens (this file registers the resource routes; a later issue adds dead letters).
 *
 *   GET /                                                  index: kinds and endpoints
 *   GET /healthz, /readyz                                  alive; ready once the first pass is done
 *   GET /apis/<group>/<version>/<plural>                   a Kubernetes List, all namespaces
 *   GET /apis/<group>/<version>/namespaces/<ns>/<plural>   a List in one namespace
 *   GET /apis/<group>/<version>/namespaces/<ns>/<plural>/<name>   one object, with its status
 *   GET /api/v1/...                                        the same for core kinds (ConfigMaps)
 *   GET /problems                                          manifests that could not be read
 *   GET /contract                                          the data-plane contract in force
 *
 * The shapes follow the Kubernetes API, so `kubectl`'s habits carry over; errors use the
 * project's body `{ statusCode, code, error, message }` (core/errors.ts).
 */

export interface AdminServerOptions {
  readonly logger: Logger;
  /** Why the admin server is not ready (e.g. the first reconcile pass is not done), or undefined. */
  readonly notReadyReason?: () => Promise<string | undefined>;
}

export function createAdminServer(options: AdminServerOptions): FastifyInstance {
  // The shared bootstrap: errors as `{ statusCode, code, error, message }`, /healthz and /readyz.
  const app = createHttpServer({ bodyLimitBytes: 1024 * 1024, logger: options.logger });
  // Every route any component registers is listed on the index page.
  const routes: string[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push(`${method} ${route.url}`);
  });
  registerHealth(app, { notReadyReason: options.notReadyReason ?? (async () => undefined) });
  app.get('/', async () => ({
    name: 'kafka-broker admin',
    kinds: KINDS.map((k) => ({ kind: k.kind, apiVersion: apiVersionOf(k), path: collectionPath(k) })),
    routes,
  }));
  return app;
}

/** What the resource routes read: the reconciler, whatever its source. */
export interface ResourceView {
  objects(): readonly ObjectView[];
  problems(): readonly SourceProblem[];
  contract(): Contract | undefined;
}

export function registerResourceRoutes(app: FastifyInstance, view: ResourceView): void {
  for (const info of KINDS) {
    const list = (namespace: string | undefined): unknown => ({
      apiVersion: apiVersionOf(info),
      kind: `${info.kind}List`,
      metadata: {},
      items: view.objects().filter((o) => matches(o, info) && (namespace === undefined || o.metadata.namespace === namespace)),
    });
    app.get(collectionPath(info), async () => list(undefined));
    app.get<{ Params: { namespace: string } }>(collectionPath(info, ':namespace'), async (request) => list(request.params.namespace));
    app.get<{ Params: { namespace: string; name: string } }>(`${collectionPath(info, ':namespace')}/:name`, async (request) => {
      const { namespace, name } = request.params;
      const found = view.objects().find((o) => matches(o, info) && o.metadata.namespace === namespace && o.metadata.name === name);
      if (found === undefined) throw new BrokerError('NOT_FOUND', `${info.singular} "${name}" not found in namespace "${namespace}"`);
      return found;
    });
  }
  app.get('/problems', async () => ({ problems: view.problems() }));
  app.get('/contract', async () => view.contract() ?? null);
}

function matches(object: ObjectView, info: KindInfo): boolean {
  if (object.kind !== info.kind) return false;
  const slash = object.apiVersion.indexOf('/');
  return (slash < 0 ? '' : object.apiVersion.slice(0, slash)) === info.group;
}
