import assert from 'node:assert/strict';

export interface DocCommands {
  /** Each command of the page's ```sh blocks, one a line (continuations joined), comments left out. */
  readonly commands: string[];
  /** The page's ```text blocks: the output it shows. */
  readonly outputs: string[];
}

/** The commands and outputs of a Markdown page, for tests that run a page as a user types it. */
export function docCommands(markdown: string): DocCommands {
  const blocks = (lang: string): string[] => [...markdown.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
  const commands = blocks('sh')
    .flatMap((block) => block.replace(/\\\n\s*/g, '').split('\n'))
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  return { commands, outputs: blocks('text') };
}

/** The page's commands are exactly the expected ones (a string is equal, a RegExp matches), in order. */
export function assertCommands(commands: readonly string[], expected: readonly (string | RegExp)[]): void {
  assert.equal(commands.length, expected.length, commands.join('\n'));
  commands.forEach((command, i) => {
    const want = expected[i]!;
    if (typeof want === 'string') assert.equal(command, want);
    else assert.match(command, want);
  });
}
