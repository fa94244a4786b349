import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PushNotifier } from '../../../src/a2a/push-notifier.js';
import { RpcError } from '../../../src/a2a/rpc-errors.js';

const log = { trace() {}, debug() {}, info() {}, warn() {}, error() {} } as any;

test('webhook URLs: loopback, link-local, private, mapped and non-http addresses are refused unless allowed', async () => {
  const strict = new PushNotifier({ allowPrivate: false, log });
  for (const url of ['http://127.0.0.1/x', 'http://localhost:8080/', 'http://[::1]/', 'http://169.254.169.254/latest', 'http://10.1.2.3/', 'http://172.20.0.1/', 'http://192.168.1.1/', 'http://[fe80::1]/', 'http://[fd00::1]/', 'http://[::ffff:127.0.0.1]/', 'http://0.0.0.0/', 'ftp://93.184.216.34/', 'http://user:pw@93.184.216.34/', 'not a url']) {
    await assert.rejects(strict.validate(url), (err) => err instanceof RpcError && err.kind === 'invalidParams', url);
  }
  assert.equal((await strict.validate('https://93.184.216.34/hook')).hostname, '93.184.216.34');
  const open = new PushNotifier({ allowPrivate: true, log });
  assert.equal((await open.validate('http://127.0.0.1:9/hook')).port, '9');
});
