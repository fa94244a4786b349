import type { FallbackChain } from './chain-schema.js';

/** What a chain's references are checked against. */
export interface ChainReferences {
  hasProvider(name: string): boolean;
  /** A model name (or `provider/model`) that resolves to a deployment. */
  hasModel(name: string): boolean;
  /** `provider` + upstream model resolves to a deployment. */
  hasDeployment(provider: string, model: string): boolean;
  /** The other chains, as they would be with this one saved. */
  chain(id: string): FallbackChain | undefined;
  /** The chain that binds a model name, if any. */
  chainBinding(model: string): string | undefined;
}

export interface ChainProblem {
  /** Path of the offending field inside the chain, e.g. `targets[1].provider`. */
  param: string;
  message: string;
}

/** The first reference problem of a chain: unknown providers, models or chains, a cycle, a model bound twice. */
export function chainProblem(chain: FallbackChain, refs: ChainReferences): ChainProblem | null {
  for (const [i, target] of chain.targets.entries()) {
    const at = `targets[${i}]`;
    if (target.chain !== undefined) {
      if (target.chain === chain.id) return { param: `${at}.chain`, message: `the chain "${chain.id}" cannot contain itself` };
      if (!refs.chain(target.chain)) return { param: `${at}.chain`, message: `no chain with id "${target.chain}"` };
      const cycle = findCycle(target.chain, chain.id, refs, new Set());
      if (cycle) return { param: `${at}.chain`, message: `chains form a cycle: ${[chain.id, ...cycle].join(' -> ')}` };
    } else if (target.provider !== undefined) {
      if (!refs.hasProvider(target.provider)) return { param: `${at}.provider`, message: `unknown provider "${target.provider}"` };
      if (!refs.hasDeployment(target.provider, target.model!)) return { param: `${at}.model`, message: `the provider "${target.provider}" cannot serve the model "${target.model}"` };
    } else if (!refs.hasModel(target.model!)) {
      return { param: `${at}.model`, message: `no model named "${target.model}" on this gateway` };
    }
  }
  for (const [i, model] of chain.models.entries()) {
    const owner = refs.chainBinding(model);
    if (owner !== undefined && owner !== chain.id) return { param: `models[${i}]`, message: `the model "${model}" is already bound to the chain "${owner}"` };
  }
  return null;
}

/** The path from `from` back to `target` through chain targets, if there is one. */
function findCycle(from: string, target: string, refs: ChainReferences, seen: Set<string>): string[] | null {
  if (from === target) return [from];
  if (seen.has(from)) return null;
  seen.add(from);
  for (const t of refs.chain(from)?.targets ?? []) {
    if (t.chain === undefined) continue;
    const rest = findCycle(t.chain, target, refs, seen);
    if (rest) return [from, ...rest];
  }
  return null;
}
