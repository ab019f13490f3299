// Observability as code: the alarm topic, the alarms, the `Orderly` dashboard and the
// Logs Insights saved queries. Everything is derived from what the stack built (functions,
// rule queues, DLQs, the HTTP API stage, the log groups) and from topology.json; nothing
// here lists a function, a queue or a rule by hand.
//
// The Orderly metrics are CloudWatch Embedded Metric Format records written by the C++
// functions (namespace = env ORDERLY_METRICS_NAMESPACE, `Orderly/<stage>` on AWS). CloudWatch matches a metric only
// when *all* its dimensions are given, so every Orderly metric below names the exact
// dimension set of the contract (see METRIC_DIMENSIONS). Closed enumerations (order status,
// cancel reason, saga outcome, consume outcome) are listed here and drawn one metric per
// value; open ones (currency, HTTP route/method/status) use a SEARCH expression, which a
// dashboard can show but an alarm cannot use.
//
// Runbooks: every alarm description starts with what to do first and points at
// docs/operations.md#<anchor> (RUNBOOK_ANCHORS).
import { ArnFormat, Duration } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { orderlyKey } from './kms';
import { StageNames } from './naming';
import { pascal, RuleSpec, ruleSlug, Topology } from './topology';

// ---- the metric contract ---------------------------------------------------------------

/** The C++ default namespace (local runs); on AWS each stage has its own, StageNames.metricsNamespace. */
export const METRICS_NAMESPACE = 'Orderly';
/** The service that emits the order and saga metrics. Synth fails if the topology lacks it. */
export const ORDERS_SERVICE = 'orders';
export const ORDER_STATUSES = ['placed', 'confirmed', 'cancelled', 'shipped', 'delivered'] as const;
export const CANCEL_REASONS = ['payment_declined', 'out_of_stock', 'timeout', 'customer_request', 'fulfilment_timeout'] as const;
/** `reason` of every status but `cancelled`. */
export const NO_REASON = 'none';
export const SAGA_OUTCOMES = ['confirmed', 'cancelled'] as const;
export const CONSUME_OUTCOMES = ['ok', 'retry', 'fail'] as const;

/** Exact dimension set of each Orderly metric (CloudWatch needs all of them to match). */
export const METRIC_DIMENSIONS = {
  orders_total: ['service', 'status', 'reason'],
  revenue_minor_units_total: ['service', 'currency'],
  saga_duration_seconds: ['service', 'outcome'],
  events_consumed_total: ['service', 'rule', 'outcome'],
  event_handler_duration_seconds: ['service', 'rule'],
  retries_total: ['service', 'rule'],
  http_request_duration_seconds: ['service', 'route', 'method', 'status'],
  cold_starts_total: ['service'],
  saga_deadlines_total: ['service', 'outcome'],
} as const;
export type OrderlyMetricName = keyof typeof METRIC_DIMENSIONS;

// ---- alarms ----------------------------------------------------------------------------

// The topic is StageNames.alarmTopicName (`orderly-<stage>-alarms`); every alarm is named
// `orderly-<stage>-<what>-<resource>` (StageNames.alarmName) and the topic admits only these.
export const RUNBOOK_DOC = 'docs/operations.md';
export const RUNBOOK_ANCHORS = {
  dlq: 'dlq-growing',
  queueAge: 'queue-backlog',
  errorRate: 'function-errors',
  throttles: 'throttling',
  api5xx: 'api-5xx',
  apiLatency: 'api-latency',
  sagaTimeouts: 'saga-timeouts',
  ordersEscalated: 'orders-stalled',
  pipeFailures: 'pipe-failures',
  dynamoThrottles: 'dynamodb-throttling',
} as const;

export const THRESHOLDS = {
  /** DLQ: any message at all. */
  dlqMessages: 1,
  /** Rule queue: age of the oldest message, plus the queue's DeliveryDelay for timers. */
  queueAgeSeconds: 300,
  /** Function: Errors / Invocations x 100 over ALARM_PERIOD. */
  errorRatePercent: 5,
  /** Function: any throttle. */
  throttles: 1,
  /** API: 5xx / Count x 100 over ALARM_PERIOD. */
  api5xxRatePercent: 1,
  /** API: p99 of Latency (ms), 2 of 3 periods. */
  apiP99LatencyMs: 1000,
  /** orders_total{status=cancelled, reason=timeout} per ALARM_PERIOD. */
  sagaTimeouts: 5,
  /** saga_deadlines_total{outcome=escalated}: any order given up by its fulfilment deadline. */
  ordersEscalated: 1,
  /** Pipe ExecutionFailed + TargetStageFailed: any. A pipe that stays down loses stream records after 24 h. */
  pipeFailures: 1,
  /** DynamoDB ReadThrottleEvents + WriteThrottleEvents per table: any (on-demand tables should not throttle). */
  dynamoThrottles: 1,
} as const;
export const ALARM_PERIOD = Duration.minutes(5);
/** DLQ and queue-age alarms look at the 1-minute SQS metrics. */
export const QUEUE_ALARM_PERIOD = Duration.minutes(1);

/** Age threshold of a rule queue: timers hold every message for their delay first. */
export function queueAgeThreshold(rule: RuleSpec): number {
  return THRESHOLDS.queueAgeSeconds + (rule.timerDelaySeconds ?? 0);
}

// ---- dashboard and queries ---------------------------------------------------------------
// Dashboard `Orderly-<stage>`, saved queries `Orderly/<stage>/<name>` (StageNames).
const ALARMS_PER_WIDGET = 100;
export const WIDGET_TITLES = {
  alarms: 'Alarms',
  apiLatency: 'API latency p50 / p99 (ms)',
  apiErrors: 'API requests, 4xx and 5xx',
  httpDuration: 'HTTP request duration p99 by route (s)',
  lambdaErrors: 'Lambda errors',
  lambdaThrottles: 'Lambda throttles',
  lambdaDuration: 'Lambda duration p99 (ms)',
  lambdaConcurrency: 'Lambda concurrent executions (max)',
  coldStarts: 'Cold starts by service',
  queueVisible: 'Rule queues: messages visible',
  queueAge: 'Rule queues: age of oldest message (s)',
  dlqDepth: 'DLQ depth (messages visible)',
  eventsConsumed: 'Events consumed by rule and outcome',
  handlerDuration: 'Event handler duration p99 by rule (s)',
  retries: 'Retries by rule',
  sagaOutcomes: 'Saga outcomes (confirmed, cancelled by reason)',
  sagaDuration: 'Saga duration p50 / p99 by outcome (s)',
  ordersByStatus: 'Orders by status',
  revenue: 'Revenue by currency (minor units)',
} as const;

/** Saved queries cannot take parameters: replace the placeholder before running. */
export const CORRELATION_ID_PLACEHOLDER = 'REPLACE-WITH-CORRELATION-ID';
export const ORDER_ID_PLACEHOLDER = 'REPLACE-WITH-ORDER-ID';
const TRACE_FIELDS = ['@timestamp', 'level', 'service', 'message', 'correlation_id', 'order_id', 'event_id', 'request_id', 'trace_id', 'span_id', '@log'];

export const SAVED_QUERIES: Readonly<Record<string, logs.QueryStringProps>> = {
  'by-correlation-id': {
    fields: TRACE_FIELDS,
    filterStatements: [`correlation_id = "${CORRELATION_ID_PLACEHOLDER}"`],
    sort: '@timestamp asc',
    limit: 10000,
  },
  'by-order-id': {
    fields: TRACE_FIELDS,
    filterStatements: [`order_id = "${ORDER_ID_PLACEHOLDER}"`],
    sort: '@timestamp asc',
    limit: 10000,
  },
  errors: {
    fields: ['@timestamp', 'service', 'message', 'correlation_id', 'order_id', 'event_id', 'request_id', 'trace_id', '@log'],
    filterStatements: ['level = "ERROR"'],
    sort: '@timestamp desc',
    limit: 500,
  },
  'slowest-requests': {
    fields: ['@timestamp', 'service', 'method', 'route', 'status', 'duration_ms', 'correlation_id', 'request_id', 'trace_id'],
    filterStatements: ['message = "request"'],
    sort: 'duration_ms desc',
    limit: 100,
  },
};

export interface ObservabilityProps {
  readonly topology: Topology;
  /** The stage's names: topic, alarms, dashboard, queries, metrics namespace. */
  readonly names: StageNames;
  /** `<service>-<handler>` -> function (its name is `orderly-<stage>-<service>-<handler>`). */
  readonly functions: Readonly<Record<string, lambda.Function>>;
  /** Rule name -> its queue. */
  readonly ruleQueues: Readonly<Record<string, sqs.IQueue>>;
  /** Queue name -> DLQ: the rule DLQs, the pipe DLQs and the event-delivery DLQ. */
  readonly deadLetterQueues: Readonly<Record<string, sqs.IQueue>>;
  readonly apiStage: apigwv2.IHttpStage;
  /** The function log groups, searched by the saved queries. */
  readonly logGroups: readonly logs.ILogGroup[];
  /** Optional e-mail address subscribed to the alarm topic. */
  readonly alarmEmail?: string;
  /** Service -> its table (throttling alarms). */
  readonly tables?: Readonly<Record<string, dynamodb.ITable>>;
  /** Service -> the name of its outbox pipe (failure alarms). */
  readonly pipeNames?: Readonly<Record<string, string>>;
}

export class Observability extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;
  readonly queries: Record<string, logs.QueryDefinition> = {};
  /** CloudWatch namespace of the Orderly EMF metrics of this stage. */
  readonly namespace: string;
  private readonly action: SnsAction;
  private readonly names: StageNames;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const { topology, names } = props;
    this.names = names;
    this.namespace = names.metricsNamespace;
    const metric = (metricName: OrderlyMetricName, dimensions: Record<string, string>, statistic: string, period: Duration, label?: string) =>
      orderlyMetric(metricName, dimensions, statistic, period, label, this.namespace);
    const orders = topology.services.find((s) => s.name === ORDERS_SERVICE);
    if (!orders) throw new Error(`the order and saga metrics come from service ${ORDERS_SERVICE}, which is not in the topology`);
    const rules = topology.services.flatMap((s) => s.rules.map((rule) => ({ owner: s.name, rule })));
    for (const { rule } of rules) if (!props.ruleQueues[rule.name]) throw new Error(`rule ${rule.name} has no queue`);

    // ---- topic -------------------------------------------------------------------------
    // A customer managed key: CloudWatch cannot publish to a topic encrypted with the
    // AWS managed key alias/aws/sns (its policy cannot be changed to admit CloudWatch).
    const key = orderlyKey(this, 'AlarmTopicKey', { description: 'Orderly: the alarm topic', alias: names.kmsAlias('alarms') });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublishToEncryptedTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
      }),
    );
    this.topic = new sns.Topic(this, 'AlarmTopic', {
      topicName: names.alarmTopicName,
      displayName: `Orderly alarms (${names.stage})`,
      masterKey: key,
      enforceSSL: true,
    });
    // The topic policy replaces SNS's default one, so CloudWatch must be admitted
    // explicitly: only alarms of this account whose names carry this stage's prefix.
    const stack = this.topic.stack;
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OrderlyAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: `${names.alarmNamePrefix}*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
          StringEquals: { 'aws:SourceAccount': stack.account },
        },
      }),
    );
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    this.action = new SnsAction(this.topic);

    // ---- alarms ------------------------------------------------------------------------
    for (const [queueName, dlq] of Object.entries(props.deadLetterQueues)) {
      this.alarm(`DlqDepth${pascal(queueName)}`, {
        alarmName: names.alarmName(`dlq-depth-${names.withoutPrefix(queueName)}`),
        alarmDescription: runbook(
          'dlq',
          `${queueName} holds messages that could not be delivered or processed. First read one message (aws sqs receive-message) and the owner's errors query, fix the cause, then redrive.`,
        ),
        metric: dlq.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: QUEUE_ALARM_PERIOD }),
        threshold: THRESHOLDS.dlqMessages,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
      });
    }

    for (const { rule } of rules) {
      const queueName = names.ruleQueueName(ruleSlug(rule.name));
      const threshold = queueAgeThreshold(rule);
      const delay = rule.timerDelaySeconds;
      this.alarm(`QueueAge${pascal(rule.name)}`, {
        alarmName: names.alarmName(`queue-age-${ruleSlug(rule.name)}`),
        alarmDescription: runbook(
          'queueAge',
          `${queueName}: the oldest message is older than ${threshold} s${delay !== undefined ? ` (${THRESHOLDS.queueAgeSeconds} s + the ${delay} s timer delay)` : ''}. First check the consuming function's errors, throttles and event source mapping state.`,
        ),
        metric: props.ruleQueues[rule.name].metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: QUEUE_ALARM_PERIOD }),
        threshold,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
      });
    }

    for (const [key, fn] of Object.entries(props.functions)) {
      const functionName = `${names.prefix}-${key}`;
      const rate = new cloudwatch.MathExpression({
        expression: '100 * errors / invocations',
        usingMetrics: {
          errors: fn.metricErrors({ statistic: 'Sum', period: ALARM_PERIOD }),
          invocations: fn.metricInvocations({ statistic: 'Sum', period: ALARM_PERIOD }),
        },
        label: `${functionName} error rate (%)`,
        period: ALARM_PERIOD,
      });
      this.alarm(`ErrorRate${pascal(key)}`, {
        alarmName: names.alarmName(`error-rate-${key}`),
        alarmDescription: runbook(
          'errorRate',
          `${functionName}: more than ${THRESHOLDS.errorRatePercent}% of invocations failed over ${ALARM_PERIOD.toMinutes()} min. First run the Orderly/errors saved query for this function's log group.`,
        ),
        metric: rate,
        threshold: THRESHOLDS.errorRatePercent,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
      });
      this.alarm(`Throttles${pascal(key)}`, {
        alarmName: names.alarmName(`throttles-${key}`),
        alarmDescription: runbook(
          'throttles',
          `${functionName} was throttled. First compare the account's ConcurrentExecutions with its concurrency quota (aws lambda get-account-settings).`,
        ),
        metric: fn.metricThrottles({ statistic: 'Sum', period: ALARM_PERIOD }),
        threshold: THRESHOLDS.throttles,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
      });
    }

    const stage = props.apiStage;
    this.alarm('Api5xxRate', {
      alarmName: names.alarmName('5xx-rate-api'),
      alarmDescription: runbook(
        'api5xx',
        `HTTP API: more than ${THRESHOLDS.api5xxRatePercent}% of requests ended in 5xx over ${ALARM_PERIOD.toMinutes()} min. First check the api functions' error-rate alarms and the access log's integrationError field.`,
      ),
      metric: new cloudwatch.MathExpression({
        expression: '100 * errors / requests',
        usingMetrics: {
          errors: stage.metricServerError({ statistic: 'Sum', period: ALARM_PERIOD }),
          requests: stage.metricCount({ statistic: 'Sum', period: ALARM_PERIOD }),
        },
        label: 'API 5xx rate (%)',
        period: ALARM_PERIOD,
      }),
      threshold: THRESHOLDS.api5xxRatePercent,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });
    this.alarm('ApiP99Latency', {
      alarmName: names.alarmName('p99-latency-api'),
      alarmDescription: runbook(
        'apiLatency',
        `HTTP API: p99 latency above ${THRESHOLDS.apiP99LatencyMs} ms in 2 of 3 ${ALARM_PERIOD.toMinutes()}-min periods. First compare Latency with IntegrationLatency, then run ${names.queryName('slowest-requests')}.`,
      ),
      metric: stage.metricLatency({ statistic: 'p99', period: ALARM_PERIOD }),
      threshold: THRESHOLDS.apiP99LatencyMs,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
    });
    this.alarm('SagaTimeouts', {
      alarmName: names.alarmName(`saga-timeouts-${ORDERS_SERVICE}`),
      alarmDescription: runbook(
        'sagaTimeouts',
        `More than ${THRESHOLDS.sagaTimeouts} orders were cancelled by the saga timeout in ${ALARM_PERIOD.toMinutes()} min. First check the inventory and payments queues and DLQs: a participant is not answering.`,
      ),
      metric: metric('orders_total', { service: ORDERS_SERVICE, status: 'cancelled', reason: 'timeout' }, 'Sum', ALARM_PERIOD),
      threshold: THRESHOLDS.sagaTimeouts,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });

    this.alarm('OrdersEscalated', {
      alarmName: names.alarmName(`orders-escalated-${ORDERS_SERVICE}`),
      alarmDescription: runbook(
        'ordersEscalated',
        `An order passed its fulfilment deadline and shipping answered none of its cancellation requests: it is CONFIRMED and waits for an operator. First check the shipping.events queue and DLQ.`,
      ),
      metric: metric('saga_deadlines_total', { service: ORDERS_SERVICE, outcome: 'escalated' }, 'Sum', ALARM_PERIOD),
      threshold: THRESHOLDS.ordersEscalated,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
    });

    // Outbox pipes: a pipe that keeps failing holds the saga's events back, and a stream
    // keeps records for 24 h only: after that they are lost.
    for (const [svc, pipeName] of Object.entries(props.pipeNames ?? {})) {
      const m = (metricName: string) =>
        new cloudwatch.Metric({ namespace: 'AWS/EventBridge/Pipes', metricName, dimensionsMap: { PipeName: pipeName }, statistic: 'Sum', period: ALARM_PERIOD });
      this.alarm(`PipeFailures${pascal(svc)}`, {
        alarmName: names.alarmName(`pipe-failures-${svc}`),
        alarmDescription: runbook(
          'pipeFailures',
          `Pipe ${pipeName} failed to move outbox events to the bus. First look at its DLQ (${names.pipeDlqName(svc)}) and the pipe's state: records older than 24 h leave the stream.`,
        ),
        metric: new cloudwatch.MathExpression({
          expression: 'failed + target',
          usingMetrics: { failed: m('ExecutionFailed'), target: m('TargetStageFailed') },
          label: `${pipeName} failures`,
          period: ALARM_PERIOD,
        }),
        threshold: THRESHOLDS.pipeFailures,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
      });
    }
    // DynamoDB throttling: on-demand tables throttle only past their account or partition
    // limits; every throttled unit of work is a retry (API 503 or a redelivery).
    for (const [svc, table] of Object.entries(props.tables ?? {})) {
      const m = (metricName: string) => table.metric(metricName, { statistic: 'Sum', period: ALARM_PERIOD });
      this.alarm(`DynamoThrottles${pascal(svc)}`, {
        alarmName: names.alarmName(`dynamodb-throttles-${svc}`),
        alarmDescription: runbook(
          'dynamoThrottles',
          `Table of ${svc} throttled reads or writes. First check the table's consumed capacity and hot keys (a hot SKU or order), then the account's on-demand limits.`,
        ),
        metric: new cloudwatch.MathExpression({
          expression: 'r + w',
          usingMetrics: { r: m('ReadThrottleEvents'), w: m('WriteThrottleEvents') },
          label: `${svc} throttle events`,
          period: ALARM_PERIOD,
        }),
        threshold: THRESHOLDS.dynamoThrottles,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
      });
    }

    // ---- dashboard ---------------------------------------------------------------------
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: names.dashboardName,
      defaultInterval: Duration.hours(3),
    });
    const fns = Object.entries(props.functions).map(([k, fn]) => ({ name: `${names.prefix}-${k}`, fn }));
    const graph = (title: string, left: cloudwatch.IMetric[], extra: Partial<cloudwatch.GraphWidgetProps> = {}) =>
      new cloudwatch.GraphWidget({ title, left, width: 12, height: 6, period: ALARM_PERIOD, ...extra });
    const search = (metric: OrderlyMetricName, filter: string, statistic: string, label: string) =>
      new cloudwatch.MathExpression({
        expression: `SEARCH('{${this.namespace},${[...METRIC_DIMENSIONS[metric]].sort().join(',')}} MetricName="${metric}"${filter ? ` ${filter}` : ''}', '${statistic}', ${ALARM_PERIOD.toSeconds()})`,
        label,
        period: ALARM_PERIOD,
      });

    // An alarm status widget shows at most 100 alarms.
    for (let i = 0; i < this.alarms.length; i += ALARMS_PER_WIDGET) {
      const chunk = this.alarms.slice(i, i + ALARMS_PER_WIDGET);
      this.dashboard.addWidgets(
        new cloudwatch.AlarmStatusWidget({
          title: i === 0 ? WIDGET_TITLES.alarms : `${WIDGET_TITLES.alarms} (${i / ALARMS_PER_WIDGET + 1})`,
          alarms: chunk,
          width: 24,
          height: Math.min(12, 2 + Math.ceil(chunk.length / 4)),
          sortBy: cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
        }),
      );
    }
    this.dashboard.addWidgets(
      graph(WIDGET_TITLES.apiLatency, [
        stage.metricLatency({ statistic: 'p50', label: 'p50' }),
        stage.metricLatency({ statistic: 'p99', label: 'p99' }),
      ], { leftAnnotations: [{ value: THRESHOLDS.apiP99LatencyMs, label: 'p99 alarm' }] }),
      graph(WIDGET_TITLES.apiErrors, [
        stage.metricCount({ statistic: 'Sum', label: 'requests' }),
        stage.metricClientError({ statistic: 'Sum', label: '4xx' }),
        stage.metricServerError({ statistic: 'Sum', label: '5xx' }),
      ]),
    );
    this.dashboard.addWidgets(
      graph(WIDGET_TITLES.httpDuration, [search('http_request_duration_seconds', '', 'p99', '')]),
      graph(WIDGET_TITLES.coldStarts, topology.services.map((s) => metric('cold_starts_total', { service: s.name }, 'Sum', ALARM_PERIOD, s.name))),
    );
    this.dashboard.addWidgets(
      graph(WIDGET_TITLES.lambdaErrors, fns.map(({ name, fn }) => fn.metricErrors({ statistic: 'Sum', label: name }))),
      graph(WIDGET_TITLES.lambdaThrottles, fns.map(({ name, fn }) => fn.metricThrottles({ statistic: 'Sum', label: name }))),
    );
    this.dashboard.addWidgets(
      graph(WIDGET_TITLES.lambdaDuration, fns.map(({ name, fn }) => fn.metricDuration({ statistic: 'p99', label: name }))),
      graph(WIDGET_TITLES.lambdaConcurrency, fns.map(({ name, fn }) => fn.metric('ConcurrentExecutions', { statistic: 'Maximum', label: name }))),
    );
    this.dashboard.addWidgets(
      graph(WIDGET_TITLES.queueVisible, rules.map(({ rule }) => props.ruleQueues[rule.name].metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', label: rule.name }))),
      graph(WIDGET_TITLES.queueAge, rules.map(({ rule }) => props.ruleQueues[rule.name].metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', label: rule.name }))),
    );
    this.dashboard.addWidgets(
      graph(
        WIDGET_TITLES.dlqDepth,
        Object.entries(props.deadLetterQueues).map(([name, q]) => q.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', label: name })),
        { leftAnnotations: [{ value: THRESHOLDS.dlqMessages, label: 'alarm' }] },
      ),
      graph(
        WIDGET_TITLES.eventsConsumed,
        rules.flatMap(({ owner, rule }) =>
          CONSUME_OUTCOMES.map((outcome) => metric('events_consumed_total', { service: owner, rule: rule.name, outcome }, 'Sum', ALARM_PERIOD, `${rule.name} ${outcome}`)),
        ),
      ),
    );
    this.dashboard.addWidgets(
      graph(WIDGET_TITLES.handlerDuration, rules.map(({ owner, rule }) => metric('event_handler_duration_seconds', { service: owner, rule: rule.name }, 'p99', ALARM_PERIOD, rule.name))),
      graph(WIDGET_TITLES.retries, rules.map(({ owner, rule }) => metric('retries_total', { service: owner, rule: rule.name }, 'Sum', ALARM_PERIOD, rule.name))),
    );
    const ordersTotal = (status: string, reason: string, label: string) =>
      metric('orders_total', { service: ORDERS_SERVICE, status, reason }, 'Sum', ALARM_PERIOD, label);
    this.dashboard.addWidgets(
      graph(WIDGET_TITLES.sagaOutcomes, [
        ordersTotal('confirmed', NO_REASON, 'confirmed'),
        ...CANCEL_REASONS.map((reason) => ordersTotal('cancelled', reason, `cancelled: ${reason}`)),
      ], { stacked: true }),
      graph(
        WIDGET_TITLES.sagaDuration,
        SAGA_OUTCOMES.flatMap((outcome) =>
          ['p50', 'p99'].map((stat) => metric('saga_duration_seconds', { service: ORDERS_SERVICE, outcome }, stat, ALARM_PERIOD, `${outcome} ${stat}`)),
        ),
      ),
    );
    // "Orders by status": one metric per status; `cancelled` is the sum over its reasons
    // (CloudWatch does not aggregate across a dimension the query does not name).
    const cancelledByReason = Object.fromEntries(CANCEL_REASONS.map((reason, i) => [`c${i}`, ordersTotal('cancelled', reason, reason)]));
    this.dashboard.addWidgets(
      graph(
        WIDGET_TITLES.ordersByStatus,
        ORDER_STATUSES.map((status) =>
          status === 'cancelled'
            ? new cloudwatch.MathExpression({
                expression: Object.keys(cancelledByReason).map((id) => `FILL(${id}, 0)`).join(' + '),
                usingMetrics: cancelledByReason,
                label: 'cancelled',
                period: ALARM_PERIOD,
              })
            : ordersTotal(status, NO_REASON, status),
        ),
      ),
      graph(WIDGET_TITLES.revenue, [search('revenue_minor_units_total', `service="${ORDERS_SERVICE}"`, 'Sum', '')]),
    );

    // ---- Logs Insights saved queries ----------------------------------------------------
    for (const [name, q] of Object.entries(SAVED_QUERIES)) {
      this.queries[name] = new logs.QueryDefinition(this, `Query${pascal(name)}`, {
        queryDefinitionName: names.queryName(name),
        queryString: new logs.QueryString(q),
        logGroups: [...props.logGroups],
      });
    }
  }

  private alarm(id: string, props: cloudwatch.AlarmProps): cloudwatch.Alarm {
    const prefix = this.names.alarmNamePrefix;
    if (!props.alarmName?.startsWith(prefix)) throw new Error(`alarm ${id}: its name must start with ${prefix}`);
    const alarm = new cloudwatch.Alarm(this, id, {
      // Counts and rates: no data means nothing happened (no traffic, empty queue).
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      ...props,
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    this.alarms.push(alarm);
    return alarm;
  }
}

/** An Orderly EMF metric with its complete dimension set (checked against the contract). */
export function orderlyMetric(
  metricName: OrderlyMetricName,
  dimensions: Record<string, string>,
  statistic: string,
  period: Duration,
  label?: string,
  namespace: string = METRICS_NAMESPACE,
): cloudwatch.Metric {
  const expected = [...METRIC_DIMENSIONS[metricName]].sort();
  const given = Object.keys(dimensions).sort();
  if (expected.join(',') !== given.join(',')) {
    throw new Error(`${metricName}: dimensions ${given.join(',')} differ from the contract's ${expected.join(',')}`);
  }
  return new cloudwatch.Metric({ namespace, metricName, dimensionsMap: dimensions, statistic, period, label });
}

function runbook(what: keyof typeof RUNBOOK_ANCHORS, text: string): string {
  return `${text} Runbook: ${RUNBOOK_DOC}#${RUNBOOK_ANCHORS[what]}`;
}
