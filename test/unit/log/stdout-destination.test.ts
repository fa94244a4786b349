import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const LOGGER = fileURLToPath(new URL('../../../src/log/logger.ts', import.meta.url));

/** Runs `script` in a child with the logger imported as `createLogger`; resolves with its stdout lines in order. */
function run(script: string): Promise<Array<{ line: Record<string, unknown> }>> {
  const code = `import { createLogger } from ${JSON.stringify(LOGGER)};\n${script}`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Array<{ line: Record<string, unknown> }> = [];
  let pending = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      lines.push({ line: JSON.parse(pending.slice(0, nl)) as Record<string, unknown> });
      pending = pending.slice(nl + 1);
    }
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', () => resolve(lines));
  });
}

test('lines gathered for a batched write still reach stdout when the process exits at once', async () => {
  const lines = await run(`const log = createLogger({ level: 'info' }); for (let i = 0; i < 3; i++) log.info({ i }, 'line'); process.exit(0);`);
  assert.deepEqual(lines.map((l) => l.line['i']), [0, 1, 2]);
  assert.match(String(lines[0]!.line['time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

test('a lone line is written within the flush interval, not held until more arrive', async () => {
  // The marker is written straight to the file descriptor 600 ms after the line, then the process
  // exits: the line must already be out (the periodic flush runs every 100 ms), not flushed at exit.
  const lines = await run(`import { writeSync } from 'node:fs'; const log = createLogger({ level: 'info' }); log.info('alone'); setTimeout(() => { writeSync(1, '{"marker":true}\\n'); process.exit(0); }, 600);`);
  assert.deepEqual(lines.map((l) => l.line['msg'] ?? l.line['marker']), ['alone', true]);
});
