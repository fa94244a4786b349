import type { JSONRPCMessage, JSONRPCRequest, RequestId } from '@modelcontextprotocol/sdk/types.js';

/*
 * What kind of JSON-RPC message an already validated message is. The SDK's own guards
 * (`isJSONRPCRequest`, …) run a zod parse each; the transports ask several per message, on
 * messages that `JSONRPCMessageSchema` has already checked, so looking at the keys is enough.
 */

export const isRequest = (m: JSONRPCMessage): m is JSONRPCRequest => 'method' in m && 'id' in m;

export const isResponse = (m: JSONRPCMessage): m is JSONRPCMessage & { id: RequestId } => 'id' in m && ('result' in m || 'error' in m);

export const isResult = (m: JSONRPCMessage): m is JSONRPCMessage & { id: RequestId; result: unknown } => 'id' in m && 'result' in m;

export const isMethod = (m: JSONRPCMessage, method: string): boolean => 'method' in m && m.method === method;
