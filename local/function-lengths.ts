// `npx tsx local/function-lengths.ts [--max 80] [DIR]`: every function in DIR's .ts files (default fargate/src) longer than --max lines, longest first, read with the TypeScript compiler API.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import ts from 'typescript';

/** One function-like node: where it is, what it is called, and its length in source lines (first to last, inclusive). */
export interface FunctionLength {
  file: string;
  name: string;
  line: number;
  lines: number;
}

/** The .ts files under `dir`, recursively (declaration files excluded). */
export function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Every function, method, accessor, constructor, arrow and function expression in `text`, with its length. */
export function functionLengths(file: string, text: string): FunctionLength[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: FunctionLength[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const last = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      out.push({ file, name: nameOf(node), line: first + 1, lines: last - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** `fn`, `Class.method`, `Class.constructor`, the variable or property an arrow is bound to, else `<anonymous>`. */
function nameOf(node: ts.Node): string {
  const own = (node as { name?: ts.Node }).name;
  const cls = ts.isClassLike(node.parent) ? `${node.parent.name?.text ?? '<class>'}.` : '';
  if (ts.isConstructorDeclaration(node)) return `${cls}constructor`;
  if (own && (ts.isIdentifier(own) || ts.isPrivateIdentifier(own) || ts.isStringLiteral(own))) return cls + own.text;
  const p = node.parent;
  if ((ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) && ts.isIdentifier(p.name)) return p.name.text;
  return '<anonymous>';
}

/** Functions under `dir` longer than `max` lines, longest first; file paths relative to `root`. */
export function longFunctions(dir: string, max: number, root = process.cwd()): FunctionLength[] {
  return sourceFiles(dir)
    .flatMap((f) => functionLengths(relative(root, f), readFileSync(f, 'utf8')))
    .filter((f) => f.lines > max)
    .sort((a, b) => b.lines - a.lines);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ options: { max: { type: 'string', default: '80' } }, allowPositionals: true });
  const max = Number(values.max);
  if (!Number.isInteger(max) || max < 1) throw new Error(`--max must be a positive whole number of lines, got ${values.max}`);
  const long = longFunctions(positionals[0] ?? 'fargate/src', max);
  for (const f of long) console.log(`${String(f.lines).padStart(4)}  ${f.file}:${f.line}  ${f.name}`);
  console.log(`${long.length} function(s) longer than ${max} lines`);
}
