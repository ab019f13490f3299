// Builds the app the way bin/orderly.ts does (same cdk.json context, same inputs), but
// with stub Lambda packages (a TEST DOUBLE, see stub-lambdas.ts) instead of build/lambda.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { DEFAULT_STAGE, stackIdFor } from '../../lib/naming';
import { ApiSpec, loadApiSpec } from '../../lib/openapi';
import { OrderlyStack } from '../../lib/orderly-stack';
import { loadTopology, Topology } from '../../lib/topology';
import { makeStubLambdaDir, tempDir } from './stub-lambdas';

const CDK_JSON = path.resolve(__dirname, '..', '..', 'cdk.json');

export function cdkContext(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(CDK_JSON, 'utf8')).context ?? {};
}

/** The stage the shared synthesized() stack is built for (the app's default). */
export const TEST_STAGE = DEFAULT_STAGE;
/** `orderly-<TEST_STAGE>`: the first segment of the stack's hyphenated names, spelled out here
 * (not taken from lib/naming.ts) so that a naming bug cannot hide from the tests. */
export const P = `orderly-${TEST_STAGE}`;

export interface Built {
  readonly app: App;
  readonly stack: OrderlyStack;
  readonly topology: Topology;
  readonly api: ApiSpec;
}

export interface BuildOverrides {
  topology?: Topology;
  api?: ApiSpec;
  lambdaDir?: string;
  alarmEmail?: string;
  stage?: string;
  cognitoDomainPrefix?: string;
  customerCallbackUrls?: string[];
  customerLogoutUrls?: string[];
  selfSignUp?: boolean;
  heldBack?: { services: string[]; lambdaDir: string };
  retentionDays?: number;
  sweepMinutes?: number;
}

export function build(overrides: BuildOverrides = {}): Built {
  const topology = overrides.topology ?? loadTopology();
  const api = overrides.api ?? loadApiSpec();
  const stage = overrides.stage ?? TEST_STAGE;
  const app = new App({ context: cdkContext(), outdir: tempDir('orderly-cdk-out-') });
  const stack = new OrderlyStack(app, stackIdFor(stage), {
    stage,
    topology,
    api,
    lambdaDir: overrides.lambdaDir ?? makeStubLambdaDir(topology),
    alarmEmail: overrides.alarmEmail,
    cognitoDomainPrefix: overrides.cognitoDomainPrefix,
    customerCallbackUrls: overrides.customerCallbackUrls,
    customerLogoutUrls: overrides.customerLogoutUrls,
    selfSignUp: overrides.selfSignUp,
    heldBack: overrides.heldBack,
    retentionDays: overrides.retentionDays,
    sweepMinutes: overrides.sweepMinutes,
  });
  return { app, stack, topology, api };
}

let cached: (Built & { template: Template; json: CfnTemplate }) | undefined;

/** One synthesized stack per test process. */
export function synthesized(): Built & { template: Template; json: CfnTemplate } {
  if (!cached) {
    const b = build();
    const template = Template.fromStack(b.stack);
    cached = { ...b, template, json: template.toJSON() as CfnTemplate };
  }
  return cached;
}

export interface CfnResource {
  Type: string;
  Properties?: Record<string, any>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  DependsOn?: string[];
}
export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, unknown>;
  Mappings?: Record<string, unknown>;
}

export function resourcesOfType(t: CfnTemplate, type: string): Array<[string, CfnResource]> {
  return Object.entries(t.Resources).filter(([, r]) => r.Type === type);
}

/** The logical id a {Ref}/{Fn::GetAtt} points at, else undefined. */
export function refId(v: unknown): string | undefined {
  if (v && typeof v === 'object') {
    const o = v as Record<string, any>;
    if (typeof o.Ref === 'string') return o.Ref;
    if (Array.isArray(o['Fn::GetAtt'])) return o['Fn::GetAtt'][0];
  }
  return undefined;
}

export function asArray<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: unknown;
  Principal?: unknown;
  Condition?: Record<string, any>;
  Sid?: string;
}

/** Every policy statement in the template, with where it came from. */
export function allStatements(t: CfnTemplate): Array<{ where: string; type: string; statement: Statement }> {
  const out: Array<{ where: string; type: string; statement: Statement }> = [];
  const add = (where: string, type: string, doc: any) => {
    for (const s of asArray<Statement>(doc?.Statement)) out.push({ where, type, statement: s });
  };
  for (const [id, r] of Object.entries(t.Resources)) {
    const p = r.Properties ?? {};
    switch (r.Type) {
      case 'AWS::IAM::Policy':
      case 'AWS::IAM::ManagedPolicy':
      case 'AWS::SQS::QueuePolicy':
      case 'AWS::SNS::TopicPolicy':
      case 'AWS::S3::BucketPolicy':
        add(id, r.Type, p.PolicyDocument);
        break;
      case 'AWS::IAM::Role':
        add(`${id} (trust)`, r.Type, p.AssumeRolePolicyDocument);
        for (const inline of asArray<any>(p.Policies)) add(`${id} (inline ${inline.PolicyName})`, r.Type, inline.PolicyDocument);
        break;
      case 'AWS::KMS::Key':
        add(id, r.Type, p.KeyPolicy);
        break;
      case 'AWS::SecretsManager::ResourcePolicy':
        add(id, r.Type, p.ResourcePolicy);
        break;
      case 'AWS::Events::EventBusPolicy':
        add(id, r.Type, p.Policy ?? { Statement: p.Statement });
        break;
      case 'AWS::Lambda::Permission':
        out.push({ where: id, type: r.Type, statement: { Effect: 'Allow', Action: p.Action, Principal: p.Principal } });
        break;
      default:
        break;
    }
  }
  return out;
}

/** Queues used as a DLQ anywhere: by a queue's RedrivePolicy, a rule target, or a pipe. */
export function dlqIds(t: CfnTemplate): Set<string> {
  const ids = new Set<string>();
  for (const [, q] of resourcesOfType(t, 'AWS::SQS::Queue')) {
    const target = refId(q.Properties!.RedrivePolicy?.deadLetterTargetArn);
    if (target) ids.add(target);
  }
  for (const [, r] of resourcesOfType(t, 'AWS::Events::Rule'))
    for (const target of asArray<any>(r.Properties!.Targets))
      if (target.DeadLetterConfig) ids.add(refId(target.DeadLetterConfig.Arn)!);
  for (const [, p] of resourcesOfType(t, 'AWS::Pipes::Pipe'))
    ids.add(refId(p.Properties!.SourceParameters.DynamoDBStreamParameters.DeadLetterConfig.Arn)!);
  return ids;
}
