import type { RewindOutcome } from '../core/rewind.js';

/** Tables and durations as `kubectl` prints them. */

export interface ObjectLike {
  readonly kind: string;
  readonly apiVersion?: string;
  readonly metadata: { readonly name: string; readonly namespace: string; readonly creationTimestamp?: string; readonly generation?: number; readonly annotations?: Readonly<Record<string, string>>; readonly labels?: Readonly<Record<string, string>> };
  readonly spec?: Record<string, unknown>;
  readonly status?: {
    readonly conditions?: readonly { readonly type: string; readonly status: string; readonly reason?: string; readonly message?: string; readonly lastTransitionTime?: string }[];
    readonly observedGeneration?: number;
    readonly deadLetterSinkUri?: string;
    readonly address?: { readonly url?: string };
    readonly subscriberUri?: string;
    readonly subscribers?: readonly { readonly ready?: string }[];
    readonly physicalSubscription?: { readonly subscriberUri?: string };
    readonly channel?: { readonly kind?: string };
    readonly sinkUri?: string;
    /** Trigger, Kubernetes mode: the rewinds its annotations asked for (core/rewind.ts). */
    readonly rewinds?: readonly RewindOutcome[];
  };
}

export interface Column {
  readonly header: string;
  readonly value: (object: ObjectLike, now: number) => string;
}

const GAP = 3;

/** The columns of a table: with NAMESPACE first when it spans namespaces. */
export const withNamespaceColumn = (columns: readonly Column[], withNamespace: boolean): Column[] =>
  withNamespace ? [{ header: 'NAMESPACE', value: (o) => o.metadata.namespace }, ...columns] : [...columns];

/** The cells of one object's row. */
export const rowOf = (object: ObjectLike, columns: readonly Column[], now: number): string[] => columns.map((c) => c.value(object, now));

/** Column widths that fit every row. */
export const widthsOf = (rows: readonly (readonly string[])[]): number[] =>
  rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));

/** One line: cells padded to `widths` and separated by three spaces (a longer cell pushes the rest right). */
export const formatRow = (row: readonly string[], widths: readonly number[]): string =>
  row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]! + GAP))).join('').trimEnd();

/** Columns separated by three spaces, as `kubectl get` prints them. */
export function table(items: readonly ObjectLike[], columns: readonly Column[], withNamespace: boolean, now = Date.now()): string {
  const all = withNamespaceColumn(columns, withNamespace);
  const rows = [all.map((c) => c.header), ...items.map((o) => rowOf(o, all, now))];
  const widths = widthsOf(rows);
  return rows.map((r) => formatRow(r, widths)).join('\n') + '\n';
}

/** Kubernetes' short human durations (k8s.io/apimachinery duration.HumanDuration). */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 3) return `${m}m`;
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  const d = Math.floor(h / 24);
  if (h < 48) return `${h}h`;
  if (d < 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}
