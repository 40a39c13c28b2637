/**
 * The attribute a binary-mode header carries: its name without the 3-character prefix (`ce-` over
 * HTTP, `ce_` in Kafka). Cut once per header name: a new string on every event had to be looked
 * up again by V8 each time it became a property name, and the same few names come every time.
 * Bounded: emptied when full, so arbitrary names cannot grow it.
 */
const attributes = new Map<string, string>();
const MAX_ENTRIES = 1024;

export function attributeOfHeader(header: string): string {
  let attribute = attributes.get(header);
  if (attribute === undefined) {
    attribute = header.slice(3);
    if (attributes.size >= MAX_ENTRIES) attributes.clear();
    attributes.set(header, attribute);
  }
  return attribute;
}
