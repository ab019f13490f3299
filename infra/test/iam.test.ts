// Least privilege: no wildcard action in any Allow statement of any policy in the template
// (IAM policies, role trust and inline policies, managed policies, KMS key policies, SQS
// queue policies, resource policies, Lambda permissions), Resource "*" only where AWS
// offers no resource-level permission, no managed policies.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expandKmsWildcards, KEY_ADMIN_ACTIONS, KEY_USE_ACTIONS } from '../lib/kms';
import { allStatements, asArray, resourcesOfType, synthesized } from './support/synth';

const { json } = synthesized();
const statements = allStatements(json);

/** Actions that have no resource-level permissions, so Resource must be "*". */
const RESOURCE_STAR_ALLOWED = new Set(['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'dynamodb:ListStreams']);

describe('IAM and resource policies', () => {
  it('are all found (the scan covers every policy-bearing resource type in the template)', (t) => {
    const types = new Set(statements.map((s) => s.type));
    t.diagnostic(`statements: ${statements.length} in ${[...types].sort().join(', ')}`);
    for (const type of ['AWS::IAM::Policy', 'AWS::IAM::Role', 'AWS::KMS::Key', 'AWS::SQS::QueuePolicy', 'AWS::SNS::TopicPolicy', 'AWS::Lambda::Permission']) {
      assert.ok(types.has(type), type);
    }
    const policyBearing = Object.values(json.Resources).filter((r) =>
      /Policy$|::Key$|::Role$|::Permission$/.test(r.Type),
    );
    const covered = new Set(['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy', 'AWS::IAM::Role', 'AWS::KMS::Key', 'AWS::SQS::QueuePolicy', 'AWS::SNS::TopicPolicy', 'AWS::Lambda::Permission']);
    for (const r of policyBearing) assert.ok(covered.has(r.Type), `uncovered policy-bearing type ${r.Type}`);
  });

  it('no Allow statement has an action containing "*" (no "*", no "service:*", no "service:Get*")', () => {
    const offenders = statements
      .filter(({ statement: s }) => s.Effect === 'Allow')
      .flatMap(({ where, statement: s }) => asArray(s.Action).filter((a) => a.includes('*')).map((a) => `${where}: ${a}`));
    assert.deepEqual(offenders, []);
    assert.deepEqual(
      statements.filter(({ statement: s }) => s.NotAction !== undefined).map((s) => s.where),
      [],
      'NotAction grants everything else',
    );
  });

  it('the only wildcard in a Deny is the SSL-only guard on queues and the alarm topic (aws:SecureTransport=false)', () => {
    for (const { where, statement: s } of statements.filter((x) => x.statement.Effect === 'Deny')) {
      assert.equal(s.Condition?.Bool?.['aws:SecureTransport'], 'false', where);
    }
  });

  it('Resource "*" only for actions without resource-level permissions', () => {
    for (const { where, type, statement: s } of statements) {
      if (type !== 'AWS::IAM::Policy' && type !== 'AWS::IAM::ManagedPolicy') continue;
      if (!asArray(s.Resource as any).includes('*')) continue;
      for (const a of asArray(s.Action)) assert.ok(RESOURCE_STAR_ALLOWED.has(a), `${where}: ${a} on "*"`);
    }
  });

  it('no role has a managed policy, and no role is assumable by a wildcard principal', () => {
    assert.equal(resourcesOfType(json, 'AWS::IAM::ManagedPolicy').length, 0);
    for (const [id, r] of resourcesOfType(json, 'AWS::IAM::Role')) {
      assert.equal(r.Properties!.ManagedPolicyArns, undefined, id);
      for (const s of asArray<any>(r.Properties!.AssumeRolePolicyDocument.Statement)) {
        assert.ok(s.Principal.Service, `${id}: trust must name a service`);
        assert.notEqual(s.Principal.AWS, '*');
      }
    }
  });

  it('KMS keys rotate, and the account-root statement lists explicit actions', () => {
    const keys = resourcesOfType(json, 'AWS::KMS::Key');
    assert.ok(keys.length >= 3);
    for (const [id, k] of keys) {
      assert.equal(k.Properties!.EnableKeyRotation, true, id);
      assert.equal(k.DeletionPolicy, 'Retain', id);
      const root = asArray<any>(k.Properties!.KeyPolicy.Statement).find((s) => s.Sid === 'AccountAdministersAndDelegatesToIam');
      assert.ok(root, `${id}: no account statement`);
      assert.ok(JSON.stringify(root.Principal.AWS).includes(':root'));
      assert.deepEqual(root.Action, [...KEY_ADMIN_ACTIONS, ...KEY_USE_ACTIONS].sort());
    }
  });

  it('the pipes service can assume the pipe roles only from this account', () => {
    for (const [id, r] of resourcesOfType(json, 'AWS::IAM::Role')) {
      for (const s of asArray<any>(r.Properties!.AssumeRolePolicyDocument.Statement)) {
        if (s.Principal.Service !== 'pipes.amazonaws.com') continue;
        assert.deepEqual(s.Condition, { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }, id);
      }
    }
  });

  it('KMS wildcards CDK constructs put in key policies are expanded explicitly; an unknown one fails synth', () => {
    assert.deepEqual(expandKmsWildcards(['kms:Decrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*']), [
      'kms:Decrypt',
      'kms:GenerateDataKey',
      'kms:GenerateDataKeyWithoutPlaintext',
      'kms:ReEncryptFrom',
      'kms:ReEncryptTo',
    ]);
    assert.equal(expandKmsWildcards('kms:Decrypt'), 'kms:Decrypt');
    assert.throws(() => expandKmsWildcards(['kms:Get*']), /no explicit expansion known/);
  });
});
