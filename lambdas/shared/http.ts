// API Gateway HTTP API (payload v2) plumbing shared by every route: body limits, JSON parsing, responses, headers.
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/** A JSON response in the HTTP API v2 result shape. */
export function json(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** Header value, case-insensitive (HTTP API lower-cases header names, the local adapter may not). */
export function header(headers: Record<string, string | undefined> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === want) return v;
  return undefined;
}

export type BodyResult = { ok: true; value: unknown } | { ok: false; response: APIGatewayProxyStructuredResultV2 };

/**
 * The request body as JSON. Over `maxBytes` → 413 before parsing (HTTP API itself allows 10 MB, far more than
 * any tool call needs); not JSON → 400.
 */
export function readJsonBody(event: Pick<APIGatewayProxyEventV2, 'body' | 'isBase64Encoded'>, maxBytes: number): BodyResult {
  const raw = event.body ?? '';
  const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.length > maxBytes) {
    return { ok: false, response: json(413, { error: `Request body is ${bytes.length} bytes; the limit is ${maxBytes}` }) };
  }
  if (bytes.length === 0) return { ok: false, response: json(400, { error: 'Request body is empty; expected JSON' }) };
  try {
    return { ok: true, value: JSON.parse(bytes.toString('utf8')) };
  } catch {
    return { ok: false, response: json(400, { error: 'Request body is not valid JSON' }) };
  }
}
