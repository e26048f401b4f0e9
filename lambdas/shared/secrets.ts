// Secret values from Secrets Manager, fetched once per ARN per container and reused; plain env values locally.

const cache = new Map<string, Promise<string>>();

/**
 * The secret string stored at `arn`. Fetched once per execution environment (a Secrets Manager call costs
 * ~20-50 ms and is billed per 10k calls), then cached. A failed fetch is not cached, so the next call retries.
 * A JSON secret (as CDK `Secret.generateSecretString` with a template makes) yields its `password`, `token`,
 * `authToken` or `secret` field; anything else is used as is.
 */
export function secretValue(arn: string): Promise<string> {
  let p = cache.get(arn);
  if (!p) {
    p = fetchSecret(arn);
    cache.set(arn, p);
    p.catch(() => cache.delete(arn));
  }
  return p;
}

async function fetchSecret(arn: string): Promise<string> {
  // Imported lazily: local runs never need the client, and the Lambda runtime provides @aws-sdk/* (kept external in bundles).
  const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  const client = new SecretsManagerClient({});
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    const raw = out.SecretString;
    if (!raw) throw new Error('secret has no SecretString');
    return pickField(raw);
  } finally {
    client.destroy();
  }
}

/** The usable value inside a secret string (exported for tests). */
export function pickField(raw: string): string {
  if (raw.trimStart().startsWith('{')) {
    try {
      const o = JSON.parse(raw) as Record<string, unknown>;
      for (const k of ['password', 'token', 'authToken', 'secret']) if (typeof o[k] === 'string') return o[k] as string;
    } catch {
      // not JSON after all: use as is
    }
  }
  return raw;
}

/** A secret given either as an ARN (AWS) or as a plain value (local env). Undefined when neither is set. */
export async function resolveSecret(ref: { arn?: string; value?: string }): Promise<string | undefined> {
  if (ref.arn) return secretValue(ref.arn);
  return ref.value;
}
