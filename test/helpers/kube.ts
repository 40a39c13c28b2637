import { after } from 'node:test';
import { Agent, fetch } from 'undici';
import { ensureKubeBinaries } from '../../scripts/kube/build.js';
import { startKubeApiServer, type KubeApiServer, type StartKubeApiServerOptions } from '../../scripts/kube/kube.js';

/**
 * The Kubernetes-mode tests talk to a real kube-apiserver backed by a real etcd
 * (scripts/kube/kube.ts), started once per test file, with crds/ applied and Established:
 *
 *   const kube = await startTestKube();   // at the top of the test file; stopped by `after`
 *   const created = await kube.create('/apis/eventing.knative.dev/v1/namespaces/default/brokers', broker);
 *
 * The first run on a machine builds the binaries (many minutes; progress on stderr); later runs
 * start in seconds. KUBE_APISERVER_BIN / ETCD_BIN point at existing binaries instead.
 */
export async function startTestKube(options: Omit<StartKubeApiServerOptions, 'env' | 'onProgress'> = {}): Promise<KubeTestClient> {
  // A build is worth watching (minutes); a warm start is not: its failures carry the logs' tails.
  const binaries = options.binaries ?? (await ensureKubeBinaries({ env: process.env, onProgress: (line) => process.stderr.write(`[kube] ${line}\n`) }));
  const server = await startKubeApiServer({ ...options, binaries });
  const client = new KubeTestClient(server);
  after(async () => {
    await client.close();
    await server.stop();
  });
  return client;
}

export interface KubeResponse<T = any> {
  readonly status: number;
  /** The parsed JSON body (a Kubernetes object, list or Status), or the raw text if it isn't JSON. */
  readonly body: T;
}

export interface KubeRequestOptions {
  readonly body?: unknown;
  /** Defaults to application/json; patches take application/merge-patch+json, application/json-patch+json or application/apply-patch+yaml. */
  readonly contentType?: string;
  /** Another identity's bearer token (see StartKubeApiServerOptions.users); the admin's by default. */
  readonly token?: string;
  /** Defaults to application/json; see TABLE for what `kubectl get` asks for. */
  readonly accept?: string;
}

/** The Accept header that makes the API server answer with a Table of the printer columns. */
export const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io';

/** A deliberately thin REST client: tests see the API server's own status codes and bodies. */
export class KubeTestClient {
  private readonly agent: Agent;

  constructor(readonly server: KubeApiServer) {
    this.agent = new Agent({ connect: { ca: server.ca } });
  }

  async request<T = any>(method: string, path: string, options: KubeRequestOptions = {}): Promise<KubeResponse<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${options.token ?? this.server.token}`, accept: options.accept ?? 'application/json' };
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/json';
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    }
    const response = await fetch(`${this.server.url}${path}`, { method, headers, body, dispatcher: this.agent });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed as T };
  }

  get<T = any>(path: string, options?: Omit<KubeRequestOptions, 'body'>): Promise<KubeResponse<T>> {
    return this.request('GET', path, options);
  }

  create<T = any>(collectionPath: string, object: unknown, options?: Omit<KubeRequestOptions, 'body'>): Promise<KubeResponse<T>> {
    return this.request('POST', collectionPath, { ...options, body: object });
  }

  /** A JSON merge patch (RFC 7386) unless `contentType` says otherwise. */
  patch<T = any>(path: string, patch: unknown, options?: Omit<KubeRequestOptions, 'body'>): Promise<KubeResponse<T>> {
    return this.request('PATCH', path, { contentType: 'application/merge-patch+json', ...options, body: patch });
  }

  delete<T = any>(path: string, options?: Omit<KubeRequestOptions, 'body'>): Promise<KubeResponse<T>> {
    return this.request('DELETE', path, options);
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** The REST path of a namespaced resource of `eventing.knative.dev/v1` (the collection when `name` is absent). */
export function eventingPath(plural: 'brokers' | 'triggers', namespace: string, name?: string, subresource?: 'status'): string {
  return [`/apis/eventing.knative.dev/v1/namespaces/${namespace}/${plural}`, name, subresource].filter((part) => part !== undefined).join('/');
}
