import type { PolicyDefinition } from './policy-schema.js';

/** Why a set of policies cannot be resolved; `param` names the field at fault. */
export interface PolicyProblem {
  policy: string;
  param: 'parent' | 'add' | 'remove';
  message: string;
}

/**
 * Every policy's effective guardrails: its parent's effective set, plus `add`, minus `remove`,
 * in a stable order (inherited first). Returns the first problem instead when a parent or a
 * guardrail does not exist, or when parents form a cycle.
 */
export function effectiveSets(policies: ReadonlyMap<string, PolicyDefinition>, hasGuardrail: (name: string) => boolean): Map<string, string[]> | PolicyProblem {
  const done = new Map<string, string[]>();
  for (const policy of policies.values()) {
    for (const g of policy.add) if (!hasGuardrail(g)) return { policy: policy.name, param: 'add', message: `The policy "${policy.name}" adds "${g}", which is no guardrail.` };
    for (const g of policy.remove) if (!hasGuardrail(g)) return { policy: policy.name, param: 'remove', message: `The policy "${policy.name}" removes "${g}", which is no guardrail.` };
    if (policy.parent !== null && !policies.has(policy.parent)) return { policy: policy.name, param: 'parent', message: `The parent "${policy.parent}" of the policy "${policy.name}" does not exist.` };
  }
  for (const start of policies.keys()) {
    if (done.has(start)) continue;
    // Walk up to the first resolved ancestor (or the root), then resolve back down.
    const chain: string[] = [];
    const onChain = new Set<string>();
    let at: string | null = start;
    while (at !== null && !done.has(at)) {
      if (onChain.has(at)) {
        const cycle = [...chain.slice(chain.indexOf(at)), at].join(' -> ');
        return { policy: at, param: 'parent', message: `The policies' parents form a cycle: ${cycle}.` };
      }
      onChain.add(at);
      chain.push(at);
      at = policies.get(at)!.parent;
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const policy = policies.get(chain[i]!)!;
      const inherited = policy.parent === null ? [] : done.get(policy.parent)!;
      const removed = new Set(policy.remove);
      const set = inherited.filter((g) => !removed.has(g));
      for (const g of policy.add) if (!removed.has(g) && !set.includes(g)) set.push(g);
      done.set(policy.name, set);
    }
  }
  return done;
}
