import type { FastifyInstance } from 'fastify';

/** Which methods each registered path takes, so a wrong method can be told apart from an unknown path. */
export interface AllowedMethods {
  /** The methods some route accepts for this concrete path (empty when no route has the path). */
  of(path: string): string[];
}

function patternOf(url: string): RegExp {
  const source = url
    .split('/')
    .map((seg) => (seg === '*' ? '.*' : seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}/?$`);
}

/**
 * Records every route as it is registered (call before registering routes). Only the not-found
 * path consults it, so matching by regular expression costs nothing on the hot path.
 */
export function trackAllowedMethods(app: FastifyInstance): AllowedMethods {
  const routes: Array<{ pattern: RegExp; methods: string[] }> = [];
  app.addHook('onRoute', (route) => {
    routes.push({ pattern: patternOf(route.url), methods: ([] as string[]).concat(route.method) });
  });
  return {
    of(path) {
      const methods = new Set<string>();
      for (const r of routes) if (r.pattern.test(path)) for (const m of r.methods) methods.add(m);
      return [...methods].sort();
    },
  };
}
