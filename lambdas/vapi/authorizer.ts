// HTTP API Lambda authorizer (simple responses) for the Vapi webhook: the shared secret, compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerResult } from 'aws-lambda';
import { header } from '../shared/http';
import { resolveSecret } from '../shared/secrets';

/**
 * The credential Vapi sent: the legacy `X-Vapi-Secret` header, or `Authorization: Bearer <token>` from a Vapi
 * credential (server-authentication.mdx). With two possible headers the route must use no identity source
 * (and so no authorizer caching), otherwise API Gateway answers 401 before we run when one header is absent.
 */
export function presentedSecret(headers: Record<string, string | undefined> | undefined): string | undefined {
  const direct = header(headers, 'x-vapi-secret');
  if (direct) return direct;
  const m = /^Bearer\s+(.+)$/i.exec(header(headers, 'authorization') ?? '');
  return m?.[1]?.trim();
}

/** Constant-time equality: both sides hashed first, so neither content nor length leaks through timing. */
export function secretsMatch(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Builds the authorizer over a secret source. No configured secret → every request refused (fail closed). */
export function createAuthorizer(
  secret: () => Promise<string | undefined>,
): (event: Pick<APIGatewayRequestAuthorizerEventV2, 'headers'>) => Promise<APIGatewaySimpleAuthorizerResult> {
  return async (event) => {
    const given = presentedSecret(event.headers);
    if (!given) return { isAuthorized: false };
    let expected: string | undefined;
    try {
      expected = await secret();
    } catch {
      return { isAuthorized: false };
    }
    if (!expected) return { isAuthorized: false };
    return { isAuthorized: secretsMatch(given, expected) };
  };
}

/** Lambda entry: secret from VAPI_SECRET_ARN (Secrets Manager, fetched once per container) or plain VAPI_SECRET locally. */
export const handler = createAuthorizer(() => resolveSecret({ arn: process.env.VAPI_SECRET_ARN, value: process.env.VAPI_SECRET }));
