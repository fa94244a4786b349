import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The demo's MCP server: @modelcontextprotocol/server-filesystem over STDIO on a folder of its own. */
export const DEMO_FILES = { alias: 'demo-files', file: 'welcome.txt', text: 'Welcome to Smartflow! This line was read from the demo folder by the demo-files MCP server.' } as const;

export interface DemoFiles {
  /** The folder the server may read and write. */
  dir: string;
  /** Its `mcp_servers:` entry in the demo's config. */
  server: { alias: string; description: string; transport: 'stdio'; command: string; args: string[] };
  close(): Promise<void>;
}

/**
 * The server's entry point, found the way Node finds the package from this module (in a clone,
 * after `npm install`: it is a devDependency), through the `bin` its package.json declares.
 * Null when the package is not installed (a production install without devDependencies).
 */
function filesystemServerEntry(): string | null {
  const require = createRequire(import.meta.url);
  try {
    const manifestPath = require.resolve('@modelcontextprotocol/server-filesystem/package.json');
    const manifest = require(manifestPath) as { bin?: string | Record<string, string> };
    const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin?.['mcp-server-filesystem'];
    return bin === undefined ? null : join(dirname(manifestPath), bin);
  } catch {
    return null;
  }
}

/** Creates the demo folder with a small file, and the server entry that serves it; null without the package. */
export async function createDemoFiles(): Promise<DemoFiles | null> {
  const entry = filesystemServerEntry();
  if (entry === null) return null;
  const dir = await mkdtemp(join(tmpdir(), 'smartflow-demo-files-'));
  await writeFile(join(dir, DEMO_FILES.file), `${DEMO_FILES.text}\n`);
  return {
    dir,
    server: { alias: DEMO_FILES.alias, description: `Demo: @modelcontextprotocol/server-filesystem over STDIO on ${dir}`, transport: 'stdio', command: process.execPath, args: [entry, dir] },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
