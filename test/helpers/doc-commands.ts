import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The shell commands of the docs, as `test/integration/docs-commands.test.ts` runs them. The
 * convention (docs/development.md, "Commands in the docs are tested"):
 * - every ```bash block with a `curl` command runs against a fresh demo gateway (`127.0.0.1:4000`
 *   becomes its address), command by command, in one shell per page: variables set by one command
 *   are there for the next, across blocks; `SMARTFLOW_MASTER_KEY` is exported;
 * - every HTTP answer must be 2xx, unless the command's last line ends with `# -> 429` (or
 *   `# -> 200, 429`): then every answer must have one of those statuses, and each listed status
 *   must occur;
 * - a command the demo cannot serve (a real provider key, another program) ends with
 *   `# needs: <what>`; it is not run, and the test lists it.
 */
export interface DocCommand {
  /** `docs/caching.md:38`: where the command starts. */
  where: string;
  text: string;
  /** Statuses every answer must be one of (undefined: any 2xx). */
  expect?: number[];
  /** Why the demo cannot run it. */
  needs?: string;
}

const MARK_EXPECT = /^#\s*->\s*(\d{3}(?:\s*,\s*\d{3})*)\s*$/;
const MARK_NEEDS = /^#\s*needs:\s*(\S.*)$/;

interface ScanState {
  single: boolean;
  double: boolean;
  depth: number;
}

/** Scans one line, carrying quote and `$(` state across lines; returns the trailing comment, if any. */
function scanLine(line: string, st: ScanState): { code: string; comment: string | undefined } {
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (st.single) {
      if (c === "'") st.single = false;
      continue;
    }
    if (c === '\\') {
      i++;
      continue;
    }
    if (st.double) {
      if (c === '"') st.double = false;
      continue;
    }
    if (c === "'") st.single = true;
    else if (c === '"') st.double = true;
    else if (c === '$' && line[i + 1] === '(') {
      st.depth++;
      i++;
    } else if (c === ')' && st.depth > 0) st.depth--;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return { code: line.slice(0, i), comment: line.slice(i).trim() };
  }
  return { code: line, comment: undefined };
}

/** Splits a bash block into commands: continuation lines, open quotes and `$(`, trailing pipes join lines; comment lines are dropped. */
export function splitCommands(block: string, file: string, firstLine: number): DocCommand[] {
  const commands: DocCommand[] = [];
  let lines: string[] = [];
  let start = 0;
  const st: ScanState = { single: false, double: false, depth: 0 };
  block.split('\n').forEach((line, i) => {
    if (lines.length === 0) {
      if (line.trim() === '' || line.trimStart().startsWith('#')) return;
      start = firstLine + i;
    }
    lines.push(line);
    const { code, comment } = scanLine(line, st);
    const end = code.trimEnd();
    if (st.single || st.double || st.depth > 0 || end.endsWith('\\') || end.endsWith('|') || end.endsWith('&&') || end.endsWith('||')) return;
    const command: DocCommand = { where: `${file}:${start}`, text: lines.join('\n') };
    const expect = comment ? MARK_EXPECT.exec(comment) : null;
    const needs = comment ? MARK_NEEDS.exec(comment) : null;
    if (expect) command.expect = expect[1]!.split(',').map((s) => Number(s.trim()));
    if (needs) command.needs = needs[1]!.trim();
    commands.push(command);
    lines = [];
  });
  if (lines.length > 0) commands.push({ where: `${file}:${start}`, text: lines.join('\n'), needs: 'nothing: the command never ends (an open quote or a trailing backslash)' });
  return commands;
}

/** The ```bash blocks of a markdown text that run curl, with the line each starts on. */
export function gatewayBlocks(markdown: string): Array<{ body: string; line: number }> {
  const blocks: Array<{ body: string; line: number }> = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(bash|sh|shell)\s*$/.test(lines[i]!)) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end === -1) break;
    const body = lines.slice(i + 1, end).join('\n');
    if (/(^|[\s$(|&;])curl\s/m.test(body)) blocks.push({ body, line: i + 2 });
    i = end;
  }
  return blocks;
}

/** README.md, then docs/*.md in name order: each page's commands, in reading order. */
export function docPages(root: string): Array<{ file: string; commands: DocCommand[] }> {
  const files = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
  return files
    .map((file) => ({
      file,
      commands: gatewayBlocks(readFileSync(join(root, file), 'utf8')).flatMap((b) => splitCommands(b.body, file, b.line)),
    }))
    .filter((p) => p.commands.length > 0);
}
