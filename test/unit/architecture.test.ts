/**
 * The layout's rules, checked on the real import graph so they cannot erode quietly:
 * - no import cycle between modules (a cycle makes load order matter and hides a missing seam);
 * - components (broker-ingress, dispatcher, controller) never import each other, and core/
 *   imports no component: code two components need lives in core/.
 * The graph comes from TypeScript's own pre-processor (every static `import`/`export … from` and
 * `import()` of a relative path), so it sees exactly what the compiler sees.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCE_FOLDERS = ['bin', 'core', 'broker-ingress', 'dispatcher', 'controller'] as const;
const COMPONENTS = new Set(['broker-ingress', 'dispatcher', 'controller']);

type Graph = Map<string, string[]>;

function sourceFiles(): string[] {
  const files: string[] = [];
  for (const folder of SOURCE_FOLDERS) {
    for (const entry of readdirSync(path.join(root, folder), { recursive: true, encoding: 'utf8' })) {
      if (entry.endsWith('.ts') && !entry.endsWith('.d.ts')) files.push(path.join(folder, entry).split(path.sep).join('/'));
    }
  }
  return files.sort();
}

/** Resolves a relative specifier the way NodeNext does for our sources (`./x.js` is `./x.ts`). */
function resolve(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const target = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  for (const candidate of [target.replace(/\.js$/, '.ts'), target, `${target}.ts`, `${target}/index.ts`]) {
    if (candidate.endsWith('.ts') && existsSync(path.join(root, candidate))) return candidate;
  }
  return undefined;
}

/**
 * The static imports of a file. `import type` and `export type` are erased (verbatimModuleSyntax)
 * and so cannot order a load, but they still couple two modules: both kinds are checked. A
 * dynamic `import()` (the CLI's lazily loaded commands) loads on demand and is left out.
 */
function staticImports(file: string, includeTypes: boolean): string[] {
  const source = ts.createSourceFile(file, readFileSync(path.join(root, file), 'utf8'), ts.ScriptTarget.Latest, false);
  const specifiers: string[] = [];
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement) && ts.isStringLiteral(statement.moduleSpecifier)) {
      if (includeTypes || !statement.importClause?.isTypeOnly) specifiers.push(statement.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(statement) && statement.moduleSpecifier !== undefined && ts.isStringLiteral(statement.moduleSpecifier)) {
      if (includeTypes || !statement.isTypeOnly) specifiers.push(statement.moduleSpecifier.text);
    }
  }
  return specifiers;
}

/** Every import a file makes, dynamic ones included: for the component boundaries. */
function allImports(file: string): string[] {
  return ts.preProcessFile(readFileSync(path.join(root, file), 'utf8'), true, true).importedFiles.map((ref) => ref.fileName);
}

function importGraph(imports: (file: string) => string[] = allImports): Graph {
  const graph: Graph = new Map();
  for (const file of sourceFiles()) {
    const targets = imports(file)
      .map((specifier) => resolve(file, specifier))
      .filter((target): target is string => target !== undefined);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** Tarjan's strongly connected components; every component of more than one file is a cycle. */
export function cycles(graph: Graph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next += 1;
    stack.push(node);
    onStack.add(node);
    for (const target of graph.get(node) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      const selfLoop = (graph.get(node) ?? []).includes(node);
      if (component.length > 1 || selfLoop) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

const topFolder = (file: string): string => file.split('/')[0]!;

describe('architecture', () => {
  it('finds a cycle when there is one (the check itself works)', () => {
    const graph: Graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    assert.deepEqual(cycles(graph), [['a.ts', 'b.ts', 'c.ts']]);
    assert.deepEqual(cycles(new Map([['a.ts', ['b.ts']], ['b.ts', []]])), []);
  });

  it('reads the imports of every source folder', () => {
    const graph = importGraph();
    for (const folder of SOURCE_FOLDERS) assert.ok([...graph.keys()].some((f) => topFolder(f) === folder), `no files read in ${folder}/`);
    const edges = [...graph.values()].reduce((n, targets) => n + targets.length, 0);
    assert.ok(edges > graph.size, `only ${edges} imports found among ${graph.size} files`);
  });

  for (const [what, includeTypes] of [['run-time imports', false], ['type-only imports included', true]] as const) {
    it(`has no import cycle between modules (${what})`, () => {
      const found = cycles(importGraph((file) => staticImports(file, includeTypes)));
      assert.deepEqual(found, [], `import cycles:\n${found.map((c) => `  ${c.join(' -> ')}`).join('\n')}`);
    });
  }

  it('keeps components apart: no component imports another, and core imports none', () => {
    const violations: string[] = [];
    for (const [file, targets] of importGraph()) {
      const from = topFolder(file);
      for (const target of targets) {
        const to = topFolder(target);
        if (from === to || !COMPONENTS.has(to)) continue;
        if (COMPONENTS.has(from) || from === 'core') violations.push(`${file} imports ${target}`);
      }
    }
    assert.deepEqual(violations, []);
  });
});
