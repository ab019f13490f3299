#!/usr/bin/env node
// CDK app entry point. Synth needs no AWS credentials: the stack is environment-agnostic
// unless -c account=... -c region=... are given.
//
// Context:
//   stage                   which copy of Orderly (default: dev). Lowercase letters, digits and
//                           single hyphens, at most 20 characters; the stack is Orderly-<stage>
//                           and every physical name carries the stage (lib/naming.ts)
//   lambdaDir               directory with <service>.zip (default: ../build/lambda, from `make lambda`)
//   holdBack                comma-separated services whose functions keep the previous release's
//                           code, from previousLambdaDir: step 1 of a schema change, consumers
//                           first (docs/events.md#deploying-a-schema-change)
//   previousLambdaDir       directory with the previous release's <service>.zip (with holdBack)
//   account, region         pin the stack to an environment (default: env-agnostic)
//   cognitoDomainPrefix     hosted-domain prefix of the hosted UI and token endpoint
//                           (default: orderly-<stage>-<account id>)
//   customerCallbackUrls    comma-separated redirect URLs of the customer client after sign-in
//                           (default: http://localhost:3000/callback)
//   customerLogoutUrls      comma-separated redirect URLs after sign-out (default: http://localhost:3000/)
//   selfSignUp              true (default): customers register on the hosted UI; false: only
//                           operators create users (aws cognito-idp admin-create-user)
//   paramsSecretsLayerArn   override the Parameters and Secrets Extension layer ARN
//   alarmEmail              e-mail address subscribed to the alarm topic (optional)
import * as path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { splitList } from '../lib/identity';
import { DEFAULT_LAMBDA_DIR } from '../lib/lambda-code';
import { DEFAULT_STAGE, stackIdFor, validateStage } from '../lib/naming';
import { loadApiSpec } from '../lib/openapi';
import { OrderlyStack } from '../lib/orderly-stack';
import { loadTopology } from '../lib/topology';

const app = new App();
const ctx = (key: string): string | undefined => {
  const v = app.node.tryGetContext(key);
  return v === undefined || v === '' ? undefined : String(v);
};
const flag = (key: string): boolean | undefined => {
  const v = ctx(key);
  if (v === undefined) return undefined;
  if (v !== 'true' && v !== 'false') throw new Error(`-c ${key}=${v}: expected true or false`);
  return v === 'true';
};

let stage: string;
try {
  stage = validateStage(ctx('stage') ?? DEFAULT_STAGE);
} catch (e) {
  // Before any construct exists, so the message is all the user sees.
  process.stderr.write(`orderly: -c stage: ${(e as Error).message}\n`);
  process.exit(1);
}
const lambdaDir = ctx('lambdaDir');
const topology = loadTopology();
const holdBack = splitList(ctx('holdBack')) ?? [];
const previousLambdaDir = ctx('previousLambdaDir');
if (holdBack.length > 0) {
  const known = topology.services.map((s) => s.name);
  const unknown = holdBack.filter((s) => !known.includes(s));
  if (unknown.length > 0 || !previousLambdaDir) {
    process.stderr.write(
      unknown.length > 0
        ? `orderly: -c holdBack: no service ${unknown.join(', ')} (services: ${known.join(', ')})\n`
        : 'orderly: -c holdBack needs -c previousLambdaDir=DIR (the previous release\'s zips)\n',
    );
    process.exit(1);
  }
}
const account = ctx('account');
const region = ctx('region');

new OrderlyStack(app, stackIdFor(stage), {
  description: `Orderly (stage ${stage}): event-driven order fulfilment (five services on Lambda, DynamoDB, EventBridge, SQS)`,
  env: account || region ? { account, region } : undefined,
  stage,
  topology,
  api: loadApiSpec(),
  lambdaDir: lambdaDir ? path.resolve(lambdaDir) : DEFAULT_LAMBDA_DIR,
  heldBack:
    holdBack.length > 0 && previousLambdaDir
      ? { services: holdBack, lambdaDir: path.resolve(previousLambdaDir) }
      : undefined,
  cognitoDomainPrefix: ctx('cognitoDomainPrefix'),
  customerCallbackUrls: splitList(ctx('customerCallbackUrls')),
  customerLogoutUrls: splitList(ctx('customerLogoutUrls')),
  selfSignUp: flag('selfSignUp'),
  paramsSecretsLayerArn: ctx('paramsSecretsLayerArn'),
  alarmEmail: ctx('alarmEmail'),
  retentionDays: ctx('retentionDays') === undefined ? undefined : Number(ctx('retentionDays')),
  sweepMinutes: ctx('sweepMinutes') === undefined ? undefined : Number(ctx('sweepMinutes')),
});

// cdk-nag v3 is a CDK policy-validation plugin: findings fail `cdk synth`/`cdk deploy`.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
