import type { GatewayConfig } from '../config/schema.js';
import type { RequestLog } from '../core/request-log.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { Store } from '../storage/types.js';
import { Balancer } from './balancer.js';
import { ChainRegistry } from './chains.js';
import { Cooldowns } from './cooldown.js';
import { RoutePlanner } from './planner.js';

/** Fallback chains, load balancing and cooldowns, wired over one store. */
export interface Routing {
  chains: ChainRegistry;
  planner: RoutePlanner;
  balancer: Balancer;
  cooldowns: Cooldowns;
  close(): Promise<void>;
}

export async function createRouting(deps: { config: GatewayConfig; store: Store; registry: ProviderRegistry; now: () => number; log: RequestLog }): Promise<Routing> {
  const { config, store, registry, now, log } = deps;
  const chains = new ChainRegistry({ store, registry, configChains: config.routing.fallback_chains, log });
  await chains.start();
  const cooldowns = new Cooldowns({ store, now, settings: config.routing.cooldown, log });
  await cooldowns.start();
  const balancer = new Balancer();
  const planner = new RoutePlanner({ config: config.routing, registry, chains, balancer, cooldowns });
  return {
    chains,
    planner,
    balancer,
    cooldowns,
    async close() {
      await chains.close();
      await cooldowns.close();
    },
  };
}
