import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { isMap, isNode, isSeq, LineCounter, parseAllDocuments, type Document } from 'yaml';
import type { Logger } from '../../core/logger.js';
import { closest } from '../../core/suggest.js';
import { apiVersionOf, KINDS } from '../api-kinds.js';
import { objectKey, type KnObject, type ObjectKey, type ObjectMeta } from '../resources.js';
import { formatProblem, type ResourceSource, type SourceProblem } from './source.js';

/**
 * A folder of manifests as the source of objects: every `*.yaml`, `*.yml` and `*.json` file in it
 * (not in subfolders, like `kubectl apply -f <dir>`), each holding one or more documents
 * (`---`-separated), a document being one object, a `kind: List`, or (JSON) an array of objects.
 *
 * The folder stands in for the API server, so this adapter does the API server's part:
 *  - it checks envelopes (apiVersion, kind, metadata.name) and defaults the namespace to `default`;
 *  - it gives each object a uid derived from kind/namespace/name — stable across restarts, which
 *    manifests need because consumer groups and the contract are keyed by them;
 *  - it counts `metadata.generation`, bumped whenever spec, data or annotations change;
 *  - it refuses a second definition of the same object (the first, by file name, wins).
 *
 * A file that cannot be read as manifests is reported (file, document, line) and never deletes
 * anything: its last good content stays in force; a file that never was good contributes the
 * documents that are fine. Only removing an object from the folder deletes it.
 *
 * Changes are picked up by fs.watch, debounced, and by a slow poll of file sizes and times
 * (editors and network filesystems do not always raise watch events). A changed file is applied
 * only once it has not been written for the debounce time: a file saved in place is truncated and
 * then written, and read in between it would be empty, so its objects would be deleted (a
 * trigger's consumer group with them) and come back as new ones a moment later.
 */

export interface ManifestSourceOptions {
  readonly dir: string;
  readonly logger: Logger;
  /** Quiet time after a watch event before the folder is read again, and after a file's last write before it is applied. */
  readonly debounceMs?: number;
  /** How often file sizes and times are checked when no watch event came. */
  readonly pollMs?: number;
  readonly now?: () => Date;
}

interface ParsedObject {
  readonly object: Omit<KnObject, 'metadata'> & { readonly metadata: Omit<ObjectMeta, 'uid' | 'generation' | 'creationTimestamp'> };
  readonly document: number;
  readonly line: number;
}

interface FileState {
  readonly mtimeMs: number;
  readonly size: number;
  readonly text: string;
  readonly objects: readonly ParsedObject[];
  readonly problems: readonly SourceProblem[];
  /** The objects in force: the last problem-free parse (or the fine documents of a never-good file). */
  readonly inForce: readonly ParsedObject[];
}

interface Tracked {
  readonly uid: string;
  readonly generation: number;
  readonly creationTimestamp: string;
  readonly fingerprint: unknown;
  /** The object handed out for this parse, kept so an unchanged object keeps its identity. */
  readonly parsed: ParsedObject;
  readonly object: KnObject;
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

export class ManifestSource implements ResourceSource {
  private readonly files = new Map<string, FileState>();
  private readonly tracked = new Map<ObjectKey, Tracked>();
  private current: KnObject[] = [];
  private problemList: SourceProblem[] = [];
  private reported = new Set<string>();
  private watcher: FSWatcher | undefined;
  private poller: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  /** What the refresh running now is to do once more when it is done. */
  private pending = { any: false, readAll: false, unsettled: false };
  private settling: NodeJS.Timeout | undefined;
  private onChange: () => void = () => {};
  private closed = false;
  private readonly logger: Logger;
  private readonly now: () => Date;

  constructor(private readonly options: ManifestSourceOptions) {
    this.logger = options.logger.child({ component: 'manifests' });
    this.now = options.now ?? (() => new Date());
  }

  async start(onChange: () => void): Promise<void> {
    // What is there at start is taken as it is: there is nothing older to keep in force.
    await this.refresh(true, true);
    this.onChange = onChange;
    try {
      this.watcher = watch(this.options.dir, () => this.schedule());
      this.watcher.on('error', () => undefined);
    } catch {
      this.watcher = undefined; // the poll still notices changes
    }
    this.poller = setInterval(() => void this.refresh(false), this.options.pollMs ?? 1000);
    this.poller.unref();
  }

  objects(): readonly KnObject[] {
    return this.current;
  }

  problems(): readonly SourceProblem[] {
    return this.problemList;
  }

  /**
   * Reads the folder again now, files written a moment ago included (tests, which have finished
   * writing when they call it; the watcher and the poll do it otherwise).
   */
  async reload(): Promise<void> {
    await this.refresh(true, true);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    clearInterval(this.poller);
    clearTimeout(this.debounce);
    clearTimeout(this.settling);
    await this.refreshing?.catch(() => undefined);
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.refresh(true), this.options.debounceMs ?? 150);
    this.debounce.unref();
  }

  /** One refresh at a time; a request during one runs once more after it. */
  private refresh(readAll: boolean, unsettled = false): Promise<void> {
    this.pending = { any: true, readAll: this.pending.readAll || readAll, unsettled: this.pending.unsettled || unsettled };
    if (this.refreshing !== undefined) return this.refreshing;
    this.refreshing = (async () => {
      try {
        while (this.pending.any && !this.closed) {
          const { readAll: all, unsettled: now } = this.pending;
          this.pending = { any: false, readAll: false, unsettled: false };
          await this.scan(all, now);
        }
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /** Whether a file written at `mtimeMs` may still be being written (a clock far off is not waited for). */
  private settlingFor(mtimeMs: number): number {
    const settleMs = this.options.debounceMs ?? 150;
    const age = Date.now() - mtimeMs;
    return age > -settleMs && age < settleMs ? settleMs - age : 0;
  }

  /** Looks at the files again once the one just written has settled (the poll would, later). */
  private recheckIn(ms: number): void {
    if (this.settling !== undefined || this.closed) return;
    this.settling = setTimeout(() => {
      this.settling = undefined;
      void this.refresh(false);
    }, Math.ceil(ms) + 5);
    this.settling.unref();
  }

  /**
   * Reads changed files (all of them when `readAll`: a watch event does not say reliably which);
   * one written within the debounce time is left as it was until it settles, unless `unsettled`.
   */
  private async scan(readAll: boolean, unsettled: boolean): Promise<void> {
    const dir = this.options.dir;
    let names: string[];
    try {
      names = (await readdir(dir, { withFileTypes: true }))
        .filter((e) => (e.isFile() || e.isSymbolicLink()) && EXTENSIONS.has(path.extname(e.name).toLowerCase()) && !e.name.startsWith('.'))
        .map((e) => e.name)
        .sort();
    } catch (error) {
      if (this.files.size === 0 && this.current.length === 0 && this.tracked.size === 0) throw error;
      this.setProblems([{ source: dir, message: `cannot read the folder: ${(error as Error).message}; keeping the objects loaded before` }]);
      return;
    }
    let changed = false;
    for (const name of [...this.files.keys()]) {
      if (!names.includes(name)) {
        this.files.delete(name);
        changed = true;
      }
    }
    for (const name of names) {
      const file = path.join(dir, name);
      const before = this.files.get(name);
      let info;
      try {
        info = await stat(file);
      } catch {
        continue; // removed between readdir and stat: the next scan sees it gone
      }
      if (!readAll && before !== undefined && before.mtimeMs === info.mtimeMs && before.size === info.size) continue;
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch {
        continue;
      }
      if (before !== undefined && before.text === text) {
        this.files.set(name, { ...before, mtimeMs: info.mtimeMs, size: info.size });
        continue;
      }
      const wait = unsettled ? 0 : this.settlingFor(info.mtimeMs);
      if (wait > 0) {
        // Its state stays as it was, so the next look sees it changed and reads it again.
        this.recheckIn(wait);
        continue;
      }
      const { objects, problems } = parseManifestFile(name, text);
      const inForce = problems.length === 0 ? objects : before !== undefined ? before.inForce : objects;
      this.files.set(name, { mtimeMs: info.mtimeMs, size: info.size, text, objects, problems, inForce });
      changed = true;
    }
    if (!changed && this.current.length + this.files.size > 0) return;
    this.merge();
  }

  /** Combines the files' objects in file-name order, refusing duplicates, and tracks generations. */
  private merge(): void {
    const problems: SourceProblem[] = [];
    const seen = new Map<ObjectKey, string>();
    const objects: KnObject[] = [];
    const now = this.now().toISOString();
    const present = new Set<ObjectKey>();
    for (const [name, file] of [...this.files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      problems.push(...file.problems);
      if (file.problems.length > 0 && file.inForce !== file.objects && file.inForce.length > 0) {
        problems.push({ source: name, message: `not applied: the last good version of ${name} (${file.inForce.length} object${file.inForce.length === 1 ? '' : 's'}) stays in force until the file is fixed` });
      }
      for (const parsed of file.inForce) {
        const { kind, metadata } = parsed.object;
        const key = objectKey(kind, metadata.namespace, metadata.name);
        const where = `${name} (document ${parsed.document})`;
        const first = seen.get(key);
        if (first !== undefined) {
          problems.push({ source: name, document: parsed.document, line: parsed.line, message: `${key} is already defined in ${first}; this definition is ignored` });
          continue;
        }
        seen.set(key, where);
        present.add(key);
        objects.push(this.track(key, parsed, now));
      }
    }
    for (const key of [...this.tracked.keys()]) if (!present.has(key)) this.tracked.delete(key);
    const changed = objects.length !== this.current.length || objects.some((o, i) => o !== this.current[i]);
    this.current = objects;
    this.setProblems(problems);
    if (changed) this.onChange();
  }

  private track(key: ObjectKey, parsed: ParsedObject, now: string): KnObject {
    const before = this.tracked.get(key);
    // Same parse, same object: the controller's caches recognise it by identity.
    if (before !== undefined && before.parsed === parsed) return before.object;
    const { object } = parsed;
    const fingerprint = { spec: object.spec, data: object.data, annotations: object.metadata.annotations, apiVersion: object.apiVersion };
    let identity: Pick<Tracked, 'uid' | 'generation' | 'creationTimestamp'>;
    if (before === undefined) identity = { uid: stableUid(key), generation: 1, creationTimestamp: now };
    else if (!isDeepStrictEqual(before.fingerprint, fingerprint)) identity = { ...before, generation: before.generation + 1 };
    else identity = before;
    const knObject: KnObject = {
      ...object,
      metadata: { ...object.metadata, uid: identity.uid, generation: identity.generation, creationTimestamp: identity.creationTimestamp },
    };
    this.tracked.set(key, { uid: identity.uid, generation: identity.generation, creationTimestamp: identity.creationTimestamp, fingerprint, parsed, object: knObject });
    return knObject;
  }

  private setProblems(problems: SourceProblem[]): void {
    this.problemList = problems;
    const now = new Set(problems.map(formatProblem));
    for (const text of now) if (!this.reported.has(text)) this.logger.warn({ problem: text }, `manifest problem: ${text}`);
    for (const text of this.reported) if (!now.has(text)) this.logger.info({ problem: text }, `manifest problem resolved: ${text}`);
    this.reported = now;
  }
}

/**
 * A name-based UUID (RFC 9562 §5.5, version 5: SHA-1 of a namespace and a name) of
 * `kind/namespace/name`: the same object gets the same uid on every start and every machine.
 */
export function stableUid(key: ObjectKey): string {
  const namespace = Buffer.from('6b61666b-612d-4272-8f6b-65722d756964'.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(namespace).update(key).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// ---- parsing one file (pure) ----

/** Kubernetes object names: DNS-1123 subdomains; namespaces: DNS-1123 labels. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function parseManifestFile(name: string, text: string): { objects: ParsedObject[]; problems: SourceProblem[] } {
  const objects: ParsedObject[] = [];
  const problems: SourceProblem[] = [];
  const lines = new LineCounter();
  let documents: Document.Parsed[];
  try {
    documents = parseAllDocuments(text, { lineCounter: lines, prettyErrors: true }) as Document.Parsed[];
  } catch (error) {
    return { objects, problems: [{ source: name, message: `cannot parse: ${(error as Error).message}` }] };
  }
  if (!Array.isArray(documents)) return { objects, problems }; // an empty stream
  documents.forEach((doc, index) => {
    const document = index + 1;
    if (doc.errors.length > 0) {
      for (const error of doc.errors) {
        const pos = error.linePos?.[0];
        problems.push({ source: name, document, line: pos?.line, column: pos?.col, message: `invalid YAML: ${firstLine(error.message)}` });
      }
      return;
    }
    const contents = doc.contents;
    if (contents === null) return; // an empty document, e.g. after a trailing `---`
    const lineOf = (offset: number | undefined): number => lines.linePos(offset ?? contents.range?.[0] ?? 0).line;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      problems.push({ source: name, document, line: lineOf(undefined), message: `invalid YAML: ${firstLine((error as Error).message)}` });
      return;
    }
    if (value === null || value === undefined) return;
    // A list of objects: a JSON array, or a Kubernetes `kind: List`.
    const itemsNode = isMap(contents) ? contents.get('items', true) : undefined;
    const items = Array.isArray(value)
      ? value.map((v, i) => ({ v, offset: isSeq(contents) ? nodeOffset(contents.items[i]) : undefined }))
      : isObject(value) && value['kind'] === 'List' && Array.isArray(value['items'])
        ? (value['items'] as unknown[]).map((v, i) => ({ v, offset: isSeq(itemsNode) ? nodeOffset(itemsNode.items[i]) : undefined }))
        : [{ v: value, offset: undefined }];
    for (const { v, offset } of items) {
      const line = lineOf(offset);
      const checked = checkEnvelope(v);
      if (typeof checked === 'string') problems.push({ source: name, document, line, message: checked });
      else objects.push({ object: checked, document, line });
    }
  });
  return { objects, problems };
}

function checkEnvelope(value: unknown): ParsedObject['object'] | string {
  if (!isObject(value)) return `expected a Kubernetes object (apiVersion, kind, metadata), found ${Array.isArray(value) ? 'a list' : typeof value}`;
  const { apiVersion, kind, metadata } = value;
  const missing = [typeof apiVersion === 'string' && apiVersion !== '' ? undefined : 'apiVersion', typeof kind === 'string' && kind !== '' ? undefined : 'kind']
    .filter((f) => f !== undefined);
  if (missing.length > 0) return `missing ${missing.join(' and ')}`;
  const unknown = checkKindAndVersion(String(kind), String(apiVersion));
  if (unknown !== undefined) return unknown;
  const what = `${String(kind)}`;
  if (!isObject(metadata)) return `${what}: missing metadata.name`;
  const name = metadata['name'];
  if (typeof name !== 'string' || name === '') return `${what}: missing metadata.name${metadata['generateName'] !== undefined ? ' (generateName is not supported here)' : ''}`;
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) return `${what} "${name}": metadata.name must be lower-case letters, digits, '-' and '.', starting and ending with a letter or digit`;
  const namespace = metadata['namespace'] ?? 'default';
  if (typeof namespace !== 'string' || namespace.length > 63 || !DNS_LABEL.test(namespace)) {
    return `${what} "${name}": metadata.namespace must be lower-case letters, digits and '-', starting and ending with a letter or digit`;
  }
  const annotations = stringMap(metadata['annotations']);
  const labels = stringMap(metadata['labels']);
  if (annotations === undefined) return `${what} "${name}": metadata.annotations must map names to strings (quote values such as "true" or "10")`;
  if (labels === undefined) return `${what} "${name}": metadata.labels must map names to strings`;
  const object: Record<string, unknown> = { apiVersion, kind, metadata: { name, namespace, annotations, labels } };
  if (value['spec'] !== undefined) object['spec'] = value['spec'];
  if (value['data'] !== undefined) object['data'] = value['data'];
  return object as unknown as ParsedObject['object'];
}

/**
 * The apiVersions served for each kind: the admin API's (api-kinds.ts), and KafkaChannel's v1 too,
 * which eventing-kafka-broker serves by conversion.
 */
const SERVED = new Map<string, readonly string[]>(KINDS.map((k) => [k.kind, k.kind === 'KafkaChannel' || k.kind === 'KafkaSource' ? [apiVersionOf(k), `${k.group}/v1`] : [apiVersionOf(k)]]));

/**
 * A kind or apiVersion this broker does not serve would otherwise be ignored without a word (a
 * `kind: Triger` that never delivers); it is a problem like a broken file, with the likely fix.
 */
export function checkKindAndVersion(kind: string, apiVersion: string): string | undefined {
  const versions = SERVED.get(kind);
  if (versions === undefined) {
    const guess = closest(kind, SERVED.keys());
    const hint = guess === undefined ? ` (served: ${[...SERVED.keys()].join(', ')})` : `; did you mean ${guess} (${SERVED.get(guess)![0]})?`;
    return `unknown kind "${kind}" (apiVersion ${apiVersion})${hint}`;
  }
  if (versions.includes(apiVersion)) return undefined;
  return `${kind}: apiVersion "${apiVersion}" is not served; did you mean ${versions[0]}?`;
}

function stringMap(value: unknown): Record<string, string> | undefined {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) return undefined;
  for (const v of Object.values(value)) if (typeof v !== 'string') return undefined;
  return value as Record<string, string>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nodeOffset(node: unknown): number | undefined {
  return isNode(node) ? node.range?.[0] : undefined;
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}
