import type { FastifyInstance } from 'fastify';
import type { AuditLog } from '../../audit/audit-log.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { estimateAttachment, type EstimateDeps } from '../../policies/estimate.js';
import type { PolicyRegistry, Source } from '../../policies/policy-registry.js';
import { attachmentSchema, estimateQuerySchema, policySchema, resolveQuerySchema, type Attachment, type PolicyDefinition } from '../../policies/policy-schema.js';
import { objectBody, parseInput, resourceId } from '../parse.js';
import { actorOf, callerOf, needs } from '../plugins/authenticate.js';
import { requireAttachmentScope, requireOrganisationWide } from '../../identity/rbac.js';

function policyView(p: { definition: PolicyDefinition; effective: readonly string[]; source: Source }) {
  return { object: 'policy', ...p.definition, effective_guardrails: p.effective, source: p.source };
}

function attachmentView(a: Attachment) {
  return { object: 'policy_attachment', ...a };
}

/**
 * Admin API for guardrail policies, their attachments, and the resolve and estimate previews:
 * /api/policies, inside the admin scope. Changes apply on every instance at once.
 */
export function registerPolicyRoutes(app: FastifyInstance, deps: { policies: PolicyRegistry; audit: AuditLog; estimate: EstimateDeps }): void {
  const { policies, audit } = deps;
  const base = '/api/policies';

  // Fixed paths first in the file for the reader; fastify prefers static segments over `:name` anyway.
  app.get(`${base}/attachments`, needs('policies:read'), async () => ({ object: 'list', data: policies.listAttachments().map(attachmentView) }));

  app.post(`${base}/attachments`, needs('policies:write'), async (request, reply) => {
    const input = parseInput(attachmentSchema, objectBody(request.body));
    requireAttachmentScope(callerOf(request), input);
    const attachment = await policies.attach(input);
    await audit.record({ actor: actorOf(request), action: 'policy.attach', target_type: 'policy', target_id: input.policy, details: { scope: input.scope, pattern: input.pattern } });
    return reply.code(201).send(attachmentView(attachment));
  });

  // The attachment is named by query parameters (or a JSON body): DELETE bodies are dropped by some proxies.
  app.delete(`${base}/attachments`, needs('policies:write', { allowEmptyBody: true }), async (request) => {
    const body = request.body;
    const input = parseInput(attachmentSchema, body !== undefined && body !== null ? body : { ...(request.query as Record<string, unknown>) });
    requireAttachmentScope(callerOf(request), input);
    await policies.detach(input);
    await audit.record({ actor: actorOf(request), action: 'policy.detach', target_type: 'policy', target_id: input.policy, details: { scope: input.scope, pattern: input.pattern } });
    return { object: 'policy_attachment', ...input, deleted: true };
  });

  app.post(`${base}/attachments/estimate`, needs('policies:read'), async (request) => {
    const query = parseInput(estimateQuerySchema, objectBody(request.body));
    const policy = policies.requirePolicy(query.policy);
    return { ...(await estimateAttachment(deps.estimate, query)), effective_guardrails: policy.effective };
  });

  app.post(`${base}/resolve`, needs('policies:read'), async (request) => {
    const query = parseInput(resolveQuerySchema, objectBody(request.body));
    const resolution = policies.snapshot().resolve(query);
    return {
      object: 'policy_resolution',
      context: query,
      policies: resolution.policies.map((p) => ({ name: p.name, source: `${p.name}=${p.source}` })),
      guardrails: resolution.guardrails,
      headers: {
        'x-smartflow-applied-policies': resolution.headers.policies,
        'x-smartflow-applied-guardrails': resolution.headers.guardrails,
        'x-smartflow-policy-sources': resolution.headers.sources,
      },
    };
  });

  app.get(base, needs('policies:read'), async () => ({ object: 'list', data: policies.listPolicies().map(policyView) }));

  app.post(base, needs('policies:write'), async (request, reply) => {
    requireOrganisationWide(callerOf(request), 'policies');
    const policy = parseInput(policySchema, objectBody(request.body));
    await policies.createPolicy(policy);
    await audit.record({ actor: actorOf(request), action: 'policy.create', target_type: 'policy', target_id: policy.name, details: { parent: policy.parent } });
    return reply.code(201).send(policyView(policies.requirePolicy(policy.name)));
  });

  app.get<{ Params: { name: string } }>(`${base}/:name`, needs('policies:read'), async (request) => policyView(policies.requirePolicy(resourceId(request.params.name, 'policy'))));

  app.put<{ Params: { name: string } }>(`${base}/:name`, needs('policies:write'), async (request) => {
    requireOrganisationWide(callerOf(request), 'policies');
    const name = resourceId(request.params.name, 'policy');
    const body = objectBody(request.body);
    const withName = typeof body === 'object' && body !== null && !Array.isArray(body) && !('name' in body) ? { ...body, name } : body;
    const policy = parseInput(policySchema, withName);
    if (policy.name !== name) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: "The body's name must match the URL.", param: 'name' });
    await policies.replacePolicy(policy);
    await audit.record({ actor: actorOf(request), action: 'policy.replace', target_type: 'policy', target_id: name, details: { parent: policy.parent } });
    return policyView(policies.requirePolicy(name));
  });

  app.delete<{ Params: { name: string } }>(`${base}/:name`, needs('policies:write', { allowEmptyBody: true }), async (request) => {
    requireOrganisationWide(callerOf(request), 'policies');
    const name = resourceId(request.params.name, 'policy');
    await policies.deletePolicy(name);
    await audit.record({ actor: actorOf(request), action: 'policy.delete', target_type: 'policy', target_id: name, details: {} });
    return { object: 'policy', name, deleted: true };
  });
}
