import { kGetApi, type Base } from '@platformatic/kafka';

type GetApi = (name: string, callback: (error: Error | null, api: unknown) => void) => void;

/**
 * Has one client answer its look-up of a protocol API with `ours` where the library would answer
 * with `theirs` (the same API key and version; any other version stays the library's). The
 * client's own look-up, not the library's prototype: other clients are unchanged.
 */
export function answerApiLookUp(client: Base, theirs: unknown, ours: unknown): void {
  const target = client as unknown as Record<typeof kGetApi, GetApi>;
  const getApi = target[kGetApi].bind(client);
  target[kGetApi] = (name, callback) => getApi(name, (error, api) => callback(error, error === null && api === theirs ? ours : api));
}
