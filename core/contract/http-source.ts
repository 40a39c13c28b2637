import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { Agent, request } from 'undici';
import type { Logger } from '../logger.js';
import { parseContractJson } from './parse.js';
import type { Contract } from './types.js';
import { InProcessContractSource, type ContractSource } from './source.js';
import { sleep } from '../async.js';

const gunzipAsync = promisify(gunzip);
/** Longest pause between two contracts while they change quickly. */
const MAX_PACING_MS = 5000;

/**
 * The data plane's contract, fetched from the controller's admin API (`GET /contract`, see
 * controller/admin.ts) by long-polling: each request names the generation this process has and
 * is answered when the controller has another one (or, after `timeoutSeconds`, with 304).
 *
 *   ingress / dispatcher ──GET /contract?after=<g>, gzip──▶ controller (leader)
 *                        ◀── 200 contract g+1 (ETag "g+1") | 304 after 30 s ──
 *
 * The controller has no per-client state and sends each generation's bytes once per client; a
 * Kubernetes Service routes only to the leader (the standby is not ready). Failures (controller
 * restarting, leader changing, an invalid document) keep the last good contract in force and are
 * retried with capped, jittered exponential backoff. While contracts change faster than this
 * process parses them (thousands of triggers being applied), it waits as long as the last parse
 * took before asking again, so that parsing takes at most half of its time.
 *
 * Generations only go up inside one data-plane process: a controller whose count went back (its
 * Lease was recreated) is followed anyway, its generations shifted above the last one applied.
 */

export interface HttpContractSourceOptions {
  /** The controller's contract URL, e.g. `http://kafka-broker-controller.knative-eventing.svc:9090/contract`. */
  readonly url: string;
  readonly logger: Logger;
  /** How long the controller may hold a request before answering 304. */
  readonly timeoutSeconds?: number;
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  readonly random?: () => number;
  /**
   * The bearer token for the controller's admin API, asked for before every request: a token
   * file is read each time, so a rotated ServiceAccount token is used as soon as the kubelet
   * writes it.
   */
  readonly token?: () => string | undefined | Promise<string | undefined>;
  /**
   * Who is asking: each poll then tells the controller the generation this process applied
   * (`applied`, `process`, `role`), from which it sets its resources' DataPlaneAvailable.
   */
  readonly reportAs?: { readonly process: string; readonly role: 'ingress' | 'dispatcher' };
}

export interface HttpContractStats {
  readonly requests: number;
  readonly contracts: number;
  readonly notModified: number;
  readonly errors: number;
  /** Response body bytes as they came over the wire (gzipped). */
  readonly bytesReceived: number;
  /** The same bodies decompressed. */
  readonly bytesDecoded: number;
  readonly generation: number | undefined;
}

export class HttpContractSource implements ContractSource {
  private readonly inner = new InProcessContractSource();
  private readonly agent: Agent;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  /** The generation the controller last sent (its ETag), whether or not it was valid. */
  private seen: number | undefined;
  private shift = 0;
  /** The controller's generation (as it numbered it) last applied, for the report. */
  private appliedAsSent = 0;
  private readonly firstWaiters: ((contract: Contract) => void)[] = [];
  private counters = { requests: 0, contracts: 0, notModified: 0, errors: 0, bytesReceived: 0, bytesDecoded: 0 };
  private failing = false;
  private readonly timeoutSeconds: number;

  constructor(private readonly options: HttpContractSourceOptions) {
    this.timeoutSeconds = options.timeoutSeconds ?? 30;
    // Held connections are the point: one per process, kept alive between polls.
    this.agent = new Agent({ keepAliveTimeout: 60_000, headersTimeout: (this.timeoutSeconds + 30) * 1000, bodyTimeout: (this.timeoutSeconds + 30) * 1000 });
  }

  /** Starts polling (idempotent). */
  start(): this {
    this.loop ??= this.run();
    return this;
  }

  current(): Contract | undefined {
    return this.inner.current();
  }

  subscribe(listener: (contract: Contract) => void): () => void {
    return this.inner.subscribe(listener);
  }

  /** The first contract received (at once if there is one). */
  first(): Promise<Contract> {
    const now = this.inner.current();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise((resolve) => this.firstWaiters.push(resolve));
  }

  stats(): HttpContractStats {
    return { ...this.counters, generation: this.inner.current()?.generation };
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.loop?.catch(() => undefined);
    await this.agent.close().catch(() => this.agent.destroy());
  }

  private async run(): Promise<void> {
    const { logger } = this.options;
    const min = this.options.retryMinMs ?? 250;
    const max = this.options.retryMaxMs ?? 10_000;
    let delay = min;
    while (!this.abort.signal.aborted) {
      try {
        const busyMs = await this.fetchOnce();
        delay = min;
        // While contracts change faster than they are parsed (thousands of triggers being
        // applied), spend at most half the time parsing: wait as long as the last one took.
        if (busyMs > 0) await sleep(Math.min(MAX_PACING_MS, busyMs), this.abort.signal);
        if (this.failing) logger.info({ url: this.options.url }, 'contract: the controller answers again');
        this.failing = false;
      } catch (error) {
        if (this.abort.signal.aborted) return;
        this.counters.errors++;
        const message = error instanceof Error ? error.message : String(error);
        // One warning per outage, then quiet retries: a leader change is routine.
        if (!this.failing) logger.warn({ url: this.options.url, err: error }, `contract: cannot fetch (${message}); keeping generation ${this.inner.current()?.generation ?? 'none'} and retrying`);
        this.failing = true;
        const jittered = delay * (0.5 + (this.options.random ?? Math.random)());
        delay = Math.min(max, delay * 2);
        await sleep(jittered, this.abort.signal);
      }
    }
  }

  /** One request; returns how long decoding and applying a new contract took (0 when none came). */
  private async fetchOnce(): Promise<number> {
    // Generation 0 is never published: `after=0` waits for the first contract.
    const after = this.seen ?? 0;
    const url = new URL(this.options.url);
    url.searchParams.set('after', String(after));
    url.searchParams.set('timeoutSeconds', String(this.timeoutSeconds));
    const reportAs = this.options.reportAs;
    if (reportAs !== undefined) {
      url.searchParams.set('applied', String(this.appliedAsSent));
      url.searchParams.set('process', reportAs.process);
      url.searchParams.set('role', reportAs.role);
    }
    this.counters.requests++;
    const token = await this.options.token?.();
    const response = await request(url, {
      dispatcher: this.agent,
      signal: this.abort.signal,
      headers: { accept: 'application/json', 'accept-encoding': 'gzip', 'if-none-match': `"${after}"`, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    });
    const body = Buffer.from(await response.body.arrayBuffer());
    this.counters.bytesReceived += body.length;
    if (response.statusCode === 304) {
      this.counters.notModified++;
      return 0;
    }
    const started = performance.now();
    if (response.statusCode === 401 || response.statusCode === 403) {
      const refused = response.statusCode === 401 ? (token === undefined ? 'needs a token' : 'refused the token') : 'does not allow this identity to read it';
      throw new Error(`GET ${this.options.url}: HTTP ${response.statusCode}: the controller ${refused}`);
    }
    if (response.statusCode !== 200) throw new Error(`GET ${this.options.url}: HTTP ${response.statusCode}`);
    const encoding = String(response.headers['content-encoding'] ?? '');
    const text = (encoding === 'gzip' ? await gunzipAsync(body) : body).toString('utf8');
    this.counters.bytesDecoded += Buffer.byteLength(text);
    if (text.trim() === 'null') return 0;
    const etag = /"(\d+)"/.exec(String(response.headers['etag'] ?? ''))?.[1];
    let contract: Contract;
    try {
      contract = parseContractJson(text);
    } catch (error) {
      // Wait for the next generation rather than fetch this one again and again.
      if (etag !== undefined) this.seen = Number(etag);
      this.options.logger.error({ url: this.options.url, err: error }, `contract generation ${etag ?? '?'} is invalid; keeping generation ${this.inner.current()?.generation ?? 'none'}`);
      return performance.now() - started;
    }
    this.seen = contract.generation;
    this.counters.contracts++;
    this.publish(contract);
    return performance.now() - started;
  }

  private publish(contract: Contract): void {
    const current = this.inner.current();
    let generation = contract.generation + this.shift;
    if (current !== undefined && generation <= current.generation) {
      this.shift = current.generation + 1 - contract.generation;
      this.options.logger.warn(
        { received: contract.generation, applied: current.generation },
        `the controller's contract generation went back (received ${contract.generation}, generation ${current.generation} is in force); applying it as ${contract.generation + this.shift}`,
      );
      generation = contract.generation + this.shift;
    }
    const applied = generation === contract.generation ? contract : { ...contract, generation };
    this.inner.publish(applied);
    this.appliedAsSent = contract.generation;
    for (const resolve of this.firstWaiters.splice(0)) resolve(applied);
  }
}

