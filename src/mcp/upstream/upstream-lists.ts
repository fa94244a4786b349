import { z } from 'zod';

/**
 * Loose on purpose: the gateway forwards tools and results it does not know field by field
 * (`_meta`, `outputSchema`, `structuredContent`, icons, content types added tomorrow), so it
 * checks only what it reads itself.
 */
const toolSchema = z.looseObject({ name: z.string() });
const resourceSchema = z.looseObject({ uri: z.string() });
const resourceTemplateSchema = z.looseObject({ uriTemplate: z.string() });
const promptSchema = z.looseObject({ name: z.string() });
export const callResultSchema = z.looseObject({});

export type UpstreamTool = z.infer<typeof toolSchema>;
export type UpstreamResource = z.infer<typeof resourceSchema>;
export type UpstreamResourceTemplate = z.infer<typeof resourceTemplateSchema>;
export type UpstreamPrompt = z.infer<typeof promptSchema>;
export type UpstreamCallResult = z.infer<typeof callResultSchema>;
/** A result the gateway forwards as it came (`resources/read`, `prompts/get`, `completion/complete`). */
export type UpstreamResult = z.infer<typeof callResultSchema>;

/** The lists a server can offer, each with the capability that announces it and the field that holds it. */
export const LISTS = {
  tools: { method: 'tools/list', field: 'tools', capability: 'tools', item: toolSchema },
  resources: { method: 'resources/list', field: 'resources', capability: 'resources', item: resourceSchema },
  resourceTemplates: { method: 'resources/templates/list', field: 'resourceTemplates', capability: 'resources', item: resourceTemplateSchema },
  prompts: { method: 'prompts/list', field: 'prompts', capability: 'prompts', item: promptSchema },
} as const;
export type ListKind = keyof typeof LISTS;
export type ItemOf<K extends ListKind> = z.infer<(typeof LISTS)[K]['item']>;
export const pageSchemas = new Map<ListKind, z.ZodType<Record<string, unknown> & { nextCursor?: string }>>(
  (Object.keys(LISTS) as ListKind[]).map((kind) => [kind, z.looseObject({ [LISTS[kind].field]: z.array(LISTS[kind].item), nextCursor: z.string().optional() })]),
);

export interface ItemList<T> {
  items: T[];
  /** True when the server is unreachable and this is the last list it gave. */
  stale: boolean;
}

export interface ToolList {
  tools: UpstreamTool[];
  /** True when the server is unreachable and this is the last list it gave. */
  stale: boolean;
}
