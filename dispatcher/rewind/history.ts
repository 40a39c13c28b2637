import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BrokerError } from '../../core/errors.js';
import { isRecord } from '../../core/values.js';
import type { PartitionMove } from './plan.js';

/** One rewind or skip as recorded: who, when, from (the moves' current positions), to. */
export interface RewindRecord {
  readonly mode: 'rewind' | 'skip';
  readonly who: string;
  readonly at: string;
  readonly to: string;
  readonly moves: readonly PartitionMove[];
  readonly redelivered: number;
  readonly skipped: number;
}

/**
 * Where the record of rewinds and skips is kept (who, when, from, to), bounded: the last
 * `PER_TRIGGER` per trigger, for at most `TRIGGERS` triggers (those rewound longest ago go first).
 *
 * `start` keeps it in a JSON file in its state folder, beside the admin token
 * (`$XDG_STATE_HOME/kafka-broker/rewinds.json`), written whole to a temporary file and renamed
 * into place, so a crash leaves the old file or the new one; each new record is added to the file
 * as it is then, so two `start`s sharing the folder keep each other's. We chose a file over Kafka (the
 * group's commit metadata, or a compacted topic) because it is the simplest thing that is correct
 * here: commit metadata is rewritten by every commit and limited to a few kilobytes per
 * partition, and a compacted topic is one more topic to create and clean up for a history that
 * only the one `start` process writes. In Kubernetes the Trigger's `status.rewinds` is the record.
 */
export interface RewindHistoryStore {
  load(): Promise<ReadonlyMap<string, readonly RewindRecord[]>>;
  /** Adds one record to what is stored (re-read first: another `start` may share the folder). */
  add(trigger: string, record: RewindRecord): Promise<void>;
}

export const PER_TRIGGER = 20;
export const TRIGGERS = 1000;

/** Adds a record to a trigger's list (pure), keeping the bounds; the map is ordered oldest change first. */
export function withRecord(history: ReadonlyMap<string, readonly RewindRecord[]>, trigger: string, record: RewindRecord): Map<string, readonly RewindRecord[]> {
  const next = new Map(history);
  const list = [...(next.get(trigger) ?? []), record].slice(-PER_TRIGGER);
  next.delete(trigger);
  next.set(trigger, list);
  while (next.size > TRIGGERS) next.delete(next.keys().next().value!);
  return next;
}

const FILE_VERSION = 1;

/** The history in one JSON file: `{"version":1,"triggers":[{"trigger":"ns/name","records":[...]}]}`. */
export class FileRewindHistory implements RewindHistoryStore {
  constructor(private readonly file: string) {}

  async load(): Promise<ReadonlyMap<string, readonly RewindRecord[]>> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw new BrokerError('CONFIG_INVALID', `the rewind history ${this.file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
    const bad = (why: string): BrokerError => new BrokerError('CONFIG_INVALID', `the rewind history ${this.file} is not valid (${why}); move it away to start a new one`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw bad('not JSON');
    }
    if (!isRecord(body) || body['version'] !== FILE_VERSION || !Array.isArray(body['triggers'])) throw bad(`expected {"version":${FILE_VERSION},"triggers":[...]}`);
    const history = new Map<string, readonly RewindRecord[]>();
    for (const entry of body['triggers'] as unknown[]) {
      if (!isRecord(entry) || typeof entry['trigger'] !== 'string' || !Array.isArray(entry['records'])) throw bad('an entry without trigger and records');
      const records = (entry['records'] as unknown[]).filter(isRewindRecord);
      history.set(entry['trigger'], records.slice(-PER_TRIGGER));
    }
    return history;
  }

  async add(trigger: string, record: RewindRecord): Promise<void> {
    const history = withRecord(await this.load(), trigger, record);
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const body = { version: FILE_VERSION, triggers: [...history].map(([trigger, records]) => ({ trigger, records })) };
    const temporary = `${this.file}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(body)}\n`, { mode: 0o600 });
    await rename(temporary, this.file);
  }
}

function isRewindRecord(value: unknown): value is RewindRecord {
  return isRecord(value) && (value['mode'] === 'rewind' || value['mode'] === 'skip') && typeof value['who'] === 'string' && typeof value['at'] === 'string'
    && typeof value['to'] === 'string' && Array.isArray(value['moves']) && typeof value['redelivered'] === 'number' && typeof value['skipped'] === 'number';
}
