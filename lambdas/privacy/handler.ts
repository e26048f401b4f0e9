// Privacy Lambda (direct invoke by operators): `{ action: "forget" | "export", phone }` → the shared data-subject code.
import { Logger } from '@aws-lambda-powertools/logger';
import { openDataSubjectDeps, runDataSubjectRequest, type CallerExport, type ForgetResult } from '../../fargate/src/privacy/data-subject';

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'privacy' });

// Opened once per execution environment and reused across invocations (secrets fetched once, Redis kept open).
let deps: ReturnType<typeof openDataSubjectDeps> | undefined;

/**
 * Exports or forgets everything stored about one caller (transcript items via the byCaller index, session state,
 * cross-call memory). Bad input throws an Error naming the field; the phone number is never logged.
 */
export async function handler(event: unknown): Promise<CallerExport | ForgetResult> {
  deps ??= openDataSubjectDeps(process.env).catch((err: unknown) => {
    deps = undefined; // retry the connection on the next invocation
    throw err;
  });
  const result = await runDataSubjectRequest(await deps, event);
  logger.info('privacy request done', {
    action: result.action,
    callerHash: result.callerHash,
    ...(result.action === 'forget' ? { calls: result.calls, transcriptItems: result.transcriptItems } : { calls: result.calls.length }),
  });
  return result;
}

/** Closes the cached connections (tests; Lambda simply freezes the environment). */
export async function closeForTests(): Promise<void> {
  const d = deps;
  deps = undefined;
  if (d) await (await d).close();
}
