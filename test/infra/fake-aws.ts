// Test helper: one local HTTP server answering the AWS APIs the operator tools call, in each API's wire protocol.
// Query APIs (STS, CloudFormation, ElastiCache, SNS) answer XML `<ActionResponse><ActionResult>…`; JSON 1.1 APIs (ACM,
// Secrets Manager, ECS) dispatch on X-Amz-Target; Lambda's GetAccountSettings is REST (GET /2016-08-19/account-settings).
// Twilio's IncomingPhoneNumbers list is served too. Shapes follow each API reference's response syntax.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeAwsState {
  account: string;
  stacks: Record<string, Record<string, string>>;
  certificate?: { arn: string; status: string; domain: string };
  unreservedConcurrency: number;
  secrets: Record<string, { value: string; versions: number }>;
  subscriptions: { endpoint: string; arn: string }[];
  /** Successive DescribeReplicationGroups statuses (the last repeats). */
  redisStatuses: string[];
  redis: { automaticFailover: string; multiAz: string };
  twilioNumbers: Record<string, { voice_url: string; voice_method: string }>;
}

export interface FakeAws {
  endpoint: string;
  state: FakeAwsState;
  /** Every call, as `Service.Action` or the Query action name. */
  calls: { action: string; params: Record<string, unknown> }[];
  close(): Promise<void>;
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** `{a: 'x', b: [{c:'y'}]}` → `<a>x</a><b><member><c>y</c></member></b>`, with the member element name chosen per list. */
function xml(v: unknown, member = 'member'): string {
  if (Array.isArray(v)) return v.map((x) => `<${member}>${xml(x)}</${member}>`).join('');
  if (v && typeof v === 'object') {
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => {
        const [tag, m] = k.split('|') as [string, string | undefined];
        return `<${tag}>${xml(x, m)}</${tag}>`;
      })
      .join('');
  }
  return xmlEscape(String(v));
}

const queryOk = (action: string, result: unknown) =>
  `<${action}Response xmlns="https://example.invalid/doc/"><${action}Result>${xml(result)}</${action}Result><ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata></${action}Response>`;
const queryError = (code: string, message: string) =>
  `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>0</RequestId></ErrorResponse>`;

async function readBody(req: IncomingMessage): Promise<string> {
  let s = '';
  for await (const c of req) s += c;
  return s;
}

export async function fakeAws(state: FakeAwsState): Promise<FakeAws> {
  const calls: FakeAws['calls'] = [];
  let redisPoll = 0;
  const group = () => ({ ReplicationGroupId: 'voice-redis', Status: state.redisStatuses[Math.min(redisPoll++, state.redisStatuses.length - 1)]!, AutomaticFailover: state.redis.automaticFailover, MultiAZ: state.redis.multiAz });

  const query = (action: string, p: URLSearchParams): [number, string] => {
    calls.push({ action, params: Object.fromEntries(p) });
    switch (action) {
      case 'GetCallerIdentity':
        return [200, queryOk(action, { Arn: `arn:aws:iam::${state.account}:user/operator`, UserId: 'AIDAEXAMPLE', Account: state.account })];
      case 'DescribeStacks': {
        const name = p.get('StackName') ?? '';
        const outputs = state.stacks[name];
        if (!outputs) return [400, queryError('ValidationError', `Stack with id ${name} does not exist`)];
        const member = { StackName: name, StackId: `arn:aws:cloudformation:us-east-1:${state.account}:stack/${name}/1`, CreationTime: '2026-12-01T00:00:00Z', StackStatus: 'CREATE_COMPLETE', Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })) };
        return [200, queryOk(action, { Stacks: [member] })];
      }
      case 'DescribeReplicationGroups':
        return [200, queryOk(action, { 'ReplicationGroups|ReplicationGroup': [group()] })];
      case 'TestFailover':
        return [200, queryOk(action, { ReplicationGroup: { ...group(), Status: 'modifying' } })];
      case 'ListSubscriptionsByTopic':
        return [200, queryOk(action, { Subscriptions: state.subscriptions.map((s) => ({ TopicArn: p.get('TopicArn'), Protocol: 'email', SubscriptionArn: s.arn, Owner: state.account, Endpoint: s.endpoint })) })];
      default:
        return [400, queryError('InvalidAction', `no such action ${action}`)];
    }
  };

  const json11 = (target: string, body: Record<string, any>): [number, unknown] => {
    calls.push({ action: target, params: body });
    const secret = () => state.secrets[body.SecretId as string];
    switch (target) {
      case 'CertificateManager.DescribeCertificate':
        if (!state.certificate || body.CertificateArn !== state.certificate.arn) return [400, { __type: 'ResourceNotFoundException', message: 'no such certificate' }];
        return [200, { Certificate: { CertificateArn: state.certificate.arn, DomainName: state.certificate.domain, SubjectAlternativeNames: [state.certificate.domain], Status: state.certificate.status } }];
      case 'secretsmanager.DescribeSecret': {
        const s = secret();
        if (!s) return [400, { __type: 'ResourceNotFoundException', message: 'Secrets Manager can’t find the specified secret.' }];
        const stages = Object.fromEntries(Array.from({ length: s.versions }, (_, i) => [`v${i + 1}`, i === s.versions - 1 ? ['AWSCURRENT'] : ['AWSPREVIOUS']]));
        return [200, { ARN: body.SecretId, Name: body.SecretId, VersionIdsToStages: stages }];
      }
      case 'secretsmanager.GetSecretValue': {
        const s = secret();
        if (!s) return [400, { __type: 'ResourceNotFoundException', message: 'Secrets Manager can’t find the specified secret.' }];
        return [200, { ARN: body.SecretId, Name: body.SecretId, SecretString: s.value, VersionId: `v${s.versions}`, VersionStages: ['AWSCURRENT'] }];
      }
      case 'secretsmanager.PutSecretValue': {
        const s = secret();
        if (!s) return [400, { __type: 'ResourceNotFoundException', message: 'Secrets Manager can’t find the specified secret.' }];
        s.value = body.SecretString;
        s.versions++;
        return [200, { ARN: body.SecretId, Name: body.SecretId, VersionId: `v${s.versions}`, VersionStages: ['AWSCURRENT'] }];
      }
      case 'AmazonEC2ContainerServiceV20141113.UpdateService':
        return [200, { service: { serviceName: body.service, clusterArn: `arn:aws:ecs:us-east-1:${state.account}:cluster/${body.cluster}`, status: 'ACTIVE' } }];
      default:
        return [400, { __type: 'UnknownOperationException', message: target }];
    }
  };

  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://x');
    const target = req.headers['x-amz-target'];
    if (typeof target === 'string') {
      const [status, doc] = json11(target, body ? JSON.parse(body) : {});
      res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1' });
      return void res.end(JSON.stringify(doc));
    }
    if (req.method === 'GET' && url.pathname === '/2016-08-19/account-settings') {
      calls.push({ action: 'Lambda.GetAccountSettings', params: {} });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return void res.end(JSON.stringify({ AccountLimit: { ConcurrentExecutions: state.unreservedConcurrency + 100, UnreservedConcurrentExecutions: state.unreservedConcurrency, CodeSizeUnzipped: 262144000, CodeSizeZipped: 52428800, TotalCodeSize: 80530636800 }, AccountUsage: { FunctionCount: 0, TotalCodeSize: 0 } }));
    }
    const twilio = /^\/2010-04-01\/Accounts\/(AC\w+)\/IncomingPhoneNumbers\.json$/.exec(url.pathname);
    if (twilio) {
      calls.push({ action: 'Twilio.IncomingPhoneNumbers', params: { PhoneNumber: url.searchParams.get('PhoneNumber') } });
      const n = state.twilioNumbers[url.searchParams.get('PhoneNumber') ?? ''];
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return void res.end(JSON.stringify({ incoming_phone_numbers: n ? [{ phone_number: url.searchParams.get('PhoneNumber'), ...n }] : [] }));
    }
    const p = new URLSearchParams(body);
    const [status, text] = query(p.get('Action') ?? '', p);
    res.writeHead(status, { 'Content-Type': 'text/xml' });
    res.end(text);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    state,
    calls,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
