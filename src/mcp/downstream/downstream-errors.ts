import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';

/** The name or URI points at no registered server (recorded as 404 in the spend log). */
export class ToolNotFound extends McpError {
  constructor(message: string) {
    super(ErrorCode.InvalidParams, message);
  }
}

/** The caller's key or team may not use this server or tool (recorded as 403 in the spend log). */
export class ToolAccessDenied extends McpError {
  constructor(what: string) {
    super(ErrorCode.InvalidParams, `This key may not use ${what}.`);
  }
}

/** A resource URI that routes to no server of this endpoint (MCP's "Resource not found"). */
export class ResourceNotFound extends McpError {
  constructor(message: string) {
    super(-32002, message);
  }
}
