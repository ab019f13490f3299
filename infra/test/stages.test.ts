// Stages (`-c stage=<name>`): one copy of Orderly per stage in the same account and Region.
// Two stages are synthesized and every physical name is collected generically (each
// top-level resource property whose key ends in Name, Prefix or Domain, plus the stack
// name): no name may be shared, every name carries its stage, and at the longest stage
// every name stays within its AWS length limit. Invalid stages are refused, by the library
// and by the app (bin/orderly.ts) itself.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { StageNames, STAGE_MAX_LENGTH, stackIdFor, validateStage } from '../lib/naming';
import { build, CfnTemplate, refId, synthesized, TEST_STAGE } from './support/synth';

/**
 * Name-like properties that are not account-wide physical names: they are scoped inside
 * their parent resource (which has a stage-qualified name of its own), or are not names of
 * a resource at all. Everything else that ends in Name/Prefix/Domain must be stage-qualified.
 */
const SCOPED: Readonly<Record<string, string>> = {
  'AWS::IAM::Policy.PolicyName': 'an inline policy is named within its role',
  'AWS::ApiGatewayV2::Stage.StageName': 'a stage ($default) is named within its HTTP API',
  'AWS::ApiGatewayV2::Authorizer.Name': 'an authorizer is named within its HTTP API',
  'AWS::CloudWatch::Alarm.MetricName': 'the metric an alarm watches (e.g. Errors), not a resource',
};

/** AWS limits on each physical name (characters), spelled out independently of lib/naming.ts. */
const LIMITS: Readonly<Record<string, number>> = {
  'AWS::CloudFormation::Stack.StackName': 128,
  'AWS::Lambda::Function.FunctionName': 64,
  'AWS::Logs::LogGroup.LogGroupName': 512,
  'AWS::SQS::Queue.QueueName': 80,
  'AWS::Events::EventBus.Name': 256,
  'AWS::Events::Archive.ArchiveName': 48,
  'AWS::Events::Rule.Name': 64,
  'AWS::Pipes::Pipe.Name': 64,
  'AWS::KMS::Alias.AliasName': 256,
  'AWS::SecretsManager::Secret.Name': 512,
  'AWS::SNS::Topic.TopicName': 256,
  'AWS::SNS::Topic.DisplayName': 100,
  'AWS::CloudWatch::Alarm.AlarmName': 255,
  'AWS::CloudWatch::Dashboard.DashboardName': 255,
  'AWS::Logs::QueryDefinition.Name': 255,
  'AWS::Cognito::UserPool.UserPoolName': 128,
  'AWS::Cognito::UserPoolClient.ClientName': 128,
  'AWS::Cognito::UserPoolResourceServer.Name': 256,
  'AWS::Cognito::UserPoolDomain.Domain': 63,
  'AWS::ApiGatewayV2::Api.Name': 128,
};

const NAME_KEY = /(Name|Prefix|Domain)$/;

/**
 * A property value as the deployed name will read: literals and Fn::Join of literals, with
 * the pseudo parameters at their longest plausible values. A reference to another resource
 * (Ref, GetAtt) is not a name of this resource: undefined.
 */
function render(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') {
    const o = v as Record<string, any>;
    if (o.Ref === 'AWS::AccountId') return '123456789012';
    if (o.Ref === 'AWS::Region') return 'ap-southeast-2';
    if (o.Ref === 'AWS::Partition') return 'aws-us-gov';
    if (Array.isArray(o['Fn::Join'])) {
      const parts = (o['Fn::Join'][1] as unknown[]).map(render);
      return parts.some((p) => p === undefined) ? undefined : parts.join(o['Fn::Join'][0]);
    }
  }
  return undefined;
}

interface PhysicalName {
  readonly where: string; // "<Type>.<Property>"
  readonly id: string; // logical id
  readonly name: string;
}

function physicalNames(t: CfnTemplate, stackName: string): PhysicalName[] {
  const out: PhysicalName[] = [{ where: 'AWS::CloudFormation::Stack.StackName', id: '(stack)', name: stackName }];
  for (const [id, r] of Object.entries(t.Resources)) {
    for (const [key, value] of Object.entries(r.Properties ?? {})) {
      if (!NAME_KEY.test(key)) continue;
      const where = `${r.Type}.${key}`;
      if (SCOPED[where]) continue;
      if (refId(value) !== undefined) continue; // points at a resource collected on its own
      const name = render(value);
      assert.ok(name !== undefined, `${id} ${where}: a name that is neither a literal nor a reference: ${JSON.stringify(value)}`);
      out.push({ where, id, name: name! });
    }
  }
  return out;
}

const dev = synthesized();
const prod = build({ stage: 'prod' });
const prodJson = Template.fromStack(prod.stack).toJSON() as CfnTemplate;
const devNames = physicalNames(dev.json, dev.stack.stackName);
const prodNames = physicalNames(prodJson, prod.stack.stackName);

/** `stage` as a whole word of a name: orderly-dev-x, alias/orderly/dev/x, Orderly-dev, Orderly/dev/x. */
const carries = (name: string, stage: string) => new RegExp(`(^|[^a-z0-9])${stage}([^a-z0-9]|$)`).test(name);

describe('two stages in one account and Region', () => {
  it(`the stack is Orderly-<stage>: ${dev.stack.stackName} and ${prod.stack.stackName}`, () => {
    assert.equal(dev.stack.stackName, `Orderly-${TEST_STAGE}`);
    assert.equal(prod.stack.stackName, 'Orderly-prod');
    assert.equal(stackIdFor('prod'), 'Orderly-prod');
  });

  it('the generic collection finds every kind of physical name the stack sets', (t) => {
    const kinds = new Set(devNames.map((n) => n.where));
    t.diagnostic(`${devNames.length} names of ${kinds.size} kinds: ${[...kinds].sort().join(', ')}`);
    for (const k of Object.keys(LIMITS)) assert.ok(kinds.has(k), `no ${k} collected`);
    for (const k of kinds) assert.ok(LIMITS[k], `${k}: a physical name without a known AWS limit (add it to LIMITS)`);
    assert.equal(prodNames.length, devNames.length);
    assert.ok(devNames.length > 100);
  });

  it('no physical name is shared between the two templates', () => {
    const prodSet = new Set(prodNames.map((n) => n.name));
    const shared = devNames.filter((n) => prodSet.has(n.name)).map((n) => `${n.where} ${n.id}: ${n.name}`);
    assert.deepEqual(shared, []);
  });

  it('every physical name carries its stage', () => {
    assert.deepEqual(devNames.filter((n) => !carries(n.name, TEST_STAGE)).map((n) => `${n.where}: ${n.name}`), []);
    assert.deepEqual(prodNames.filter((n) => !carries(n.name, 'prod')).map((n) => `${n.where}: ${n.name}`), []);
  });

  it('nothing in one template names the other stage (descriptions, policies, environment variables included)', () => {
    const text = JSON.stringify(prodJson);
    for (const leftover of [/orderly-dev\b/, /\/dev\//, /Orderly-dev\b/, /Orderly\/dev\b/]) assert.doesNotMatch(text, leftover);
    // And no hyphenated orderly-... string in the prod template misses the stage.
    const unqualified = [...new Set([...text.matchAll(/\borderly-[a-z0-9-]+/g)].map((m) => m[0]))].filter((s) => !s.startsWith('orderly-prod'));
    assert.deepEqual(unqualified, []);
  });

  it('functions get the stage\'s table, metrics namespace and secret through the same environment variables', () => {
    const fns = Object.values(prodJson.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    for (const f of fns) {
      const env = f.Properties!.Environment.Variables;
      assert.equal(env.ORDERLY_METRICS_NAMESPACE, 'Orderly/prod');
      assert.ok(refId(env.ORDERLY_TABLE), 'ORDERLY_TABLE is the (generated) name of the stage\'s table');
    }
    const readers = fns.filter((f) => f.Properties!.Environment.Variables.ORDERLY_PAYMENT_SECRET_ARN);
    assert.equal(readers.length, 1);
    const secret = prodJson.Resources[refId(readers[0].Properties!.Environment.Variables.ORDERLY_PAYMENT_SECRET_ARN)!];
    assert.equal(secret.Properties!.Name, 'orderly/prod/payments/provider-key');
  });
});

describe('tags', () => {
  it('every KMS key (retained on teardown, found by tag) is tagged project=orderly, stage=<stage>', () => {
    const keys = Object.values(prodJson.Resources).filter((r) => r.Type === 'AWS::KMS::Key');
    assert.ok(keys.length > 0);
    for (const k of keys) {
      assert.deepEqual(k.Properties!.Tags, [
        { Key: 'project', Value: 'orderly' },
        { Key: 'stage', Value: 'prod' },
      ]);
    }
  });
});

describe(`the longest stage (${STAGE_MAX_LENGTH} characters)`, () => {
  it('keeps every physical name within its AWS limit', () => {
    const stage = `l${'0'.repeat(STAGE_MAX_LENGTH - 1)}`;
    const b = build({ stage });
    const names = physicalNames(Template.fromStack(b.stack).toJSON() as CfnTemplate, b.stack.stackName);
    const over = names.filter((n) => n.name.length > LIMITS[n.where]).map((n) => `${n.where}: ${n.name} (${n.name.length} > ${LIMITS[n.where]})`);
    assert.deepEqual(over, []);
    assert.ok(names.every((n) => carries(n.name, stage)));
  });
});

describe('invalid stages are refused', () => {
  const BAD = ['', 'Prod', 'dev_1', 'dev.1', '-dev', 'dev-', 'de--v', '1dev', 'dév', 'a'.repeat(STAGE_MAX_LENGTH + 1)];

  for (const s of BAD) {
    it(`validateStage(${JSON.stringify(s.length > 25 ? `${s.slice(0, 5)}... (${s.length})` : s)})`, () => {
      assert.throws(() => validateStage(s), /stage/);
    });
  }

  it('accepts lowercase letters, digits and single inner hyphens', () => {
    for (const s of ['dev', 'prod', 'pr-123', 'eu-west-1', 'a'.repeat(STAGE_MAX_LENGTH)]) assert.equal(validateStage(s), s);
  });

  it('says what a stage may be', () => {
    assert.throws(() => validateStage('Prod'), /stage "Prod" is not valid: a stage is 1 to 20 characters of lowercase letters, digits and single hyphens/);
    assert.throws(() => validateStage('a'.repeat(21)), /is 21 characters, longer than 20/);
    assert.throws(() => build({ stage: 'Prod' }), /stage "Prod" is not valid/);
  });

  it('a name over its AWS limit fails with the name and the limit', () => {
    const names = new StageNames('dev');
    assert.throws(() => names.functionName('x'.repeat(60), 'events'), /lambdaFunction name "orderly-dev-x+-events" is 79 characters, over the AWS limit of 64/);
    assert.throws(() => names.pipeName('y'.repeat(60)), /pipe name .* over the AWS limit of 64/);
  });

  it('the app (bin/orderly.ts) stops with the reason on `-c stage=Prod`, before building anything', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bin/orderly.ts'], {
      cwd: path.resolve(__dirname, '..'),
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ stage: 'Prod' }) },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /orderly: -c stage: stage "Prod" is not valid: a stage is 1 to 20 characters/);
  });
});
