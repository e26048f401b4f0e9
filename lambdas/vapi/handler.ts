// POST /vapi/tool-calls: Vapi's webhook onto the shared dispatch; always 200 with one result per tool call (protocols.md §5.2).
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { dispatch } from '../shared/dispatch';
import { json, readJsonBody } from '../shared/http';
import { lambdaRuntime, type ToolRuntime } from '../shared/runtime';
import type { ToolImpl } from '../shared/tool';
import { toolImplementations } from '../tools/implementations';
import { parseVapiMessage, toVapiResult } from './vapi-format';

/**
 * Vapi's webhook body carries the assistant config and the conversation so far (`artifact.messages`), so it is
 * far bigger than our own tool requests; 256 KiB still refuses abuse without refusing long calls.
 */
export const VAPI_MAX_BODY_BYTES = 256 * 1024;

/**
 * Builds the handler. Bad JSON or a body with no tool call → 400 (there is no toolCallId to attach an error to);
 * otherwise 200 `{results}` in request order, errors included as `error` strings, since Vapi ignores any other status.
 */
export function vapiHandler(
  runtime: () => ToolRuntime,
  tools: readonly ToolImpl[] = toolImplementations,
): (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2> {
  return async (event) => {
    const rt = runtime();
    const body = readJsonBody(event, VAPI_MAX_BODY_BYTES);
    if (!body.ok) return body.response;
    const parsed = parseVapiMessage(body.value);
    if (!parsed.ok) return json(400, { error: parsed.error });
    const { message } = parsed;
    // Only tool-calls expects an answer; other server messages sent to this URL are acknowledged and ignored.
    if (message.type !== 'tool-calls') return json(200, {});
    const results = await Promise.all(
      message.calls.map(async (call) => {
        if (call.argumentsError) return { toolCallId: call.toolCallId, name: call.name, error: call.argumentsError };
        const outcome = await dispatch(rt, tools, call.name, {
          callSid: message.callSid,
          toolCallId: call.toolCallId,
          callerPhone: message.callerPhone,
          arguments: call.arguments,
        });
        return toVapiResult(call, outcome);
      }),
    );
    return json(200, { results });
  };
}

/** Lambda entry behind the Vapi authorizer. */
export const handler = vapiHandler(lambdaRuntime);
