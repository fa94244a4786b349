import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compose } from '../../../src/pipeline/compose.js';
import type { GatewayContext, Next, Stage } from '../../../src/pipeline/types.js';

/**
 * compose() builds the request onion. Stages only see the context; these tests never read it,
 * so an empty object stands in for one.
 */
const ctx = {} as GatewayContext;

/** A stage that records when it enters and when control comes back to it. */
function tracer(name: string, trace: string[]): Stage {
  return {
    name,
    async run(_ctx, next) {
      trace.push(`${name}>`);
      await next();
      trace.push(`<${name}`);
    },
  };
}

describe('compose', () => {
  test('runs stages in onion order: before-parts outside-in, after-parts inside-out', async () => {
    const trace: string[] = [];
    await compose([tracer('a', trace), tracer('b', trace), tracer('c', trace)])(ctx);
    assert.deepEqual(trace, ['a>', 'b>', 'c>', '<c', '<b', '<a']);
  });

  test('an after-part runs only once everything below it has finished (including async work)', async () => {
    const trace: string[] = [];
    const slow: Stage = {
      name: 'slow',
      async run() {
        await new Promise((r) => setTimeout(r, 20));
        trace.push('slow done');
      },
    };
    await compose([tracer('outer', trace), slow])(ctx);
    assert.deepEqual(trace, ['outer>', 'slow done', '<outer']);
  });

  test('passes the same context object to every stage', async () => {
    const seen: GatewayContext[] = [];
    const grab: Stage = { name: 'grab', async run(c, next) { seen.push(c); await next(); } };
    await compose([grab, grab, grab])(ctx);
    assert.equal(seen.length, 3);
    for (const c of seen) assert.equal(c, ctx);
  });

  test('the last stage may call next(): it resolves without running anything', async () => {
    const trace: string[] = [];
    await compose([tracer('only', trace)])(ctx);
    assert.deepEqual(trace, ['only>', '<only']);
  });

  test('an empty pipeline resolves', async () => {
    await compose([])(ctx);
  });

  test('a stage may call next() more than once (retry): the stages below run again each time', async () => {
    const trace: string[] = [];
    let attempts = 0;
    const retry: Stage = {
      name: 'retry',
      async run(_ctx, next) {
        for (let i = 0; ; i++) {
          try {
            await next();
            return;
          } catch (err) {
            trace.push(`retry caught ${(err as Error).message}`);
            if (i >= 4) throw err;
          }
        }
      },
    };
    const flaky: Stage = {
      name: 'flaky',
      async run(_ctx, next) {
        attempts++;
        trace.push(`flaky#${attempts}`);
        if (attempts < 3) throw new Error(`fail ${attempts}`);
        await next();
      },
    };
    await compose([retry, tracer('mid', trace), flaky, tracer('inner', trace)])(ctx);
    assert.equal(attempts, 3);
    assert.deepEqual(trace, [
      'mid>', 'flaky#1', 'retry caught fail 1',
      'mid>', 'flaky#2', 'retry caught fail 2',
      'mid>', 'flaky#3', 'inner>', '<inner', '<mid',
    ]);
  });

  test('a retrying stage that gives up propagates the last error', async () => {
    let calls = 0;
    const retry: Stage = {
      name: 'retry',
      async run(_ctx, next) {
        let last: unknown;
        for (let i = 0; i < 3; i++) {
          try {
            await next();
            return;
          } catch (err) {
            last = err;
          }
        }
        throw last;
      },
    };
    const failing: Stage = { name: 'failing', async run() { calls++; throw new Error(`attempt ${calls}`); } };
    await assert.rejects(compose([retry, failing])(ctx), { message: 'attempt 3' });
    assert.equal(calls, 3);
  });

  test('errors propagate outward through every stage, which can observe them', async () => {
    const trace: string[] = [];
    const boom = new Error('boom');
    const observer = (name: string): Stage => ({
      name,
      async run(_ctx, next) {
        try {
          await next();
          trace.push(`${name} ok`);
        } catch (err) {
          trace.push(`${name} saw ${(err as Error).message}`);
          throw err;
        }
      },
    });
    const thrower: Stage = { name: 'thrower', async run() { throw boom; } };
    const after: Stage = { name: 'after', async run() { trace.push('after ran'); } };
    await assert.rejects(compose([observer('outer'), observer('inner'), thrower, after])(ctx), (err) => err === boom);
    assert.deepEqual(trace, ['inner saw boom', 'outer saw boom']);
  });

  test('an outer stage may catch an error and turn it into success', async () => {
    const rescue: Stage = {
      name: 'rescue',
      async run(_ctx, next) {
        try {
          await next();
        } catch {
          // swallowed on purpose
        }
      },
    };
    const thrower: Stage = { name: 'thrower', async run() { throw new Error('nope'); } };
    await compose([rescue, thrower])(ctx);
  });

  test('a stage that throws synchronously yields a rejected promise, not a synchronous throw', async () => {
    const sync: Stage = {
      name: 'sync',
      run() {
        throw new Error('sync boom');
      },
    };
    let result: Promise<void> | undefined;
    assert.doesNotThrow(() => {
      result = compose([tracer('a', []), sync])(ctx);
    });
    await assert.rejects(result!, { message: 'sync boom' });
    // Also as the very first stage.
    let first: Promise<void> | undefined;
    assert.doesNotThrow(() => {
      first = compose([sync])(ctx);
    });
    await assert.rejects(first!, { message: 'sync boom' });
  });

  test('a stage that does not call next() short-circuits: nothing below runs, outer after-parts still do', async () => {
    const trace: string[] = [];
    const gate: Stage = {
      name: 'gate',
      async run() {
        trace.push('gate answered');
      },
    };
    const never: Stage = {
      name: 'never',
      async run(_ctx, next: Next) {
        trace.push('never ran');
        await next();
      },
    };
    await compose([tracer('outer', trace), gate, never])(ctx);
    assert.deepEqual(trace, ['outer>', 'gate answered', '<outer']);
  });

  test('the composed function is reusable across requests', async () => {
    let runs = 0;
    const pipeline = compose([{ name: 'count', async run(_c, next) { runs++; await next(); } }]);
    await pipeline(ctx);
    await pipeline(ctx);
    await Promise.all([pipeline(ctx), pipeline(ctx)]);
    assert.equal(runs, 4);
  });
});
