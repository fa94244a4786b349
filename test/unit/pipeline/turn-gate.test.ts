import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compose } from '../../../src/pipeline/compose.js';
import { createTurnGateStage } from '../../../src/pipeline/stages/turn-gate.js';
import type { GatewayContext, Stage } from '../../../src/pipeline/types.js';

function answering(order: string[], kind: 'json' | 'stream'): Stage {
  return {
    name: 'inner',
    async run(ctx) {
      order.push(`inner ${(ctx as unknown as { id: string }).id}`);
      ctx.response = kind === 'json' ? ({ kind: 'json', status: 200, body: {} } as GatewayContext['response']) : ({ kind: 'stream', status: 200 } as GatewayContext['response']);
    },
  };
}

const contextOf = (id: string) => ({ id }) as unknown as GatewayContext;

describe('turn-gate stage', () => {
  test('requests started in one turn reach the next stage together in the check phase, and JSON answers wait once more', async () => {
    const order: string[] = [];
    const run = compose([createTurnGateStage(), answering(order, 'json')]);
    const one = run(contextOf('1')).then(() => order.push('done 1'));
    const two = run(contextOf('2')).then(() => order.push('done 2'));
    setImmediate(() => order.push('immediate queued after them'));
    await Promise.resolve();
    await Promise.resolve();
    assert.deepEqual(order, [], 'nothing passes the gate before the check phase');
    await Promise.all([one, two]);
    assert.deepEqual(order, ['inner 1', 'inner 2', 'immediate queued after them', 'done 1', 'done 2']);
  });

  test('a stream is not held after the inner stages answered', async () => {
    const order: string[] = [];
    const run = compose([createTurnGateStage(), answering(order, 'stream')]);
    const one = run(contextOf('s')).then(() => order.push('done s'));
    setImmediate(() => order.push('immediate queued after it'));
    await one;
    assert.deepEqual(order, ['inner s', 'done s']);
  });
});
