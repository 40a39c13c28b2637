/**
 * ISO 8601 durations as Knative's delivery fields use them (`PT0.2S`, `PT1M30S`, `P1D`), turned
 * into milliseconds for the contract.
 *
 * Grammar (ISO 8601-1 §5.5.2.4, "alternative" and week forms left out as Knative's parser does):
 *   [-]P[nY][nM][nW][nD][T[nH][nM][nS]]   at least one component; a `T` needs a time component;
 *   the smallest component present may carry a decimal fraction (`.` or `,`).
 * Calendar units have no fixed length; like Knative's parser we count a year as 365 days and a
 * month as 30 days, which only matters for absurdly long backoffs.
 */

const PATTERN = /^(-)?P(?:(\d+(?:[.,]\d+)?)Y)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)W)?(?:(\d+(?:[.,]\d+)?)D)?(?:T(?:(\d+(?:[.,]\d+)?)H)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$/;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const UNIT_MS = [365 * DAY, 30 * DAY, 7 * DAY, DAY, HOUR, MINUTE, SECOND] as const;

export type DurationResult = { readonly ok: true; readonly ms: number } | { readonly ok: false; readonly message: string };

/** Parses an ISO 8601 duration; the result is rounded to whole milliseconds and may be negative. */
export function parseDuration(text: string): DurationResult {
  const match = PATTERN.exec(text);
  const invalid = { ok: false, message: `not an ISO 8601 duration (e.g. PT0.5S, PT1M): "${text}"` } as const;
  if (match === null) return invalid;
  const parts = match.slice(2);
  if (parts.every((p) => p === undefined)) return invalid;
  if (text.includes('T') && parts.slice(4).every((p) => p === undefined)) return invalid;
  // Only the last (smallest) component present may be fractional.
  const present = parts.map((p, i) => (p === undefined ? -1 : i)).filter((i) => i >= 0);
  const fractional = present.filter((i) => /[.,]/.test(parts[i]!));
  if (fractional.length > 1 || (fractional.length === 1 && fractional[0] !== present[present.length - 1])) return invalid;
  let ms = 0;
  parts.forEach((part, i) => {
    if (part !== undefined) ms += Number(part.replace(',', '.')) * UNIT_MS[i]!;
  });
  if (!Number.isFinite(ms) || ms > Number.MAX_SAFE_INTEGER) return { ok: false, message: `duration too long: "${text}"` };
  const rounded = Math.round(ms);
  return { ok: true, ms: match[1] === '-' && rounded !== 0 ? -rounded : rounded };
}
