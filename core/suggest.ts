/**
 * "Did you mean": the known name closest to a misspelt one. Used for command-line flags and
 * subcommands (bin/) and for manifests' kinds and apiVersions (controller/sources/manifests.ts).
 */

/** Edits (insert, delete, substitute one character) that turn `a` into `b` (Levenshtein distance). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  // One row of the dynamic-programming table at a time: O(|b|) memory.
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The candidate closest to `word` (case-insensitively) within `maxDistance` edits, or undefined.
 * Ties go to the earlier candidate, so callers list the likelier names first.
 */
export function closest(word: string, candidates: Iterable<string>, maxDistance = 2): string | undefined {
  let best: string | undefined;
  let bestDistance = maxDistance + 1;
  const lower = word.toLowerCase();
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** `; did you mean X?` when a close name exists, else ''. */
export function didYouMean(word: string, candidates: Iterable<string>, maxDistance = 2): string {
  const match = closest(word, candidates, maxDistance);
  return match === undefined ? '' : `; did you mean ${match}?`;
}
