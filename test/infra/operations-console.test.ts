// Pins the operations console's AWS resources in the synthesized dev stage: WebSocket auth, access logs, connections TTL, VPC placement, grants and the page bucket.
import { beforeAll, describe, expect, it } from 'vitest';
import { type Synthesized, logicalId, propsOf, resourcesOf, synthStage } from './synth';

let s: Synthesized;
beforeAll(() => {
  s = synthStage('dev', { bundle: false });
}, 600_000);

const t = () => s.serviceTemplate;
const consoleApiId = () => logicalId(s.service.operationsConsole.api);
const refersTo = (value: unknown, id: string) => JSON.stringify(value).includes(`"${id}"`);

/** Every statement of every IAM policy attached to the role with this logical id. */
function statementsOf(roleId: string): Record<string, any>[] {
  return resourcesOf(t(), 'AWS::IAM::Policy')
    .filter(([, r]) => (r.Properties.Roles as unknown[]).some((ref) => JSON.stringify(ref) === JSON.stringify({ Ref: roleId })))
    .flatMap(([, r]) => r.Properties.PolicyDocument.Statement as Record<string, any>[]);
}

describe('operations console (dev)', () => {
  it('synthesizes with no unacknowledged cdk-nag finding', () => {
    expect(s.violations).toEqual([]);
  });

  it('is a WebSocket API with IAM auth on $connect and no authorizer on $disconnect or $default', () => {
    expect(propsOf(t(), consoleApiId())).toMatchObject({ ProtocolType: 'WEBSOCKET' });
    const routes = resourcesOf(t(), 'AWS::ApiGatewayV2::Route')
      .map(([, r]) => r.Properties)
      .filter((r) => refersTo(r.ApiId, consoleApiId()));
    const auth = Object.fromEntries(routes.map((r) => [r.RouteKey, r.AuthorizationType ?? 'NONE']));
    expect(auth).toEqual({ $connect: 'AWS_IAM', $disconnect: 'NONE', $default: 'NONE' });
  });

  it('writes stage access logs as JSON with the request id and caller to an encrypted log group', () => {
    const [[, stage]] = resourcesOf(t(), 'AWS::ApiGatewayV2::Stage').filter(([, r]) => refersTo(r.Properties.ApiId, consoleApiId()));
    const { AccessLogSettings: logs } = stage.Properties;
    const format = JSON.parse(logs.Format as string) as Record<string, string>;
    expect(format).toMatchObject({ requestId: '$context.requestId', eventType: '$context.eventType', principal: '$context.identity.userArn' });
    const groupId = logs.DestinationArn['Fn::GetAtt'][0] as string;
    expect(propsOf(t(), groupId).KmsKeyId).toBeDefined();
    // WebSocket stage logging needs the account-level API Gateway CloudWatch role, set before the stage.
    const [[accountId, account]] = resourcesOf(t(), 'AWS::ApiGateway::Account');
    expect(account.Properties.CloudWatchRoleArn).toBeDefined();
    expect(stage.DependsOn).toContain(accountId);
  });

  it('keeps connections in a KMS-encrypted, PITR table keyed by connectionId with TTL on expiresAt', () => {
    const table = propsOf(t(), logicalId(s.service.operationsConsole.connections));
    expect(table.KeySchema).toEqual([{ AttributeName: 'connectionId', KeyType: 'HASH' }]);
    expect(table.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
    expect(table.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table.SSESpecification).toMatchObject({ SSEEnabled: true, SSEType: 'KMS' });
  });

  it('runs the $default Lambda in the NAT (app) subnets and $connect/$disconnect in the isolated ones', () => {
    const { functions } = s.service.operationsConsole;
    const subnetsOf = (fn: typeof functions.action) => JSON.stringify(propsOf(t(), logicalId(fn)).VpcConfig.SubnetIds);
    expect(subnetsOf(functions.action)).toMatch(/appSubnet/);
    for (const fn of [functions.connect, functions.disconnect]) expect(subnetsOf(fn)).toMatch(/dataSubnet/);
    const action = propsOf(t(), logicalId(functions.action));
    expect(Object.keys(action.Environment.Variables)).toEqual(
      expect.arrayContaining(['CONSOLE_CONNECTIONS_TABLE', 'CONSOLE_MANAGEMENT_ENDPOINT', 'CONSOLE_TRANSCRIPT_READERS', 'REDIS_HOST', 'REDIS_AUTH_SECRET_ARN']),
    );
    expect(action.Environment.Variables.CONSOLE_TRANSCRIPT_READERS).toBe('*');
    expect(action.Handler).toBe('index.action');
    for (const fn of Object.values(functions)) expect(propsOf(t(), logicalId(fn))).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'] });
  });

  it("gives the media task role ManageConnections on this API stage's @connections only, and the connection rows", () => {
    const roleId = logicalId(s.service.media.taskDefinition.taskRole);
    const statements = statementsOf(roleId);
    const manage = statements.filter((st) => [st.Action].flat().includes('execute-api:ManageConnections'));
    expect(manage).toHaveLength(1);
    const resource = JSON.stringify(manage[0]!.Resource);
    expect(resource).toContain(`"${consoleApiId()}"`);
    expect(resource).toContain('/dev/*/@connections/*');
    const rows = statements.find((st) => st.Sid === 'ConsoleConnections')!;
    expect([...rows.Action].sort()).toEqual(['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:Scan']);
    expect(refersTo(rows.Resource, logicalId(s.service.operationsConsole.connections))).toBe(true);
    const [[, taskDef]] = resourcesOf(t(), 'AWS::ECS::TaskDefinition');
    const env = Object.fromEntries((taskDef.Properties.ContainerDefinitions[0].Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]));
    expect(JSON.stringify(env.CONSOLE_MANAGEMENT_ENDPOINT)).toContain('https://');
    expect(JSON.stringify(env.CONSOLE_MANAGEMENT_ENDPOINT)).toContain('/dev');
    expect(refersTo(env.CONSOLE_CONNECTIONS_TABLE, logicalId(s.service.operationsConsole.connections))).toBe(true);
  });

  it('serves the page from a private bucket that only this CloudFront distribution (OAC) may read', () => {
    const { pageBucket, distribution } = s.service.operationsConsole;
    const bucket = propsOf(t(), logicalId(pageBucket));
    expect(bucket.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(bucket.LoggingConfiguration).toBeDefined();
    const [[, policy]] = resourcesOf(t(), 'AWS::S3::BucketPolicy').filter(([, r]) => refersTo(r.Properties.Bucket, logicalId(pageBucket)));
    const statements = policy.Properties.PolicyDocument.Statement as Record<string, any>[];
    // TLS only.
    expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
    // Reads: CloudFront, for this distribution only.
    const reads = statements.filter((st) => st.Effect === 'Allow' && [st.Action].flat().includes('s3:GetObject'));
    expect(reads).toHaveLength(1);
    expect(reads[0]!.Principal).toEqual({ Service: 'cloudfront.amazonaws.com' });
    expect(refersTo(reads[0]!.Condition.StringEquals['AWS:SourceArn'], logicalId(distribution))).toBe(true);
    const config = propsOf(t(), logicalId(distribution)).DistributionConfig;
    expect(config.Origins).toHaveLength(1);
    expect(config.Origins[0].OriginAccessControlId).toBeDefined();
    expect(config.Origins[0].S3OriginConfig.OriginAccessIdentity).toBe('');
    expect(config.DefaultCacheBehavior.ViewerProtocolPolicy).toBe('redirect-to-https');
    expect(config.DefaultRootObject).toBe('index.html');
  });

  it('outputs the WebSocket URL, the page URL and the $connect ARN for npm run console', () => {
    const outputs = t().toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(JSON.stringify(outputs.ConsoleWebSocketUrl!.Value)).toContain('wss://');
    expect(JSON.stringify(outputs.ConsolePageUrl!.Value)).toContain('DomainName');
    expect(JSON.stringify(outputs.ConsoleConnectArn!.Value)).toContain('/dev/$connect');
  });
});
