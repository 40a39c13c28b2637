import type https from 'node:https';
import {
  ApiException, AuthenticationV1Api, AuthorizationV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, KubernetesObjectApi, PatchStrategy, ResponseContext,
  SelfDecodingBody, ServerConfiguration, V1MicroTime, createConfiguration, setHeaderOptions, wrapHttpLibrary,
  type CoreV1Event, type PromiseHttpLibrary, type RequestContext, type V1Lease,
} from '@kubernetes/client-node';
import { Agent, request } from 'undici';
import type { KindInfo } from '../api-kinds.js';

/**
 * The controller's one door to the Kubernetes API, over `@kubernetes/client-node`: listing (for
 * the informers, whose watches client-node runs), merge patches of objects and of their `status` subresource,
 * reading a referenced object, and the Lease of leader election. Everything returns or takes the
 * API's own JSON (`ApiObject`), never the client's typed models, so the informers stay
 * table-driven (controller/api-kinds.ts) whatever the kind.
 *
 * Requests go through one keep-alive undici pool instead of client-node 1.x's default (node-fetch
 * with a new agent, so a new TLS handshake, per call — at 10,000 status writes that costs more
 * than the writes; and node-fetch with a shared keep-alive agent fails now and then reading a
 * response body, "Premature close", after the API server applied the write). Authentication
 * still comes from the kubeconfig through client-node (tokens, token files, exec plugins).
 */

/** A Kubernetes object as the API serves it (JSON). */
export interface ApiObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ApiMeta;
  spec?: unknown;
  status?: unknown;
  data?: unknown;
  [field: string]: unknown;
}

export interface ApiMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: unknown[];
  [field: string]: unknown;
}

export interface ApiList {
  readonly items: ApiObject[];
  readonly metadata: { readonly resourceVersion?: string; readonly continue?: string };
}

export interface KubeApiOptions {
  /** Field manager recorded for every write (`metadata.managedFields`). */
  readonly fieldManager?: string;
  /** Connections to the API server in the shared pool. */
  readonly maxSockets?: number;
}

/** Where the controller reads its credentials: a kubeconfig file, or the pod's service account. */
export type KubeConfigSource = { readonly kubeconfig: string; readonly context?: string } | { readonly inCluster: true };

export function loadKubeConfig(from: KubeConfigSource): KubeConfig {
  const kc = new KubeConfig();
  if ('inCluster' in from) kc.loadFromCluster();
  else {
    kc.loadFromFile(from.kubeconfig);
    if (from.context !== undefined) kc.setCurrentContext(from.context);
  }
  if (kc.getCurrentCluster() === null) throw new Error('the kubeconfig names no current cluster');
  return kc;
}

/** The HTTP status of a failed API call (client-node ApiException, or a watch's error), if any. */
export function statusOf(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  if (typeof error === 'object' && error !== null) {
    const { statusCode, code } = error as { statusCode?: unknown; code?: unknown };
    if (typeof statusCode === 'number') return statusCode;
    if (typeof code === 'number') return code;
  }
  return undefined;
}

/** One line for logs and conditions: the API's Status message when there is one. */
export function describeApiError(error: unknown): string {
  if (error instanceof ApiException) {
    const body = typeof error.body === 'string' ? safeParse(error.body) : error.body;
    const message = typeof body === 'object' && body !== null ? (body as { message?: unknown }).message : undefined;
    return `${error.code}${typeof message === 'string' ? ` ${message}` : ''}`;
  }
  if (error instanceof Error) return error.message.split('\n')[0] ?? error.message;
  return String(error);
}

export interface ReviewedUser {
  readonly username: string;
  readonly groups: readonly string[];
  readonly uid?: string;
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

export type TokenReviewResult = { readonly authenticated: true; readonly user: ReviewedUser } | { readonly authenticated: false; readonly error?: string };

/** What a SubjectAccessReview asks about: an API resource, or a plain URL path. */
export type AccessAttributes =
  | { readonly resourceAttributes: { verb: string; group: string; version?: string; resource: string; namespace?: string; name?: string } }
  | { readonly nonResourceAttributes: { verb: string; path: string } };

export class KindNotServedError extends Error {
  override name = 'KindNotServedError';
}

const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export class KubeApi {
  readonly kubeConfig: KubeConfig;
  readonly server: string;
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly coordination: CoordinationV1Api;
  private readonly objects: KubernetesObjectApi;
  private readonly authentication: AuthenticationV1Api;
  private readonly authorization: AuthorizationV1Api;
  private readonly agent: Promise<Agent>;
  private readonly fieldManager: string;

  constructor(kubeConfig: KubeConfig, options: KubeApiOptions = {}) {
    this.kubeConfig = kubeConfig;
    const cluster = kubeConfig.getCurrentCluster();
    if (cluster === null) throw new Error('the kubeconfig names no current cluster');
    this.server = cluster.server;
    this.fieldManager = options.fieldManager ?? 'kafka-broker-controller';
    this.agent = sharedAgent(kubeConfig, options.maxSockets ?? 32);
    const configuration = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kubeConfig },
      httpApi: wrapHttpLibrary(new UndiciHttp(this.agent)),
    });
    this.custom = new CustomObjectsApi(configuration);
    this.core = new CoreV1Api(configuration);
    this.coordination = new CoordinationV1Api(configuration);
    this.objects = new KubernetesObjectApi(configuration);
    this.authentication = new AuthenticationV1Api(configuration);
    this.authorization = new AuthorizationV1Api(configuration);
  }

  // ---- reviews (the admin API's authentication and authorization) ----

  /** A TokenReview: who the API server says holds `token` (for one of `audiences`, or its own when empty). */
  async reviewToken(token: string, audiences: readonly string[]): Promise<TokenReviewResult> {
    const review = await this.authentication.createTokenReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, ...(audiences.length === 0 ? {} : { audiences: [...audiences] }) } },
    });
    const status = review.status;
    if (status?.authenticated !== true || status.user?.username === undefined) return { authenticated: false, ...(status?.error === undefined ? {} : { error: status.error }) };
    return {
      authenticated: true,
      user: { username: status.user.username, groups: status.user.groups ?? [], ...(status.user.uid === undefined ? {} : { uid: status.user.uid }), ...(status.user.extra === undefined ? {} : { extra: status.user.extra }) },
    };
  }

  /** A SubjectAccessReview: whether the API server's authorizer allows `user` the access described. */
  async reviewAccess(user: ReviewedUser, attributes: AccessAttributes): Promise<boolean> {
    const review = await this.authorization.createSubjectAccessReview({
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: user.username,
          groups: [...user.groups],
          ...(user.uid === undefined ? {} : { uid: user.uid }),
          ...(user.extra === undefined ? {} : { extra: user.extra as Record<string, string[]> }),
          ...attributes,
        },
      },
    });
    return review.status?.allowed === true && review.status.denied !== true;
  }

  /** One page of a kind's objects in every namespace (or one); `continueToken` for the next page. */
  async list(info: KindInfo, options: { namespace?: string; limit?: number; continueToken?: string } = {}): Promise<ApiList> {
    const page = { limit: options.limit ?? 500, _continue: options.continueToken };
    if (info.group === '') {
      // Built-in kinds (ConfigMaps) come as client-node's typed models, timestamps as Date
      // objects; the JSON round trip makes them what the watch hands over (strings).
      const list = await this.objects.list(info.version, info.kind, options.namespace, undefined, undefined, undefined, undefined, undefined, page.limit, page._continue);
      return JSON.parse(JSON.stringify(list)) as ApiList;
    }
    const params = { group: info.group, version: info.version, plural: info.plural, ...page };
    const list: unknown = options.namespace === undefined
      ? await this.custom.listClusterCustomObject(params)
      : await this.custom.listNamespacedCustomObject({ ...params, namespace: options.namespace });
    return list as ApiList;
  }

  /** A JSON merge patch (RFC 7386) of an object; metadata changes (finalizers) go here. */
  async patch(info: KindInfo, namespace: string, name: string, patch: unknown): Promise<ApiObject> {
    const result: unknown = await this.custom.patchNamespacedCustomObject(
      { group: info.group, version: info.version, plural: info.plural, namespace, name, body: patch, fieldManager: this.fieldManager },
      MERGE_PATCH,
    );
    return result as ApiObject;
  }

  /** A JSON merge patch of the status subresource: the API ignores anything but `status` there. */
  async patchStatus(info: KindInfo, namespace: string, name: string, patch: unknown): Promise<ApiObject> {
    const result: unknown = await this.custom.patchNamespacedCustomObjectStatus(
      { group: info.group, version: info.version, plural: info.plural, namespace, name, body: patch, fieldManager: this.fieldManager },
      MERGE_PATCH,
    );
    return result as ApiObject;
  }

  // ---- OIDC identities (the tokens the dispatcher presents: controller/kubernetes/oidc-tokens.ts) ----

  /** A token for a ServiceAccount and one audience (TokenRequest), with its expiry. */
  async requestToken(namespace: string, name: string, audience: string, expirationSeconds: number): Promise<{ token: string; expiresAt: Date }> {
    const response = await this.core.createNamespacedServiceAccountToken({
      namespace,
      name,
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [audience], expirationSeconds } },
    });
    const status = response.status;
    if (status === undefined || status.token === '') throw new Error(`the API server issued no token for ${namespace}/${name}`);
    return { token: status.token, expiresAt: new Date(status.expirationTimestamp) };
  }

  /** The uids of a ServiceAccount's owners, or undefined when it does not exist. */
  async serviceAccountOwners(namespace: string, name: string): Promise<string[] | undefined> {
    try {
      const account = await this.core.readNamespacedServiceAccount({ namespace, name });
      return (account.metadata?.ownerReferences ?? []).map((owner) => owner.uid);
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** Creates a ServiceAccount owned by `owner` (deleted with it); one that exists already is left alone. */
  async ensureServiceAccount(namespace: string, name: string, owner: { apiVersion: string; kind: string; name: string; uid: string }): Promise<void> {
    try {
      await this.core.createNamespacedServiceAccount({
        namespace,
        fieldManager: this.fieldManager,
        body: {
          apiVersion: 'v1',
          kind: 'ServiceAccount',
          metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'kafka-broker' }, ownerReferences: [{ ...owner, controller: true, blockOwnerDeletion: false }] },
        },
      });
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
    }
  }

  /** A core/v1 Service, or undefined when it does not exist. */
  async serviceExists(namespace: string, name: string): Promise<boolean> {
    try {
      await this.core.readNamespacedService({ namespace, name });
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw error;
    }
  }

  /**
   * Any namespaced object by apiVersion and kind (the plural is found through discovery, which
   * client-node caches), or undefined when it does not exist. Throws when the kind is not served.
   */
  async read(apiVersion: string, kind: string, namespace: string, name: string): Promise<ApiObject | undefined> {
    try {
      const object: unknown = await this.objects.read({ apiVersion, kind, metadata: { namespace, name } });
      return JSON.parse(JSON.stringify(object)) as ApiObject;
    } catch (error) {
      // Discovery failing (the group/version is not served) or not listing the kind.
      if (error instanceof Error && /^(Failed to fetch resource metadata|Unrecognized API version and kind)/.test(error.message)) {
        throw new KindNotServedError(`the API server does not serve ${apiVersion} ${kind}`);
      }
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  // ---- Events (core/v1) ----

  createEvent(namespace: string, event: CoreV1Event): Promise<CoreV1Event> {
    return this.core.createNamespacedEvent({ namespace, body: event, fieldManager: this.fieldManager });
  }

  /** A merge patch of an Event (its count and last time, when it happens again). */
  patchEvent(namespace: string, name: string, patch: unknown): Promise<CoreV1Event> {
    return this.core.patchNamespacedEvent({ namespace, name, body: patch, fieldManager: this.fieldManager }, MERGE_PATCH);
  }

  async listEvents(namespace: string): Promise<CoreV1Event[]> {
    return (await this.core.listNamespacedEvent({ namespace })).items;
  }

  /**
   * A Secret's data, decoded, or undefined when it does not exist. One namespaced GET: the
   * controller never lists or watches Secrets.
   */
  /**
   * A ConfigMap by name (a single GET: the controller's role may name the ConfigMaps it reads), as
   * the watch would hand it over; undefined when it does not exist.
   */
  async readConfigMap(namespace: string, name: string): Promise<ApiObject | undefined> {
    try {
      const configMap = await this.core.readNamespacedConfigMap({ namespace, name });
      return { ...(JSON.parse(JSON.stringify(configMap)) as ApiObject), apiVersion: 'v1', kind: 'ConfigMap' };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async readSecret(namespace: string, name: string): Promise<Map<string, string> | undefined> {
    try {
      const secret = await this.core.readNamespacedSecret({ namespace, name });
      const data = new Map<string, string>();
      for (const [key, value] of Object.entries(secret.data ?? {})) data.set(key, Buffer.from(value, 'base64').toString('utf8'));
      return data;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  // ---- Leases (coordination.k8s.io/v1) ----

  async readLease(namespace: string, name: string): Promise<V1Lease | undefined> {
    try {
      return await this.coordination.readNamespacedLease({ namespace, name });
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  createLease(namespace: string, lease: V1Lease): Promise<V1Lease> {
    return this.coordination.createNamespacedLease({ namespace, body: lease, fieldManager: this.fieldManager });
  }

  /** Replaces the Lease; its `metadata.resourceVersion` makes this fail with 409 if another wrote first. */
  replaceLease(namespace: string, name: string, lease: V1Lease): Promise<V1Lease> {
    return this.coordination.replaceNamespacedLease({ namespace, name, body: lease, fieldManager: this.fieldManager });
  }

  async close(): Promise<void> {
    const agent = await this.agent;
    await agent.close().catch(() => agent.destroy());
  }
}

/** Lease times are RFC 3339 with microseconds (metav1.MicroTime). */
export function microTime(date: Date): V1MicroTime {
  return new V1MicroTime(date.getTime());
}

/** The TLS settings of the kubeconfig (CA, client certificate), for one keep-alive pool. */
async function sharedAgent(kubeConfig: KubeConfig, connections: number): Promise<Agent> {
  const options: https.RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(options);
  const cluster = kubeConfig.getCurrentCluster();
  return new Agent({
    connections,
    keepAliveTimeout: 30_000,
    connect: {
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      ...(options.cert === undefined ? {} : { cert: options.cert }),
      ...(options.key === undefined ? {} : { key: options.key }),
      ...(cluster?.skipTLSVerify ? { rejectUnauthorized: false } : {}),
      ...(cluster?.tlsServerName === undefined ? {} : { servername: cluster.tlsServerName }),
    },
  });
}

/** client-node's HTTP layer on undici: the request as client-node built it (URL, headers with credentials, body). */
class UndiciHttp implements PromiseHttpLibrary {
  constructor(private readonly agent: Promise<Agent>) {}

  async send(context: RequestContext): Promise<ResponseContext> {
    const body = context.getBody();
    const response = await request(context.getUrl(), {
      method: context.getHttpMethod() as 'GET',
      headers: context.getHeaders(),
      ...(typeof body === 'string' ? { body } : {}),
      ...(context.getSignal() === undefined ? {} : { signal: context.getSignal() }),
      dispatcher: await this.agent,
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
    });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    const data = Buffer.from(await response.body.arrayBuffer());
    return new ResponseContext(response.statusCode, headers, new SelfDecodingBody(Promise.resolve(data)));
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
