import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { TurnBatchedDestination } from '../../../src/log/turn-batched-destination.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'smartflow-log-dest-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

test('lines of one turn reach a file together, after the turn, in order', async () => {
  const path = join(dir, 'turn.log');
  const fd = openSync(path, 'w');
  const dest = new TurnBatchedDestination(fd);
  dest.write('{"n":1}\n');
  dest.write('{"n":2}\n');
  assert.equal(readFileSync(path, 'utf8'), '', 'nothing is written while the turn runs');
  await nextTurn();
  await nextTurn();
  assert.equal(readFileSync(path, 'utf8'), '{"n":1}\n{"n":2}\n');
  dest.write('{"n":3,"text":"é ✓"}\n');
  dest.flush();
  assert.equal(readFileSync(path, 'utf8'), '{"n":1}\n{"n":2}\n{"n":3,"text":"é ✓"}\n', 'flush() writes at once (the exit path)');
  closeSync(fd);
});

test('a full non-blocking pipe keeps the lines and delivers them whole once the reader drains it', async () => {
  const fifo = join(dir, 'fifo');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  // Read-write so that opening does not wait for a reader; non-blocking so a full pipe answers EAGAIN.
  const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  const dest = new TurnBatchedDestination(fd);
  const filler = `${'f'.repeat(1023)}\n`;
  const lines: string[] = [];
  for (let i = 0; i < 200; i++) lines.push(`${JSON.stringify({ i, pad: 'x'.repeat(500) })}\n`);
  // 200 KB into a 64 KB pipe nobody reads yet: the first flush fills it and the rest is held.
  for (let i = 0; i < 64; i++) dest.write(filler);
  for (const line of lines) dest.write(line);
  await nextTurn();
  let received = '';
  const chunk = Buffer.alloc(65536);
  const deadline = Date.now() + 10_000;
  while (received.split('\n').length - 1 < 64 + lines.length && Date.now() < deadline) {
    try {
      const n = readSync(fd, chunk);
      received += chunk.subarray(0, n).toString();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
  closeSync(fd);
  const got = received.split('\n').slice(0, -1);
  assert.equal(got.length, 64 + lines.length, 'every line arrives');
  assert.deepEqual(got.slice(64), lines.map((l) => l.slice(0, -1)), 'in order, none cut or interleaved');
});

test('lines logged just before process.exit() are written', async () => {
  const script = `
    import { createLogger } from './src/log/logger.ts';
    const log = createLogger({ level: 'info' });
    log.info({ step: 'last' }, 'goodbye');
    process.exit(0);
  `;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: join(import.meta.dirname, '../../..') });
  const line = JSON.parse(stdout.trim()) as { msg: string; step: string };
  assert.equal(line.msg, 'goodbye');
  assert.equal(line.step, 'last');
});
