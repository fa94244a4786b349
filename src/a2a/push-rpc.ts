import type { A2aService, Caller } from './a2a-service.js';
import type { Dialect, Operation } from './dialects.js';
import { RpcError } from './rpc-errors.js';
import type { Json, PushConfig } from './task-model.js';

/**
 * The push-notification config methods in each dialect's shapes: 0.1 and 0.3 name the task
 * `id` (`taskId` on set in 0.3) and nest `pushNotificationConfig`; 1.0 uses flat
 * `TaskPushNotificationConfig` objects (`taskId`, `id`, `url`, ...).
 */

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

function taskIdOf(p: Json): string {
  const id = str(p['taskId']) ?? str(p['id']);
  if (!id) throw new RpcError('invalidParams', 'the task id is required');
  return id.slice(0, 256);
}

function configOut(taskId: string, config: PushConfig, dialect: Dialect): Json {
  const { id, url, token, authentication } = config;
  const wire: Json = { id, url, ...(token === undefined ? {} : { token }), ...(authentication === undefined ? {} : { authentication }) };
  if (dialect === '1.0') return { taskId, ...wire };
  return dialect === '0.1' ? { id: taskId, pushNotificationConfig: wire } : { taskId, pushNotificationConfig: wire };
}

export async function pushRpc(op: Operation, dialect: Dialect, p: Json, service: A2aService, agent: string, caller: Caller): Promise<unknown> {
  if (dialect === '1.0') {
    const taskId = taskIdOf({ taskId: p['taskId'] });
    switch (op) {
      case 'push.set': {
        const raw = (p['config'] ?? p['pushNotificationConfig'] ?? p) as Json;
        return configOut(taskId, await service.setPush(taskId, agent, caller, raw), dialect);
      }
      case 'push.get': {
        const task = await service.taskOf(taskId, agent, caller);
        const found = task.push_configs.find((c) => c.id === str(p['id']));
        if (!found) throw new RpcError('taskNotFound', `no push config "${String(p['id']).slice(0, 100)}" on task "${taskId}"`);
        return configOut(taskId, found, dialect);
      }
      case 'push.list': {
        const task = await service.taskOf(taskId, agent, caller);
        return { configs: task.push_configs.map((c) => configOut(taskId, c, dialect)), nextPageToken: '' };
      }
      default:
        await service.deletePush(taskId, agent, caller, str(p['id']) ?? '');
        return {};
    }
  }
  const taskId = taskIdOf(op === 'push.set' && dialect === '0.3' ? p : { id: p['id'] ?? p['taskId'] });
  switch (op) {
    case 'push.set':
      return configOut(taskId, await service.setPush(taskId, agent, caller, p['pushNotificationConfig']), dialect);
    case 'push.get': {
      const task = await service.taskOf(taskId, agent, caller);
      const wanted = str(p['pushNotificationConfigId']);
      const found = wanted === undefined ? task.push_configs[0] : task.push_configs.find((c) => c.id === wanted);
      if (!found) throw new RpcError('invalidParams', `task "${taskId}" has no push notification config${wanted ? ` "${wanted.slice(0, 100)}"` : ''}`);
      return configOut(taskId, found, dialect);
    }
    case 'push.list': {
      const task = await service.taskOf(taskId, agent, caller);
      return task.push_configs.map((c) => configOut(taskId, c, dialect));
    }
    default:
      await service.deletePush(taskId, agent, caller, str(p['pushNotificationConfigId']) ?? '');
      return null;
  }
}
