import { GATEWAY_VERSION } from '../core/version.js';
import type { AgentProfile } from './agent-schema.js';
import type { Json } from './task-model.js';

/**
 * Agent cards in the shape the caller's version expects: 0.3 (`url`, `protocolVersion`,
 * OpenAPI-style `securitySchemes`) by default, 1.0 (`supportedInterfaces`, wrapped schemes,
 * `securityRequirements`) with `A2A-Version: 1.0`. Both say the same thing: JSON-RPC over HTTP,
 * streaming, state history, a bearer virtual key.
 */

const MODES = ['text/plain', 'application/json'];
const SCHEME = 'bearer';
const SCHEME_DESCRIPTION = 'A Smartflow virtual key (or the master key) as a bearer token; the caller\'s key pays for the task.';

interface CardSubject {
  name: string;
  description: string;
  skills: Array<{ id: string; name: string; description: string; tags: string[]; examples?: string[] | undefined }>;
}

function card03(subject: CardSubject, url: string): Json {
  return {
    protocolVersion: '0.3.0',
    name: subject.name,
    description: subject.description,
    url,
    preferredTransport: 'JSONRPC',
    version: GATEWAY_VERSION,
    provider: { organization: 'Smartflow', url: new URL(url).origin },
    capabilities: { streaming: true, pushNotifications: true, stateTransitionHistory: true, extensions: [] },
    defaultInputModes: MODES,
    defaultOutputModes: ['text/plain'],
    skills: subject.skills.map((s) => ({ id: s.id, name: s.name, description: s.description, tags: s.tags, ...(s.examples ? { examples: s.examples } : {}) })),
    securitySchemes: { [SCHEME]: { type: 'http', scheme: 'bearer', description: SCHEME_DESCRIPTION } },
    security: [{ [SCHEME]: [] }],
    supportsAuthenticatedExtendedCard: false,
  };
}

function card10(subject: CardSubject, url: string): Json {
  return {
    name: subject.name,
    description: subject.description,
    supportedInterfaces: [{ url, protocolBinding: 'JSONRPC', protocolVersion: '1.0' }],
    provider: { organization: 'Smartflow', url: new URL(url).origin },
    version: GATEWAY_VERSION,
    capabilities: { streaming: true, pushNotifications: true, extendedAgentCard: false },
    securitySchemes: { [SCHEME]: { httpAuthSecurityScheme: { scheme: 'bearer', description: SCHEME_DESCRIPTION } } },
    securityRequirements: [{ schemes: { [SCHEME]: { list: [] } } }],
    defaultInputModes: MODES,
    defaultOutputModes: ['text/plain'],
    skills: subject.skills.map((s) => ({ id: s.id, name: s.name, description: s.description, tags: s.tags, ...(s.examples ? { examples: s.examples } : {}) })),
  };
}

function agentSkills(agent: AgentProfile): CardSubject['skills'] {
  if (agent.skills.length) return agent.skills;
  return [{ id: agent.id, name: agent.name, description: agent.description || agent.name, tags: ['smartflow'] }];
}

/** The card of one hosted agent, served at `/a2a/{id}/.well-known/agent-card.json`. */
export function agentCard(agent: AgentProfile, baseUrl: string, version: '0.3' | '1.0'): Json {
  const subject = { name: agent.name, description: agent.description || agent.name, skills: agentSkills(agent) };
  const url = `${baseUrl}/a2a/${agent.id}`;
  return version === '1.0' ? card10(subject, url) : card03(subject, url);
}

/**
 * The gateway's own card: every hosted agent as a skill (its id is the agent id, its
 * `examples` name the agent's endpoint), the URL the first agent's, since a card has one endpoint.
 */
export function gatewayCard(agents: AgentProfile[], baseUrl: string, version: '0.3' | '1.0'): Json {
  const subject = {
    name: 'Smartflow agent gateway',
    description: `Hosted A2A agents; each has its own card at ${baseUrl}/a2a/{agent}/.well-known/agent-card.json.`,
    skills: agents.map((a) => ({ id: a.id, name: a.name, description: a.description || a.name, tags: ['agent', ...a.skills.flatMap((s) => s.tags)], examples: [`${baseUrl}/a2a/${a.id}`] })),
  };
  const url = agents.length ? `${baseUrl}/a2a/${agents[0]!.id}` : `${baseUrl}/a2a`;
  return version === '1.0' ? card10(subject, url) : card03(subject, url);
}
