#!/usr/bin/env node
// CDK app entry point. Synth needs no AWS credentials: the stack is environment-agnostic
// unless -c account=... -c region=... are given.
//
// Context:
//   lambdaDir               directory with <service>.zip (default: ../build/lambda, from `make lambda`)
//   account, region         pin the stack to an environment (default: env-agnostic)
//   cognitoDomainPrefix     hosted-domain prefix of the token endpoint (default: orderly-<account id>)
//   paramsSecretsLayerArn   override the Parameters and Secrets Extension layer ARN
//   alarmEmail              e-mail address subscribed to the alarm topic (optional)
import * as path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DEFAULT_LAMBDA_DIR } from '../lib/lambda-code';
import { loadApiSpec } from '../lib/openapi';
import { OrderlyStack } from '../lib/orderly-stack';
import { loadTopology } from '../lib/topology';

const app = new App();
const ctx = (key: string): string | undefined => {
  const v = app.node.tryGetContext(key);
  return v === undefined || v === '' ? undefined : String(v);
};

const lambdaDir = ctx('lambdaDir');
const account = ctx('account');
const region = ctx('region');

new OrderlyStack(app, 'Orderly', {
  description: 'Orderly: event-driven order fulfilment (five services on Lambda, DynamoDB, EventBridge, SQS)',
  env: account || region ? { account, region } : undefined,
  topology: loadTopology(),
  api: loadApiSpec(),
  lambdaDir: lambdaDir ? path.resolve(lambdaDir) : DEFAULT_LAMBDA_DIR,
  cognitoDomainPrefix: ctx('cognitoDomainPrefix'),
  paramsSecretsLayerArn: ctx('paramsSecretsLayerArn'),
  alarmEmail: ctx('alarmEmail'),
});

// cdk-nag v3 is a CDK policy-validation plugin: findings fail `cdk synth`/`cdk deploy`.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
