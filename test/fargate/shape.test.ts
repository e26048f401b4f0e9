// Shape of the media service's source: no function in fargate/src longer than 80 lines (read with the TypeScript compiler API), except the one named below.
import { describe, expect, it } from 'vitest';
import { functionLengths, longFunctions, sourceFiles } from '../../local/function-lengths';

const MAX_LINES = 80;
/** Known and owned elsewhere (issue 14): the task's call wiring. */
const EXEMPT = new Set(['fargate/src/runtime.ts createCallHandler']);

describe('source shape', () => {
  it(`no function in fargate/src is longer than ${MAX_LINES} lines`, () => {
    const long = longFunctions('fargate/src', MAX_LINES).filter((f) => !EXEMPT.has(`${f.file} ${f.name}`));
    expect(long.map((f) => `${f.file}:${f.line} ${f.name} (${f.lines} lines)`)).toEqual([]);
  });

  it('the check sees the service: every source file, and functions of every kind with their names and lengths', () => {
    expect(sourceFiles('fargate/src').length).toBeGreaterThan(50);
    const text = [
      'export function top() {', '  return 1;', '}',
      'class K {', '  constructor() {}', '  m(): void {', '    const inner = () => {', '      void 0;', '    };', '  }', '  get g() { return 1; }', '}',
      'const o = { p: function () { return 2; } };',
    ].join('\n');
    expect(functionLengths('x.ts', text).map((f) => [f.name, f.line, f.lines])).toEqual([
      ['top', 1, 3], ['K.constructor', 5, 1], ['K.m', 6, 5], ['inner', 7, 3], ['K.g', 11, 1], ['p', 13, 1],
    ]);
  });

  it('a function one line over the limit is reported, one at the limit is not', () => {
    const fn = (name: string, bodyLines: number) => [`function ${name}() {`, ...Array.from({ length: bodyLines }, () => '  void 0;'), '}'].join('\n');
    const found = functionLengths('x.ts', `${fn('atLimit', MAX_LINES - 2)}\n${fn('over', MAX_LINES - 1)}`).filter((f) => f.lines > MAX_LINES);
    expect(found.map((f) => [f.name, f.lines])).toEqual([['over', MAX_LINES + 1]]);
  });
});
