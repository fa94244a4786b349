import type { FastifyInstance } from 'fastify';

/** One registered route and what it declares about its callers. */
export interface RouteDeclaration {
  method: string;
  url: string;
  permission: string | undefined;
  openTo: string | undefined;
}

const tables = new WeakMap<FastifyInstance, RouteDeclaration[]>();

/** Records every route registered on `app` (and its child scopes), so a test can prove none lacks a declaration. */
export function recordRouteTable(app: FastifyInstance): void {
  const table: RouteDeclaration[] = [];
  tables.set(app, table);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const config = (route.config ?? {}) as { permission?: string; openTo?: string };
    for (const method of methods) table.push({ method, url: route.url, permission: config.permission, openTo: config.openTo });
  });
}

export function routeTableOf(app: FastifyInstance): readonly RouteDeclaration[] {
  return tables.get(app) ?? [];
}
