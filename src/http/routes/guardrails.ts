import type { FastifyInstance } from 'fastify';
import type { AuditLog } from '../../audit/audit-log.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { guardrailSchema, type GuardrailDefinition } from '../../guardrails/guardrail-schema.js';
import type { PolicyRegistry, Source } from '../../policies/policy-registry.js';
import { objectBody, parseInput, resourceId } from '../parse.js';
import { actorOf, needs } from '../plugins/authenticate.js';

function guardrailView(g: { definition: GuardrailDefinition; source: Source }) {
  return { object: 'guardrail', ...g.definition, source: g.source };
}

/** Admin API for guardrails: /api/guardrails, inside the admin scope. Changes apply on every instance at once. */
export function registerGuardrailRoutes(app: FastifyInstance, deps: { policies: PolicyRegistry; audit: AuditLog }): void {
  const { policies, audit } = deps;
  const base = '/api/guardrails';

  app.get(base, needs('guardrails:read'), async () => ({ object: 'list', data: policies.listGuardrails().map(guardrailView) }));

  app.post(base, needs('guardrails:write'), async (request, reply) => {
    const def = parseInput(guardrailSchema, objectBody(request.body));
    await policies.createGuardrail(def);
    await audit.record({ actor: actorOf(request), action: 'guardrail.create', target_type: 'guardrail', target_id: def.name, details: { type: def.type, mode: def.mode } });
    return reply.code(201).send(guardrailView({ definition: def, source: 'api' }));
  });

  app.get<{ Params: { name: string } }>(`${base}/:name`, needs('guardrails:read'), async (request) => guardrailView(policies.requireGuardrail(resourceId(request.params.name, 'guardrail'))));

  app.put<{ Params: { name: string } }>(`${base}/:name`, needs('guardrails:write'), async (request) => {
    const name = resourceId(request.params.name, 'guardrail');
    const body = objectBody(request.body);
    const withName = typeof body === 'object' && body !== null && !Array.isArray(body) && !('name' in body) ? { ...body, name } : body;
    const def = parseInput(guardrailSchema, withName);
    if (def.name !== name) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: "The body's name must match the URL.", param: 'name' });
    await policies.replaceGuardrail(def);
    await audit.record({ actor: actorOf(request), action: 'guardrail.replace', target_type: 'guardrail', target_id: name, details: { type: def.type, mode: def.mode } });
    return guardrailView({ definition: def, source: 'api' });
  });

  app.delete<{ Params: { name: string } }>(`${base}/:name`, needs('guardrails:write', { allowEmptyBody: true }), async (request) => {
    const name = resourceId(request.params.name, 'guardrail');
    await policies.deleteGuardrail(name);
    await audit.record({ actor: actorOf(request), action: 'guardrail.delete', target_type: 'guardrail', target_id: name, details: {} });
    return { object: 'guardrail', name, deleted: true };
  });
}
