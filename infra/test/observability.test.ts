// Observability as code: the alarm topic, one alarm per DLQ / rule queue / function (counted
// against the resources in the template, never hard-coded), the API and saga alarms, the
// `Orderly-<stage>` dashboard (its body parsed back to JSON) and the Logs Insights saved queries.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import {
  CANCEL_REASONS,
  METRIC_DIMENSIONS,
  OrderlyMetricName,
  ORDER_STATUSES,
  orderlyMetric,
  RUNBOOK_ANCHORS,
  SAGA_OUTCOMES,
  THRESHOLDS,
} from '../lib/observability';
import { asArray, build, CfnResource, dlqIds, P, refId, resourcesOfType, synthesized, TEST_STAGE } from './support/synth';

/** The stage's CloudWatch namespace of the Orderly EMF metrics. */
const NS = `Orderly/${TEST_STAGE}`;
const NS_RE = NS.replace('/', '\\/');

const { json, topology } = synthesized();
const R = json.Resources;
const alarms = resourcesOfType(json, 'AWS::CloudWatch::Alarm');
const queues = resourcesOfType(json, 'AWS::SQS::Queue');
const functions = resourcesOfType(json, 'AWS::Lambda::Function');
const [[topicId, topic]] = resourcesOfType(json, 'AWS::SNS::Topic');
const [[apiId]] = resourcesOfType(json, 'AWS::ApiGatewayV2::Api');

const DLQS = dlqIds(json);
const SOURCE_QUEUES = queues.filter(([id]) => !DLQS.has(id));

/** The queue a single-metric alarm watches ({Fn::GetAtt: [queue, QueueName]}). */
const dimension = (p: Record<string, any>, name: string) => asArray<any>(p.Dimensions).find((d) => d.Name === name)?.Value;
/** Every MetricStat of a metric-math alarm, by id. */
const mathMetrics = (p: Record<string, any>) =>
  Object.fromEntries(asArray<any>(p.Metrics).filter((m) => m.MetricStat).map((m) => [m.Id, m.MetricStat]));
const expression = (p: Record<string, any>) => asArray<any>(p.Metrics).find((m) => m.Expression)?.Expression as string | undefined;

function alarmsWhere(pred: (p: Record<string, any>) => boolean): Array<[string, CfnResource]> {
  return alarms.filter(([, a]) => pred(a.Properties!));
}

describe('alarm topic', () => {
  it('is encrypted with a rotating customer managed key that lets CloudWatch publish', () => {
    assert.equal(topic.Properties!.TopicName, `${P}-alarms`);
    const keyId = refId(topic.Properties!.KmsMasterKeyId)!;
    assert.equal(R[keyId].Type, 'AWS::KMS::Key');
    assert.equal(R[keyId].Properties!.EnableKeyRotation, true);
    const s = asArray<any>(R[keyId].Properties!.KeyPolicy.Statement).find((x) => x.Principal?.Service === 'cloudwatch.amazonaws.com');
    assert.ok(s, 'key policy statement for cloudwatch.amazonaws.com');
    assert.deepEqual([...asArray(s.Action)].sort(), ['kms:Decrypt', 'kms:GenerateDataKey']);
  });

  it('enforces SSL in its topic policy (Deny sns:Publish to "*" when aws:SecureTransport is false)', () => {
    const policies = resourcesOfType(json, 'AWS::SNS::TopicPolicy').filter(([, p]) => asArray<any>(p.Properties!.Topics).some((t) => refId(t) === topicId));
    assert.equal(policies.length, 1);
    const stmts = asArray<any>(policies[0][1].Properties!.PolicyDocument.Statement);
    const deny = stmts.find((s) => s.Effect === 'Deny');
    assert.ok(deny, 'no Deny statement');
    assert.equal(deny.Action, 'sns:Publish');
    assert.equal(deny.Principal, '*');
    assert.equal(deny.Condition.Bool['aws:SecureTransport'], 'false');
    assert.equal(refId(deny.Resource), topicId);
  });

  it(`admits CloudWatch only for ${P}-* alarms of this account`, () => {
    const [[, policy]] = resourcesOfType(json, 'AWS::SNS::TopicPolicy');
    const allow = asArray<any>(policy.Properties!.PolicyDocument.Statement).filter((s) => s.Effect === 'Allow');
    assert.equal(allow.length, 1);
    assert.deepEqual(allow[0].Principal, { Service: 'cloudwatch.amazonaws.com' });
    assert.equal(allow[0].Action, 'sns:Publish');
    assert.deepEqual(allow[0].Condition.StringEquals, { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
    assert.ok(JSON.stringify(allow[0].Condition.ArnLike['aws:SourceArn']).endsWith(`:alarm:${P}-*"]]}`));
  });

  it('its ARN is a stack output', () => {
    assert.deepEqual((json.Outputs as any).AlarmTopicArn.Value, { Ref: topicId });
  });

  it('has no subscription by default, and an e-mail subscription with -c alarmEmail', () => {
    assert.equal(resourcesOfType(json, 'AWS::SNS::Subscription').length, 0);
    const withEmail = Template.fromStack(build({ alarmEmail: 'ops@example.com' }).stack);
    withEmail.resourceCountIs('AWS::SNS::Subscription', 1);
    withEmail.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });
});

describe('alarms', () => {
  it(`every alarm notifies the topic on ALARM and OK, has a stable ${P}-<what>-<resource> name and a runbook link`, () => {
    assert.ok(alarms.length > 0);
    const names = alarms.map(([, a]) => a.Properties!.AlarmName as string);
    assert.equal(new Set(names).size, names.length, 'alarm names are unique');
    const anchors = new Set<string>(Object.values(RUNBOOK_ANCHORS));
    for (const [id, a] of alarms) {
      const p = a.Properties!;
      assert.ok(p.AlarmName.startsWith(`${P}-`), p.AlarmName);
      assert.match(p.AlarmName, /^orderly-[a-z0-9]+(-[a-z0-9]+)+$/, id);
      assert.deepEqual(p.AlarmActions, [{ Ref: topicId }], `${p.AlarmName}: AlarmActions`);
      assert.deepEqual(p.OKActions, [{ Ref: topicId }], `${p.AlarmName}: OKActions`);
      const m = /docs\/operations\.md#([a-z0-9-]+)$/.exec(p.AlarmDescription);
      assert.ok(m && anchors.has(m[1]), `${p.AlarmName}: description must end with a runbook link`);
      assert.match(p.AlarmDescription, /First /, `${p.AlarmName}: description says what to do first`);
      assert.equal(p.TreatMissingData, 'notBreaching', p.AlarmName);
    }
  });

  it('there is exactly one alarm per DLQ, per rule queue, two per function, and the three API/saga alarms', () => {
    assert.equal(alarms.length, DLQS.size + SOURCE_QUEUES.length + 2 * functions.length + 4 + 2 * topology.services.length);
  });

  it('every outbox pipe alarms on ExecutionFailed + TargetStageFailed, every table on throttle events', () => {
    const pipesByName = new Set(resourcesOfType(json, 'AWS::Pipes::Pipe').map(([, p]) => p.Properties!.Name as string));
    for (const svc of topology.services.map((s) => s.name)) {
      const [[, pa]] = alarmsWhere((p) => p.AlarmName === `${P}-pipe-failures-${svc}`);
      const metrics = asArray<any>(pa.Properties!.Metrics);
      const named = metrics.filter((m) => m.MetricStat).map((m) => m.MetricStat.Metric);
      assert.deepEqual(named.map((m) => m.MetricName).sort(), ['ExecutionFailed', 'TargetStageFailed']);
      for (const m of named) {
        assert.equal(m.Namespace, 'AWS/EventBridge/Pipes');
        assert.ok(pipesByName.has(m.Dimensions[0].Value), `${m.Dimensions[0].Value} is a pipe of the stack`);
      }
      assert.equal(pa.Properties!.Threshold, 1);
      assert.match(pa.Properties!.AlarmDescription, /#pipe-failures$/);
      const [[, ta]] = alarmsWhere((p) => p.AlarmName === `${P}-dynamodb-throttles-${svc}`);
      const tm = asArray<any>(ta.Properties!.Metrics).filter((m) => m.MetricStat).map((m) => m.MetricStat.Metric);
      assert.deepEqual(tm.map((m) => m.MetricName).sort(), ['ReadThrottleEvents', 'WriteThrottleEvents']);
      for (const m of tm) assert.equal(m.Namespace, 'AWS/DynamoDB');
      assert.match(ta.Properties!.AlarmDescription, /#dynamodb-throttling$/);
    }
  });

  it('every DLQ (rule, pipe and event-delivery DLQs) alarms on ApproximateNumberOfMessagesVisible >= 1', () => {
    assert.ok(DLQS.size > 0);
    for (const dlq of DLQS) {
      const found = alarmsWhere((p) => refId(dimension(p, 'QueueName')) === dlq);
      assert.equal(found.length, 1, `${R[dlq].Properties!.QueueName}: one alarm`);
      const p = found[0][1].Properties!;
      assert.equal(p.Namespace, 'AWS/SQS');
      assert.equal(p.MetricName, 'ApproximateNumberOfMessagesVisible');
      assert.equal(p.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
      assert.equal(p.Threshold, THRESHOLDS.dlqMessages);
      assert.equal(p.Threshold, 1);
      assert.equal(p.AlarmName, `${P}-dlq-depth-${R[dlq].Properties!.QueueName.replace(`${P}-`, '')}`);
      assert.match(p.AlarmDescription, /#dlq-growing$/);
    }
  });

  it('every rule queue alarms on ApproximateAgeOfOldestMessage, above its delivery delay for timers', () => {
    assert.equal(SOURCE_QUEUES.length, topology.services.flatMap((s) => s.rules).length);
    const delays = SOURCE_QUEUES.map(([, q]) => q.Properties!.DelaySeconds ?? 0);
    assert.ok(delays.some((d) => d > 0), 'the topology has timer queues');
    for (const [id, q] of SOURCE_QUEUES) {
      const name = q.Properties!.QueueName as string;
      const found = alarmsWhere((p) => refId(dimension(p, 'QueueName')) === id);
      assert.equal(found.length, 1, `${name}: one alarm`);
      const p = found[0][1].Properties!;
      assert.equal(p.Namespace, 'AWS/SQS');
      assert.equal(p.MetricName, 'ApproximateAgeOfOldestMessage');
      assert.equal(p.ComparisonOperator, 'GreaterThanThreshold');
      const delay = q.Properties!.DelaySeconds ?? 0;
      assert.ok(p.Threshold > delay, `${name}: threshold ${p.Threshold} s must exceed the ${delay} s delivery delay`);
      assert.equal(p.Threshold, THRESHOLDS.queueAgeSeconds + delay, name);
      assert.equal(p.AlarmName, `${P}-queue-age-${name.replace(`${P}-`, '')}`);
      assert.match(p.AlarmDescription, /#queue-backlog$/);
    }
  });

  it('every function alarms on its error rate (100 x Errors / Invocations > 5%) and on Throttles >= 1', () => {
    assert.ok(functions.length > 0);
    for (const [fnId, f] of functions) {
      const name = f.Properties!.FunctionName as string;
      const short = name.replace(`${P}-`, '');
      const rate = alarmsWhere((p) => {
        const ms = Object.values(mathMetrics(p)) as any[];
        return ms.length > 0 && ms.every((m) => m.Metric.Namespace === 'AWS/Lambda' && refId(dimension(m.Metric, 'FunctionName')) === fnId);
      });
      assert.equal(rate.length, 1, `${name}: one error-rate alarm`);
      const p = rate[0][1].Properties!;
      const ms = mathMetrics(p) as Record<string, any>;
      assert.deepEqual(Object.values(ms).map((m) => m.Metric.MetricName).sort(), ['Errors', 'Invocations']);
      const [errId] = Object.entries(ms).find(([, m]) => m.Metric.MetricName === 'Errors')!;
      const [invId] = Object.entries(ms).find(([, m]) => m.Metric.MetricName === 'Invocations')!;
      assert.equal(expression(p), `100 * ${errId} / ${invId}`);
      for (const m of Object.values(ms)) assert.equal(m.Stat, 'Sum');
      assert.equal(p.Threshold, THRESHOLDS.errorRatePercent);
      assert.equal(p.ComparisonOperator, 'GreaterThanThreshold');
      assert.equal(p.AlarmName, `${P}-error-rate-${short}`);
      assert.match(p.AlarmDescription, /#function-errors$/);

      const throttles = alarmsWhere((q) => q.MetricName === 'Throttles' && refId(dimension(q, 'FunctionName')) === fnId);
      assert.equal(throttles.length, 1, `${name}: one throttles alarm`);
      const t = throttles[0][1].Properties!;
      assert.equal(t.Namespace, 'AWS/Lambda');
      assert.equal(t.Statistic, 'Sum');
      assert.equal(t.Threshold, 1);
      assert.equal(t.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
      assert.equal(t.AlarmName, `${P}-throttles-${short}`);
      assert.match(t.AlarmDescription, /#throttling$/);
    }
  });

  it('the HTTP API alarms on its 5xx rate (5xx / Count > 1%) and its p99 latency', () => {
    const api = (m: any) => refId(dimension(m, 'ApiId')) === apiId && dimension(m, 'Stage') === '$default';
    const [[, five]] = alarmsWhere((p) => p.AlarmName === `${P}-5xx-rate-api`);
    const ms = mathMetrics(five.Properties!) as Record<string, any>;
    const byName: Record<string, { id: string; m: any }> = Object.fromEntries(Object.entries(ms).map(([id, m]) => [m.Metric.MetricName, { id, m }]));
    assert.deepEqual(Object.keys(byName).sort(), ['5xx', 'Count']);
    for (const { m } of Object.values(byName)) {
      assert.equal(m.Metric.Namespace, 'AWS/ApiGateway');
      assert.ok(api(m.Metric), 'ApiId + Stage of the HTTP API');
      assert.equal(m.Stat, 'Sum');
    }
    assert.equal(expression(five.Properties!), `100 * ${byName['5xx'].id} / ${byName.Count.id}`);
    assert.equal(five.Properties!.Threshold, THRESHOLDS.api5xxRatePercent);
    assert.match(five.Properties!.AlarmDescription, /#api-5xx$/);

    const [[, lat]] = alarmsWhere((p) => p.AlarmName === `${P}-p99-latency-api`);
    const p = lat.Properties!;
    assert.equal(p.Namespace, 'AWS/ApiGateway');
    assert.equal(p.MetricName, 'Latency');
    assert.ok(api(p));
    assert.equal(p.ExtendedStatistic, 'p99');
    assert.equal(p.Threshold, THRESHOLDS.apiP99LatencyMs);
    assert.equal(p.ComparisonOperator, 'GreaterThanThreshold');
    assert.match(p.AlarmDescription, /#api-latency$/);
  });

  it('the saga timeout alarm counts orders_total{service=orders, status=cancelled, reason=timeout}', () => {
    const [[, a]] = alarmsWhere((p) => p.AlarmName === `${P}-saga-timeouts-orders`);
    const p = a.Properties!;
    assert.equal(p.Namespace, NS);
    assert.equal(p.MetricName, 'orders_total');
    assert.deepEqual(
      Object.fromEntries(asArray<any>(p.Dimensions).map((d) => [d.Name, d.Value])),
      { service: 'orders', status: 'cancelled', reason: 'timeout' },
    );
    assert.equal(p.Statistic, 'Sum');
    assert.equal(p.Period, 300);
    assert.equal(p.Threshold, THRESHOLDS.sagaTimeouts);
    assert.equal(p.ComparisonOperator, 'GreaterThanThreshold');
    assert.match(p.AlarmDescription, /#saga-timeouts$/);
  });

  it('the escalation alarm fires on one saga_deadlines_total{service=orders, outcome=escalated}', () => {
    const [[, a]] = alarmsWhere((p) => p.AlarmName === `${P}-orders-escalated-orders`);
    const p = a.Properties!;
    assert.equal(p.MetricName, 'saga_deadlines_total');
    assert.deepEqual(
      Object.fromEntries(asArray<any>(p.Dimensions).map((d) => [d.Name, d.Value])),
      { service: 'orders', outcome: 'escalated' },
    );
    assert.equal(p.Threshold, 1);
    assert.equal(p.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
    assert.match(p.AlarmDescription, /#orders-stalled$/);
  });
});

// ---- dashboard ----------------------------------------------------------------------------

/** DashboardBody is an Fn::Join; tokens become "${LogicalId}" / "${LogicalId.Attr}" inside its strings. */
function dashboardBody(): { widgets: any[] } {
  const [[, d]] = resourcesOfType(json, 'AWS::CloudWatch::Dashboard');
  const body = d.Properties!.DashboardBody;
  const parts: unknown[] = typeof body === 'string' ? [body] : body['Fn::Join'][1];
  const text = parts
    .map((p: any) => {
      if (typeof p === 'string') return p;
      if (p.Ref) return `\${${p.Ref}}`;
      if (p['Fn::GetAtt']) return `\${${p['Fn::GetAtt'].join('.')}}`;
      throw new Error(`unexpected token in DashboardBody: ${JSON.stringify(p)}`);
    })
    .join('');
  return JSON.parse(text);
}
const dashboard = dashboardBody();
const widgets = new Map<string, any>(dashboard.widgets.map((w) => [w.properties.title, w]));

/** A graph widget's metric rows as {namespace, name, dims, opts} (expressions: {expression, opts}). */
function rows(title: string): Array<{ namespace?: string; name?: string; dims: Record<string, string>; opts: any; expression?: string }> {
  const w = widgets.get(title);
  assert.ok(w, `widget "${title}"`);
  return asArray<any>(w.properties.metrics).map((row: any[]) => {
    const last = row[row.length - 1];
    if (row.length === 1 && last.expression) return { dims: {}, opts: last, expression: last.expression };
    const [namespace, name, ...rest] = row;
    const hasOpts = typeof last === 'object';
    const pairs = hasOpts ? rest.slice(0, -1) : rest;
    const dims: Record<string, string> = {};
    for (let i = 0; i < pairs.length; i += 2) dims[pairs[i]] = pairs[i + 1];
    return { namespace, name, dims, opts: hasOpts ? last : {} };
  });
}

describe(`dashboard "Orderly-${TEST_STAGE}"`, () => {
  const EXPECTED_TITLES = [
    'Alarms',
    'API latency p50 / p99 (ms)',
    'API requests, 4xx and 5xx',
    'HTTP request duration p99 by route (s)',
    'Cold starts by service',
    'Lambda errors',
    'Lambda throttles',
    'Lambda duration p99 (ms)',
    'Lambda concurrent executions (max)',
    'Rule queues: messages visible',
    'Rule queues: age of oldest message (s)',
    'DLQ depth (messages visible)',
    'Events consumed by rule and outcome',
    'Event handler duration p99 by rule (s)',
    'Retries by rule',
    'Saga outcomes (confirmed, cancelled by reason)',
    'Saga duration p50 / p99 by outcome (s)',
    'Orders by status',
    'Revenue by currency (minor units)',
  ];

  it(`exists, named Orderly-${TEST_STAGE}, with exactly the named widgets`, () => {
    const ds = resourcesOfType(json, 'AWS::CloudWatch::Dashboard');
    assert.equal(ds.length, 1);
    assert.equal(ds[0][1].Properties!.DashboardName, `Orderly-${TEST_STAGE}`);
    assert.deepEqual([...widgets.keys()].sort(), [...EXPECTED_TITLES].sort());
    assert.equal(widgets.size, dashboard.widgets.length, 'titles are unique');
  });

  it('the alarm widget lists every alarm', () => {
    const listed = new Set(asArray<string>(widgets.get('Alarms').properties.alarms).map((a) => /^\$\{(.+)\.Arn\}$/.exec(a)?.[1]));
    assert.deepEqual([...listed].sort(), alarms.map(([id]) => id).sort());
  });

  it('API: Latency p50 and p99, Count, 4xx and 5xx of the HTTP API stage', () => {
    const api = (r: { dims: Record<string, string> }) => r.dims.ApiId === `\${${apiId}}` && r.dims.Stage === '$default';
    const lat = rows('API latency p50 / p99 (ms)');
    assert.deepEqual(lat.map((r) => `${r.name} ${r.opts.stat}`).sort(), ['Latency p50', 'Latency p99']);
    assert.ok(lat.every((r) => r.namespace === 'AWS/ApiGateway' && api(r)));
    const errs = rows('API requests, 4xx and 5xx');
    assert.deepEqual(errs.map((r) => r.name).sort(), ['4xx', '5xx', 'Count']);
    assert.ok(errs.every((r) => r.namespace === 'AWS/ApiGateway' && api(r) && r.opts.stat === 'Sum'));
  });

  it('per function: Errors, Throttles, Duration p99, ConcurrentExecutions', () => {
    const expected = functions.map(([id]) => `\${${id}}`).sort();
    for (const [title, metric, stat] of [
      ['Lambda errors', 'Errors', 'Sum'],
      ['Lambda throttles', 'Throttles', 'Sum'],
      ['Lambda duration p99 (ms)', 'Duration', 'p99'],
      ['Lambda concurrent executions (max)', 'ConcurrentExecutions', 'Maximum'],
    ]) {
      const rs = rows(title);
      assert.ok(rs.every((r) => r.namespace === 'AWS/Lambda' && r.name === metric && r.opts.stat === stat), title);
      assert.deepEqual(rs.map((r) => r.dims.FunctionName).sort(), expected, title);
    }
  });

  it('per rule queue: messages visible and age of oldest message; every DLQ: messages visible', () => {
    const ruleQueues = SOURCE_QUEUES.map(([id]) => `\${${id}.QueueName}`).sort();
    for (const [title, metric] of [
      ['Rule queues: messages visible', 'ApproximateNumberOfMessagesVisible'],
      ['Rule queues: age of oldest message (s)', 'ApproximateAgeOfOldestMessage'],
    ]) {
      const rs = rows(title);
      assert.ok(rs.every((r) => r.namespace === 'AWS/SQS' && r.name === metric), title);
      assert.deepEqual(rs.map((r) => r.dims.QueueName).sort(), ruleQueues, title);
    }
    const dlq = rows('DLQ depth (messages visible)');
    assert.ok(dlq.every((r) => r.namespace === 'AWS/SQS' && r.name === 'ApproximateNumberOfMessagesVisible'));
    assert.deepEqual(dlq.map((r) => r.dims.QueueName).sort(), [...DLQS].map((id) => `\${${id}.QueueName}`).sort());
  });

  it('saga outcomes: confirmed and each cancel reason; saga duration p50/p99 per outcome', () => {
    const outcomes = rows('Saga outcomes (confirmed, cancelled by reason)');
    assert.deepEqual(
      outcomes.map((r) => `${r.dims.status}/${r.dims.reason}`).sort(),
      ['confirmed/none', ...CANCEL_REASONS.map((x) => `cancelled/${x}`)].sort(),
    );
    assert.ok(outcomes.every((r) => r.name === 'orders_total' && r.dims.service === 'orders'));
    const durations = rows('Saga duration p50 / p99 by outcome (s)');
    assert.deepEqual(
      durations.map((r) => `${r.dims.outcome} ${r.opts.stat}`).sort(),
      SAGA_OUTCOMES.flatMap((o) => [`${o} p50`, `${o} p99`]).sort(),
    );
    assert.ok(durations.every((r) => r.name === 'saga_duration_seconds'));
  });

  it('orders by status (cancelled = sum over its reasons) and revenue by currency', () => {
    const rs = rows('Orders by status');
    const visible = rs.filter((r) => r.opts.visible !== false);
    assert.deepEqual(visible.map((r) => r.opts.label).sort(), [...ORDER_STATUSES].sort());
    const cancelled = visible.find((r) => r.opts.label === 'cancelled')!;
    const hidden = rs.filter((r) => r.opts.visible === false);
    assert.deepEqual(hidden.map((r) => r.dims.reason).sort(), [...CANCEL_REASONS].sort());
    for (const h of hidden) assert.ok(cancelled.expression!.includes(h.opts.id), `${h.opts.id} is summed`);
    for (const r of visible.filter((x) => x !== cancelled)) assert.deepEqual(r.dims, { service: 'orders', status: r.opts.label, reason: 'none' });

    const [revenue] = rows('Revenue by currency (minor units)');
    assert.match(revenue.expression!, new RegExp(`^SEARCH\\('\\{${NS_RE},currency,service\\} MetricName="revenue_minor_units_total" service="orders"', 'Sum', 300\\)$`));
  });

  it('every Orderly metric on the dashboard names exactly the dimension set of the contract', () => {
    let n = 0;
    for (const w of dashboard.widgets) {
      if (!w.properties.metrics) continue;
      for (const r of rows(w.properties.title)) {
        if (r.expression) {
          const m = new RegExp(`SEARCH\\('\\{${NS_RE},([^}]+)\\} MetricName="([a-z_]+)"`).exec(r.expression);
          if (m) assert.deepEqual(m[1].split(',').sort(), [...METRIC_DIMENSIONS[m[2] as OrderlyMetricName]].sort(), r.expression);
          continue;
        }
        if (r.namespace !== NS) continue;
        n++;
        assert.deepEqual(Object.keys(r.dims).sort(), [...METRIC_DIMENSIONS[r.name as OrderlyMetricName]].sort(), `${w.properties.title}: ${r.name}`);
      }
    }
    assert.ok(n > 0);
  });

  it('orderlyMetric() refuses a dimension set the contract does not have', () => {
    assert.throws(() => orderlyMetric('orders_total', { service: 'orders', status: 'placed' }, 'Sum', Duration.minutes(5)), /differ from the contract/);
    assert.doesNotThrow(() => orderlyMetric('cold_starts_total', { service: 'orders' }, 'Sum', Duration.minutes(5)));
  });
});

// ---- saved queries --------------------------------------------------------------------------

describe('Logs Insights saved queries', () => {
  const queries = new Map(resourcesOfType(json, 'AWS::Logs::QueryDefinition').map(([, q]) => [q.Properties!.Name as string, q.Properties!]));
  const fnLogGroups = functions.map(([, f]) => refId(f.Properties!.LoggingConfig.LogGroup)!).sort();

  const Q = `Orderly/${TEST_STAGE}/`;
  it(`exactly the four ${Q} queries, each over every function log group`, () => {
    assert.deepEqual([...queries.keys()].sort(), ['by-correlation-id', 'by-order-id', 'errors', 'slowest-requests'].map((q) => `${Q}${q}`));
    assert.equal(fnLogGroups.length, functions.length);
    for (const [name, q] of queries) assert.deepEqual(asArray<any>(q.LogGroupNames).map((g) => refId(g)).sort(), fnLogGroups, name);
  });

  it('filter on the log contract fields', () => {
    const lines = (name: string) => (queries.get(name)!.QueryString as string).split('\n').map((l) => l.trim());
    assert.ok(lines(`${Q}by-correlation-id`).some((l) => /^\| filter correlation_id = "[^"]+"$/.test(l)));
    assert.ok(lines(`${Q}by-correlation-id`).includes('| sort @timestamp asc'));
    assert.ok(lines(`${Q}by-order-id`).some((l) => /^\| filter order_id = "[^"]+"$/.test(l)));
    assert.ok(lines(`${Q}errors`).includes('| filter level = "ERROR"'));
    assert.ok(lines(`${Q}slowest-requests`).includes('| filter message = "request"'));
    assert.ok(lines(`${Q}slowest-requests`).includes('| sort duration_ms desc'));
    for (const f of ['route', 'method', 'status', 'duration_ms']) assert.ok(lines(`${Q}slowest-requests`)[0].includes(f), f);
  });
});
