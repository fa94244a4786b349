/** One tool as the search sees it: the text fields it is ranked on. */
export interface ToolDoc {
  /** Unique in an index: `{server id}/{tool name}`. */
  key: string;
  serverId: string;
  server: string;
  serverDescription: string;
  tool: string;
  description: string;
  params: { name: string; description: string }[];
}

export const FIELDS = ['name', 'description', 'params', 'server'] as const;
export type Field = (typeof FIELDS)[number];

/** The raw text of each ranked field. */
export function fieldTexts(doc: ToolDoc): Record<Field, string> {
  return {
    name: doc.tool,
    description: doc.description,
    params: doc.params.map((p) => `${p.name} ${p.description}`).join(' '),
    server: `${doc.server} ${doc.serverDescription}`,
  };
}

/** All of a tool's text in one string: what the embedders read and what the embedding cache is keyed on. */
export function embeddingText(doc: ToolDoc): string {
  const t = fieldTexts(doc);
  return `${t.name}. ${t.description} ${t.params} (${t.server})`;
}
