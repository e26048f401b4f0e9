// ElastiCache Redis for the tool cache, sessions and caller memory: Multi-AZ, TLS, AUTH, encrypted, off the default port.
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/** Not 6379: the default port is what scanners try first (AwsSolutions-AEC5). */
export const REDIS_PORT = 6380;

export interface ToolCacheProps {
  readonly vpc: ec2.IVpc;
  readonly availabilityZones: readonly string[];
  readonly nodeType: string;
  readonly snapshotRetentionDays: number;
  readonly key: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * A two-node replication group (primary + replica in the other AZ) with automatic failover, so losing an AZ
 * costs a ~30 s failover, not the cache. Clients connect to the primary endpoint with TLS and the AUTH token.
 */
export class ToolCache extends Construct {
  readonly securityGroup: ec2.SecurityGroup;
  /** The AUTH token, generated; Lambdas read it by ARN, the media service gets it as an ECS secret. */
  readonly authSecret: secretsmanager.Secret;
  readonly host: string;
  readonly port: number = REDIS_PORT;
  readonly replicationGroup: elasticache.CfnReplicationGroup;

  constructor(scope: Construct, id: string, props: ToolCacheProps) {
    super(scope, id);
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Redis: ingress only from the tool Lambdas and media tasks',
      allowAllOutbound: false,
    });
    this.authSecret = new secretsmanager.Secret(this, 'AuthToken', {
      description: 'ElastiCache Redis AUTH token',
      encryptionKey: props.key,
      removalPolicy: props.removalPolicy,
      // AUTH tokens: 16–128 printable characters, and not every symbol is allowed; alphanumerics are always valid.
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    Validations.of(this.authSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'An AUTH token change must go through ModifyReplicationGroup (ROTATE then SET) while clients reconnect; done as a planned change, not by a Secrets Manager rotation Lambda.',
    });
    const subnets = new elasticache.CfnSubnetGroup(this, 'Subnets', {
      description: 'Isolated data subnets for Redis',
      subnetIds: props.vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_ISOLATED }).subnetIds,
    });
    this.replicationGroup = new elasticache.CfnReplicationGroup(this, 'Redis', {
      replicationGroupDescription: 'Voice agent tool cache, sessions and caller memory',
      engine: 'redis',
      engineVersion: '7.1',
      cacheNodeType: props.nodeType,
      numCacheClusters: 2,
      multiAzEnabled: true,
      automaticFailoverEnabled: true,
      preferredCacheClusterAZs: [...props.availabilityZones],
      port: REDIS_PORT,
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      atRestEncryptionEnabled: true,
      kmsKeyId: props.key.keyArn,
      authToken: this.authSecret.secretValue.unsafeUnwrap(),
      cacheSubnetGroupName: subnets.ref,
      securityGroupIds: [this.securityGroup.securityGroupId],
      snapshotRetentionLimit: props.snapshotRetentionDays,
      autoMinorVersionUpgrade: true,
    });
    this.replicationGroup.applyRemovalPolicy(props.removalPolicy);
    this.host = this.replicationGroup.attrPrimaryEndPointAddress;
  }
}
