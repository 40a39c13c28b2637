/**
 * The one filter model shared by the contract, the controller (validation) and the dispatcher
 * (evaluation). Knative's two trigger filter fields map onto it:
 *  - legacy `spec.filter.attributes` -> `{ kind: 'attributes' }` (exact match; "" = must be present)
 *  - `spec.filters: [...]`          -> `{ kind: 'all', filters: [...] }` of the dialects below
 * A trigger with no filter at all has `filter: null` in the contract and matches every event.
 * Unknown kinds are a contract load error, never "match everything".
 */
export type Filter =
  | { readonly kind: 'attributes'; readonly attributes: Readonly<Record<string, string>> }
  | { readonly kind: 'exact'; readonly attributes: Readonly<Record<string, string>> }
  | { readonly kind: 'prefix'; readonly attributes: Readonly<Record<string, string>> }
  | { readonly kind: 'suffix'; readonly attributes: Readonly<Record<string, string>> }
  | { readonly kind: 'all'; readonly filters: readonly Filter[] }
  | { readonly kind: 'any'; readonly filters: readonly Filter[] }
  | { readonly kind: 'not'; readonly filter: Filter }
  | { readonly kind: 'cesql'; readonly expression: string };

export type FilterKind = Filter['kind'];
