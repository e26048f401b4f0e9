// Secrets Manager secrets: provider API keys (filled in by the operator) and generated signing/hash keys.
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { BACKUP_SECRETS, type BackupWithSecret } from '../../contracts/providers';

export interface AppSecretsProps {
  readonly key: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
  /** Backup providers the stage lists that need an account of their own (contracts/providers.ts). @default none */
  readonly backups?: readonly BackupWithSecret[];
}

/**
 * Provider keys are created with a random placeholder value; set the real value after the first deploy
 * (`aws secretsmanager put-secret-value --secret-id <arn> --secret-string <key>`), then restart the service.
 * The Twilio secret is JSON `{ "accountSid": "AC…", "authToken": "…" }`.
 */
export class AppSecrets extends Construct {
  /** JSON with `accountSid` and `authToken`. */
  readonly twilio: secretsmanager.Secret;
  readonly deepgram: secretsmanager.Secret;
  readonly groq: secretsmanager.Secret;
  readonly elevenlabs: secretsmanager.Secret;
  /** One secret per listed backup provider (AssemblyAI key, Google service-account JSON, Fireworks, Together). */
  readonly backups: Partial<Record<BackupWithSecret, secretsmanager.Secret>> = {};
  /** Shared secret Vapi sends in `x-vapi-secret`; checked by the Vapi authorizer. */
  readonly vapi: secretsmanager.Secret;
  /** HMAC key of the short-lived stream token (TwiML <Parameter> → WebSocket start). */
  readonly streamTokenKey: secretsmanager.Secret;
  /** HMAC key turning a phone number into the caller hash (memory keys, byCaller index). */
  readonly callerHashKey: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: AppSecretsProps) {
    super(scope, id);
    const make = (name: string, description: string, generate: secretsmanager.SecretStringGenerator, rotationReason: string) => {
      const secret = new secretsmanager.Secret(this, name, {
        description,
        encryptionKey: props.key,
        removalPolicy: props.removalPolicy,
        generateSecretString: generate,
      });
      Validations.of(secret).acknowledge({ id: 'AwsSolutions-SMG4', reason: rotationReason });
      return secret;
    };
    const vendorKey = (vendor: string) =>
      `${vendor} API keys are issued in the ${vendor} console and cannot be rotated by a Lambda; rotate them there and put the new value here.`;
    // 64 alphanumerics: well above the 32-character minimum the media service enforces for HMAC keys.
    const hmacKey: secretsmanager.SecretStringGenerator = { passwordLength: 64, excludePunctuation: true };

    this.twilio = make(
      'Twilio',
      'Twilio account SID and auth token (JSON: accountSid, authToken) — set after deploy',
      { secretStringTemplate: JSON.stringify({ accountSid: 'AC00000000000000000000000000000000' }), generateStringKey: 'authToken', excludePunctuation: true },
      vendorKey('Twilio'),
    );
    this.deepgram = make('Deepgram', 'Deepgram API key — set after deploy', { excludePunctuation: true }, vendorKey('Deepgram'));
    this.groq = make('Groq', 'Groq API key — set after deploy', { excludePunctuation: true }, vendorKey('Groq'));
    this.elevenlabs = make('ElevenLabs', 'ElevenLabs API key — set after deploy', { excludePunctuation: true }, vendorKey('ElevenLabs'));
    for (const name of props.backups ?? []) {
      const b = BACKUP_SECRETS[name];
      // The Google placeholder is service-account-shaped JSON, so the task boots (and Google fails over) until it is filled.
      const generate: secretsmanager.SecretStringGenerator =
        name === 'google' ? { secretStringTemplate: JSON.stringify({ client_email: 'set-me@example.invalid' }), generateStringKey: 'private_key', excludePunctuation: true } : { excludePunctuation: true };
      this.backups[name] = make(b.secret, `${b.secret} credentials for the ${b.seam.toUpperCase()} failover backup (${b.env}) — set after deploy`, generate, vendorKey(b.secret));
    }
    this.vapi = make(
      'Vapi',
      'Shared secret Vapi sends in x-vapi-secret — copy it into the Vapi tool server settings',
      hmacKey,
      'The same value is configured in the Vapi dashboard; an automatic rotation would break Vapi tool calls until someone copies it over.',
    );
    this.streamTokenKey = make(
      'StreamTokenKey',
      'HMAC key of the media stream token',
      hmacKey,
      'Read once at task start; tokens live 60 s. Rotate by updating the value and redeploying the service (a rolling restart), not by a rotation Lambda.',
    );
    this.callerHashKey = make(
      'CallerHashKey',
      'HMAC key that pseudonymises caller phone numbers',
      hmacKey,
      'Caller hashes key the stored memory and the byCaller index; rotating the key would orphan every stored record of every caller.',
    );
  }
}
