// Bus, archive, rules, queues, DLQs, event source mappings and the outbox pipes.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  OUTBOX_FILTER,
  PIPE_DETAIL_TYPE_PATH,
  PIPE_INPUT_TEMPLATE,
  PIPE_SOURCE_PATH,
} from '../lib/orderly-stack';
import { ruleSlug } from '../lib/topology';
import { asArray, build, CfnResource, dlqIds, P, refId, resourcesOfType, synthesized } from './support/synth';
import { Template } from 'aws-cdk-lib/assertions';

const { json, topology } = synthesized();
const R = json.Resources;
const queues = resourcesOfType(json, 'AWS::SQS::Queue');
const queueByName = new Map(queues.map(([id, q]) => [q.Properties!.QueueName as string, { id, q }]));
const functions = resourcesOfType(json, 'AWS::Lambda::Function');
const fnIdByName = new Map(functions.map(([id, f]) => [f.Properties!.FunctionName as string, id]));
const esms = resourcesOfType(json, 'AWS::Lambda::EventSourceMapping');
// Rules on the bus (an event pattern); the scheduled rules of the sweeps are apart.
const rules = resourcesOfType(json, 'AWS::Events::Rule').filter(([, r]) => !r.Properties!.ScheduleExpression);
const schedules = resourcesOfType(json, 'AWS::Events::Rule').filter(([, r]) => r.Properties!.ScheduleExpression);
const pipes = resourcesOfType(json, 'AWS::Pipes::Pipe');

const DLQS = dlqIds(json);

function queuePolicyStatements(queueId: string): any[] {
  return resourcesOfType(json, 'AWS::SQS::QueuePolicy')
    .filter(([, p]) => asArray<any>(p.Properties!.Queues).some((q) => refId(q) === queueId))
    .flatMap(([, p]) => asArray<any>(p.Properties!.PolicyDocument.Statement));
}

describe('SQS queues', () => {
  it('every queue is encrypted with a customer managed key of this stack', () => {
    assert.ok(queues.length > 0);
    for (const [id, q] of queues) {
      const keyId = refId(q.Properties!.KmsMasterKeyId);
      assert.ok(keyId, `${id}: no KmsMasterKeyId`);
      assert.equal(R[keyId!].Type, 'AWS::KMS::Key', `${id}: key is not a CMK of this stack`);
      assert.equal(R[keyId!].Properties!.EnableKeyRotation, true);
    }
  });

  it('every queue has an SSL-only queue policy', () => {
    for (const [id] of queues) {
      const deny = queuePolicyStatements(id).find(
        (s) => s.Effect === 'Deny' && s.Action === 'sqs:*' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false',
      );
      assert.ok(deny, `${id}: no Deny on aws:SecureTransport=false`);
      assert.equal(refId(deny.Resource), id);
    }
  });

  it('every queue that is not a DLQ has a DLQ, after its rule\'s maxReceiveCount from the topology', () => {
    const sources = queues.filter(([id]) => !DLQS.has(id));
    assert.equal(sources.length, topology.services.flatMap((s) => s.rules).length);
    for (const [id, q] of sources) {
      const rp = q.Properties!.RedrivePolicy;
      assert.ok(rp, `${id}: no RedrivePolicy`);
      const rule = topology.services
        .flatMap((s) => s.rules)
        .find((r) => q.Properties!.QueueName === `${P}-${ruleSlug(r.name)}`);
      assert.ok(rule, `${id}: no rule for queue ${q.Properties!.QueueName}`);
      assert.equal(rp.maxReceiveCount, rule.maxReceiveCount, id);
      assert.equal(rp.maxReceiveCount, 10, `${id}: the C++ bus's number (platform::RuleOptions)`);
      const dlq = refId(rp.deadLetterTargetArn)!;
      assert.equal(R[dlq].Type, 'AWS::SQS::Queue');
      assert.notEqual(dlq, id);
    }
  });

  it('every DLQ has a RedriveAllowPolicy; a queue\'s DLQ allows exactly that queue, the others allow none', () => {
    assert.ok(DLQS.size > 0);
    const redriveSources = new Map<string, string>(); // dlq id -> source queue name
    for (const [, q] of queues) {
      const t = refId(q.Properties!.RedrivePolicy?.deadLetterTargetArn);
      if (t) redriveSources.set(t, q.Properties!.QueueName);
    }
    for (const id of DLQS) {
      const p = R[id].Properties!;
      const rap = p.RedriveAllowPolicy;
      assert.ok(rap, `${id}: no RedriveAllowPolicy`);
      assert.equal(p.MessageRetentionPeriod, 14 * 24 * 3600, `${id}: DLQ retention`);
      const source = redriveSources.get(id);
      if (source) {
        assert.equal(rap.redrivePermission, 'byQueue', id);
        assert.equal(rap.sourceQueueArns.length, 1, id);
        const arn = JSON.stringify(rap.sourceQueueArns[0]);
        assert.ok(arn.endsWith(`:${source}"]]}`), `${id}: allows ${arn}, expected the ARN of ${source}`);
      } else {
        assert.equal(rap.redrivePermission, 'denyAll', id);
      }
    }
  });

  it('visibility timeout is at least 6 x the timeout of the function consuming the queue', () => {
    for (const [, m] of esms) {
      const q = R[refId(m.Properties!.EventSourceArn)!];
      const fn = R[refId(m.Properties!.FunctionName)!];
      assert.ok(q.Properties!.VisibilityTimeout >= 6 * fn.Properties!.Timeout, q.Properties!.QueueName);
    }
  });
});

describe('rules: one EventBridge rule + queue + event source mapping per topology rule', () => {
  const busId = resourcesOfType(json, 'AWS::Events::EventBus')[0][0];
  const all = topology.services.flatMap((s) => s.rules.map((r) => ({ owner: s.name, rule: r })));

  it('has exactly as many rules, rule queues and mappings as topology.json has rules', () => {
    assert.equal(rules.length, all.length);
    assert.equal(esms.length, all.length);
  });

  for (const { owner, rule } of all) {
    it(`${rule.name} -> queue -> ${P}-${owner}-events`, () => {
      const name = `${P}-${ruleSlug(rule.name)}`;
      const found = rules.filter(([, r]) => r.Properties!.Name === name);
      assert.equal(found.length, 1, `rule ${name}`);
      const r = found[0][1].Properties!;
      assert.equal(refId(r.EventBusName), busId);
      assert.deepEqual(r.EventPattern, { 'detail-type': [...rule.types] });
      const targets = asArray<any>(r.Targets);
      assert.equal(targets.length, 1);
      const queue = queueByName.get(name);
      assert.ok(queue, `queue ${name}`);
      assert.equal(refId(targets[0].Arn), queue!.id);
      assert.ok(targets[0].DeadLetterConfig, 'rule target DLQ');
      assert.ok(targets[0].RetryPolicy, 'rule target retry policy');

      // The queue policy lets only this rule send.
      const allow = queuePolicyStatements(queue!.id).filter((s) => s.Effect === 'Allow');
      assert.equal(allow.length, 1);
      assert.deepEqual(allow[0].Principal, { Service: 'events.amazonaws.com' });
      assert.equal(allow[0].Action, 'sqs:SendMessage');
      assert.equal(refId(allow[0].Condition.ArnEquals['aws:SourceArn']), found[0][0]);

      // The shared delivery DLQ is not given a statement per rule (see below).
      const mapping = esms.filter(([, m]) => refId(m.Properties!.EventSourceArn) === queue!.id);
      assert.equal(mapping.length, 1, 'one event source mapping');
      const m = mapping[0][1].Properties!;
      assert.equal(refId(m.FunctionName), fnIdByName.get(`${P}-${owner}-events`));
      assert.deepEqual(m.FunctionResponseTypes, ['ReportBatchItemFailures']);
      assert.equal(typeof m.MaximumBatchingWindowInSeconds, 'number');
      assert.ok(m.MaximumBatchingWindowInSeconds > 0);
      assert.equal(m.BatchSize, 10);

      // Retries wait the bus's backoff, not the visibility timeout: the function sets each
      // failed message's visibility (ORDERLY_SQS_RETRY_BACKOFF), and may, on this queue.
      const fnId = refId(m.FunctionName)!;
      const fnProps = json.Resources[fnId].Properties as any;
      assert.equal(fnProps.Environment.Variables.ORDERLY_SQS_RETRY_BACKOFF, '1');
      const roleId = refId(fnProps.Role);
      const grants = resourcesOfType(json, 'AWS::IAM::Policy')
        .filter(([, p]) => asArray<any>(p.Properties!.Roles).some((r) => refId(r) === roleId))
        .flatMap(([, p]) => asArray<any>(p.Properties!.PolicyDocument.Statement))
        .filter((st) => st.Effect === 'Allow' && asArray<string>(st.Action).includes('sqs:ChangeMessageVisibility'));
      assert.ok(
        grants.some((st) => asArray<any>(st.Resource).some((r) => refId(r) === queue!.id)),
        'sqs:ChangeMessageVisibility on its queue',
      );

      // Timers: the queue delays delivery by the topology's delay; other queues do not.
      if (rule.timerDelaySeconds !== undefined) assert.equal(queue!.q.Properties!.DelaySeconds, rule.timerDelaySeconds);
      else assert.equal(queue!.q.Properties!.DelaySeconds, undefined);
    });
  }

  it('the shared delivery DLQ lets every rule of the bus send with one statement, however many rules', () => {
    const dlq = queueByName.get(`${P}-event-delivery-dlq`);
    assert.ok(dlq);
    const allow = queuePolicyStatements(dlq!.id).filter((st) => st.Effect === 'Allow');
    // Before: one statement per rule (8 of them), and a policy that broke at the 10th rule.
    assert.equal(allow.length, 1, JSON.stringify(allow));
    assert.deepEqual(allow[0].Principal, { Service: 'events.amazonaws.com' });
    assert.equal(allow[0].Action, 'sqs:SendMessage');
    // rule/<bus>/<rule>: the stage's bus, and the stage's rule names only.
    assert.ok(JSON.stringify(allow[0].Condition.ArnLike['aws:SourceArn']).endsWith(`:rule/${P}/${P}-*"]]}`));
    assert.ok(allow[0].Condition.StringEquals['aws:SourceAccount']);
    // And every rule's name falls under that pattern.
    for (const [, r] of rules) assert.ok((r.Properties!.Name as string).startsWith(`${P}-`), r.Properties!.Name);
  });

  it('the key of the rule queues lets EventBridge encrypt (GenerateDataKey, Decrypt)', () => {
    const keyIds = new Set(all.map(({ rule }) => refId(queueByName.get(`${P}-${ruleSlug(rule.name)}`)!.q.Properties!.KmsMasterKeyId)));
    for (const keyId of keyIds) {
      const s = asArray<any>(R[keyId!].Properties!.KeyPolicy.Statement).find((x) => x.Principal?.Service === 'events.amazonaws.com');
      assert.ok(s, `${keyId}: no statement for events.amazonaws.com`);
      assert.deepEqual([...asArray(s.Action)].sort(), ['kms:Decrypt', 'kms:GenerateDataKey']);
    }
  });
});

describe('bus and archive', () => {
  it(`custom bus "${P}" with an archive "${P}-all" of every orderly.* source`, () => {
    const buses = resourcesOfType(json, 'AWS::Events::EventBus');
    assert.equal(buses.length, 1);
    assert.equal(buses[0][1].Properties!.Name, P);
    const archives = resourcesOfType(json, 'AWS::Events::Archive');
    assert.equal(archives.length, 1);
    const a = archives[0][1].Properties!;
    assert.equal(refId(a.SourceArn), buses[0][0]);
    assert.equal(a.ArchiveName, `${P}-all`);
    assert.deepEqual(a.EventPattern, { source: [{ prefix: 'orderly.' }] });
    assert.ok(a.RetentionDays > 0);
  });
});

describe('outbox pipes', () => {
  const tables = resourcesOfType(json, 'AWS::DynamoDB::Table');
  const busId = resourcesOfType(json, 'AWS::Events::EventBus')[0][0];

  it('one pipe per table', () => {
    assert.equal(pipes.length, tables.length);
    assert.deepEqual(
      pipes.map(([, p]) => refId(p.Properties!.Source)).sort(),
      tables.map(([id]) => id).sort(),
    );
  });

  for (const [pipeId, pipe] of pipes) {
    it(`${pipeId}: stream -> filter pk OUTBOX -> bus, with a DLQ and a least-privilege role`, () => {
      const p = pipe.Properties!;
      assert.deepEqual(p.Source['Fn::GetAtt'][1], 'StreamArn');
      const tableId = refId(p.Source)!;
      assert.equal(R[tableId].Properties!.StreamSpecification.StreamViewType, 'NEW_IMAGE');
      const src = p.SourceParameters.DynamoDBStreamParameters;
      assert.equal(src.StartingPosition, 'TRIM_HORIZON');
      assert.equal(src.BatchSize, 10);
      assert.equal(typeof src.MaximumRetryAttempts, 'number');
      const dlqId = refId(src.DeadLetterConfig.Arn)!;
      assert.equal(R[dlqId].Type, 'AWS::SQS::Queue');
      const filters = p.SourceParameters.FilterCriteria.Filters;
      assert.equal(filters.length, 1);
      assert.deepEqual(JSON.parse(filters[0].Pattern), { eventName: ['INSERT'], dynamodb: { Keys: { pk: { S: ['OUTBOX'] } } } });
      assert.deepEqual(JSON.parse(filters[0].Pattern), OUTBOX_FILTER);

      assert.equal(refId(p.Target), busId);
      assert.deepEqual(p.TargetParameters.EventBridgeEventBusParameters, {
        DetailType: PIPE_DETAIL_TYPE_PATH,
        Source: PIPE_SOURCE_PATH,
      });
      assert.equal(PIPE_DETAIL_TYPE_PATH, '$.dynamodb.NewImage.type.S');
      assert.equal(PIPE_SOURCE_PATH, '$.dynamodb.NewImage.source.S');
      assert.equal(p.TargetParameters.InputTemplate, PIPE_INPUT_TEMPLATE);
      // The C++ commit measures events as this template sends them (pipe_entry_bytes).
      const eventHpp = fs.readFileSync(path.join(__dirname, '../../platform/include/orderly/platform/event.hpp'), 'utf8');
      const cxx = /kPipeInputTemplate\s*=\s*R"\((.*)\)";/.exec(eventHpp);
      assert.ok(cxx, 'kPipeInputTemplate not found in platform/include/orderly/platform/event.hpp');
      assert.equal(cxx![1], PIPE_INPUT_TEMPLATE, 'the C++ size check assumes another pipe template');

      // Role: exactly stream read (this table), ListStreams, kms:Decrypt (this table's key),
      // PutEvents (the bus), SendMessage (its DLQ), and the DLQ key.
      const roleId = refId(p.RoleArn)!;
      const policy = resourcesOfType(json, 'AWS::IAM::Policy').filter(([, x]) => asArray<any>(x.Properties!.Roles).some((r) => refId(r) === roleId));
      assert.equal(policy.length, 1);
      const stmts = asArray<any>(policy[0][1].Properties!.PolicyDocument.Statement);
      const bySid = Object.fromEntries(stmts.map((s) => [s.Sid, s]));
      assert.deepEqual(Object.keys(bySid).sort(), ['DecryptStream', 'EncryptForDlq', 'ListStreams', 'PutEvents', 'ReadStream', 'SendToDlq']);
      assert.deepEqual(bySid.ReadStream.Resource, { 'Fn::GetAtt': [tableId, 'StreamArn'] });
      const tableKey = refId(R[tableId].Properties!.SSESpecification.KMSMasterKeyId);
      assert.equal(refId(bySid.DecryptStream.Resource), tableKey);
      assert.equal(bySid.DecryptStream.Action, 'kms:Decrypt');
      assert.equal(refId(bySid.PutEvents.Resource), busId);
      assert.equal(refId(bySid.SendToDlq.Resource), dlqId);
      assert.equal(refId(bySid.EncryptForDlq.Resource), refId(R[dlqId].Properties!.KmsMasterKeyId));
      // Pipes validates the role when the pipe is created: the policy must exist first.
      assert.ok(asArray((pipe as CfnResource).DependsOn).includes(policy[0][0]), 'pipe must depend on its role policy');
    });
  }
});

describe('periodic work: a schedule invokes the events function of each service with a sweep', () => {
  const sweeping = topology.services.filter((s) => s.sweep).map((s) => s.name);

  it('orders is the service with a sweep (retention), and it has exactly one schedule', () => {
    assert.deepEqual(sweeping, ['orders']);
    assert.equal(schedules.length, sweeping.length);
  });

  it('every hour by default, on the default bus, the orders events function with the sweep input, retried twice', () => {
    const r = schedules[0][1].Properties!;
    assert.equal(r.ScheduleExpression, 'rate(1 hour)');
    assert.equal(r.State, 'ENABLED');
    assert.equal(r.EventBusName, undefined, 'a schedule runs on the default bus');
    const targets = asArray<any>(r.Targets);
    assert.equal(targets.length, 1);
    assert.equal(refId(targets[0].Arn), fnIdByName.get(`${P}-orders-events`));
    assert.deepEqual(JSON.parse(targets[0].Input), JSON.parse(topology.sweepInput));
    assert.equal(targets[0].RetryPolicy.MaximumRetryAttempts, 2);
  });

  it('EventBridge may invoke that function from that rule only', () => {
    const perms = resourcesOfType(json, 'AWS::Lambda::Permission').filter(
      ([, p]) => p.Properties!.Principal === 'events.amazonaws.com',
    );
    assert.equal(perms.length, 1, JSON.stringify(perms));
    const p = perms[0][1].Properties!;
    assert.equal(p.Action, 'lambda:InvokeFunction');
    assert.equal(refId(p.FunctionName), fnIdByName.get(`${P}-orders-events`));
    assert.equal(refId(p.SourceArn), schedules[0][0]);
  });

  it('-c sweepMinutes sets the period and refuses what EventBridge would not run', () => {
    const t = Template.fromStack(build({ sweepMinutes: 15 }).stack).toJSON() as any;
    const s = Object.values<any>(t.Resources).filter((r) => r.Type === 'AWS::Events::Rule' && r.Properties.ScheduleExpression);
    assert.deepEqual(s.map((r) => r.Properties.ScheduleExpression), ['rate(15 minutes)']);
    for (const bad of [0, 1.5, 1441, Number.NaN])
      assert.throws(() => build({ sweepMinutes: bad }), /sweepMinutes=.*whole minutes from 1 to 1440/, String(bad));
  });
});
