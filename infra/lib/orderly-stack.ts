// The whole of Orderly on AWS, in one stack, derived from two inputs:
//   - infra/topology.json   (services, handlers, produced types, rules, timers)
//   - schemas/openapi.yaml  (REST routes and their OAuth scopes)
// Nothing below names a service, a rule or an event type, with one exception: the
// payment provider secret (SERVICE_SECRETS), which belongs to the payments service by
// nature; synth fails if that service disappears from the topology.
//
// IAM: only grants and explicit statements; no Allow anywhere has an action containing
// "*" (the KMS default root statement is rewritten by orderlyKey(), and the CDK grants
// that emit kms:GenerateDataKey* / kms:ReEncrypt* are not used). The one wildcard left is
// the "Deny sqs:* unless aws:SecureTransport" guard of enforceSSL. Tests enforce this.
import { CfnOutput, Duration, RemovalPolicy, Stack, StackProps, Tags, Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as pipes from 'aws-cdk-lib/aws-pipes';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, IConstruct } from 'constructs';
import { Identity, RESOURCE_SERVER_ID } from './identity';
import { orderlyKey } from './kms';
import { lambdaCode } from './lambda-code';
import { StageNames } from './naming';
import { Observability } from './observability';
import { ApiSpec } from './openapi';
import { HandlerKind, pascal, RuleSpec, ruleSlug, ServiceSpec, SQS_MAX_DELAY_SECONDS, Topology } from './topology';

// ---- settings -------------------------------------------------------------------------

export { RESOURCE_SERVER_ID };
export const LOG_RETENTION = logs.RetentionDays.ONE_MONTH;
export const MEMORY_MB = 256;
export const TIMEOUT: Record<HandlerKind, Duration> = { api: Duration.seconds(10), events: Duration.seconds(30) };
/** AWS guidance: a Lambda source queue's visibility timeout >= 6 x the function timeout. */
export const QUEUE_VISIBILITY = Duration.seconds(6 * TIMEOUT.events.toSeconds());
export const ESM_BATCH_SIZE = 10;
export const ESM_BATCHING_WINDOW = Duration.seconds(1);
export const DLQ_RETENTION = Duration.days(14);
export const ARCHIVE_RETENTION = Duration.days(30);
export const API_THROTTLE = { rateLimit: 50, burstLimit: 100 };

/** Outbox items: pk OUTBOX, sk = event id; see docs/adr/0005. Only new items, never TTL removals. */
export const OUTBOX_FILTER = { eventName: ['INSERT'], dynamodb: { Keys: { pk: { S: ['OUTBOX'] } } } };
/**
 * What the pipe puts in the EventBridge `detail`: the outbox item's `event` attribute as the
 * stream delivers it, i.e. `{"event":{"S":"<CloudEvent JSON text>"}}`. The variable is a JSON
 * object, so Pipes inserts it verbatim (correctly escaped). Referencing the string itself
 * (`<$.dynamodb.NewImage.event.S>`) would not give an object: Pipes quotes string values and
 * does not escape them (docs: "EventBridge doesn't escape values extracted by Input Path"),
 * and implicit JSON parsing applies only to SQS `body`, Kinesis/MQ `data`, Kafka key/value.
 */
export const PIPE_INPUT_TEMPLATE = '{"event": <$.dynamodb.NewImage.event>}';
export const PIPE_DETAIL_TYPE_PATH = '$.dynamodb.NewImage.type.S';
export const PIPE_SOURCE_PATH = '$.dynamodb.NewImage.source.S';
export const PIPE_BATCH_SIZE = 10; // PutEvents takes at most 10 entries
export const PIPE_MAX_RETRIES = 10;

/** The ItemStore port uses exactly these DynamoDB operations (docs/adr/0001). */
export const ITEM_STORE_ACTIONS = [
  'dynamodb:ConditionCheckItem',
  'dynamodb:DeleteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:Query',
  'dynamodb:UpdateItem',
];
/** Data-key operations DynamoDB performs with the table key on the caller's behalf. */
export const TABLE_KEY_ACTIONS = [
  'kms:Decrypt',
  'kms:DescribeKey',
  'kms:Encrypt',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
];

interface SecretSpec {
  /** Under the stage: the secret is `orderly/<stage>/<path>` (StageNames.secretName). */
  readonly path: string;
  readonly envVar: string;
  readonly handler: HandlerKind;
  readonly description: string;
}
/** Per-service secrets, read through the Parameters and Secrets Lambda Extension. */
export const SERVICE_SECRETS: Readonly<Record<string, SecretSpec>> = {
  payments: {
    path: 'payments/provider-key',
    envVar: 'ORDERLY_PAYMENT_SECRET_ARN',
    handler: 'events',
    description: 'API key of the payment provider. Set the real value after the first deploy.',
  },
};

export interface OrderlyStackProps extends StackProps {
  /** The stage (`-c stage=...`): qualifies every physical name (lib/naming.ts). */
  readonly stage: string;
  readonly topology: Topology;
  readonly api: ApiSpec;
  /** Directory with `<service>.zip` (or `<service>/bootstrap`). */
  readonly lambdaDir: string;
  /**
   * Services whose functions keep the code of a previous release (`lambdaDir` there): the
   * first step of a schema change, which deploys the consumers before the producer
   * (docs/events.md#deploying-a-schema-change). Every other function gets `lambdaDir`.
   */
  readonly heldBack?: { readonly services: readonly string[]; readonly lambdaDir: string };
  /** Cognito hosted domain prefix (globally unique per Region). Default: orderly-<stage>-<account id>. */
  readonly cognitoDomainPrefix?: string;
  /** Redirect URLs of the customer client after sign-in. Default: http://localhost:3000/callback. */
  readonly customerCallbackUrls?: readonly string[];
  /** Redirect URLs of the customer client after sign-out. Default: http://localhost:3000/. */
  readonly customerLogoutUrls?: readonly string[];
  /** Customers may register themselves (default true); false: operators create every user. */
  readonly selfSignUp?: boolean;
  /** Override for the Parameters and Secrets Extension layer ARN (else CDK's per-Region mapping). */
  readonly paramsSecretsLayerArn?: string;
  /** Optional e-mail address subscribed to the alarm topic. */
  readonly alarmEmail?: string;
  /**
   * Days a delivered order's personal data is kept before orders erases it (`-c retentionDays`,
   * default 90; 0 keeps it): ORDERLY_RETENTION_DAYS of the functions (ADR 0017).
   */
  readonly retentionDays?: number;
  /**
   * Minutes between two runs of a service's periodic work (`-c sweepMinutes`, default 60): a
   * scheduled rule invokes its events function with the topology's sweepInput. Orders erases
   * there what passed its retention period even when nothing is delivered (ADR 0017).
   */
  readonly sweepMinutes?: number;
}

/** Days a delivered order's personal data is kept (hosts::Settings::retention; ADR 0017). */
export const DEFAULT_RETENTION_DAYS = 90;

/** Minutes between two scheduled sweeps (`-c sweepMinutes`). */
export const DEFAULT_SWEEP_MINUTES = 60;

/** Acknowledge a cdk-nag finding on one construct, always with a specific reason. */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  if (reason.trim().length < 40) throw new Error(`nag acknowledgement ${id} needs a specific reason`);
  Validations.of(scope).acknowledge({ id, reason });
}

/**
 * Rule target: an SQS queue encrypted with a customer managed key. Unlike
 * aws-events-targets.SqsQueue (which calls queue.grantSendMessages: kms:GenerateDataKey*
 * and kms:ReEncrypt* in the key policy, and only aws:SourceAccount on encrypted queues),
 * it allows exactly sqs:SendMessage from this rule's ARN on the queue and on the target
 * DLQ; the key statement for events.amazonaws.com is added once, on the key.
 */
class EncryptedQueueTarget implements events.IRuleTarget {
  constructor(
    private readonly queue: sqs.IQueue,
    private readonly deadLetterQueue: sqs.IQueue,
  ) {}

  bind(rule: events.IRuleRef): events.RuleTargetConfig {
    const ruleArn = events.CfnRule.arnForRule(rule);
    // The rule's own queue names this rule. The shared DLQ gets one statement for every
    // rule of the bus (OrderlyStack), not one per rule: a queue policy holds at most 10
    // conditions' worth, and the 10th rule would have broken the deploy.
    this.queue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: `From${rule.node.id}`,
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
        conditions: { ArnEquals: { 'aws:SourceArn': ruleArn } },
      }),
    );
    return {
      arn: this.queue.queueArn,
      targetResource: this.queue,
      deadLetterConfig: { arn: this.deadLetterQueue.queueArn },
      retryPolicy: { maximumRetryAttempts: 185, maximumEventAgeInSeconds: 24 * 3600 },
    };
  }
}

export class OrderlyStack extends Stack {
  readonly tables: Record<string, dynamodb.Table> = {};
  readonly functions: Record<string, lambda.Function> = {};
  readonly ruleQueues: Record<string, sqs.Queue> = {};
  /** Every DLQ by queue name: rule DLQs, outbox pipe DLQs and the event-delivery DLQ. */
  readonly deadLetterQueues: Record<string, sqs.Queue> = {};
  /** Function log groups, keyed like `functions`. */
  readonly logGroups: Record<string, logs.LogGroup> = {};
  readonly bus: events.EventBus;
  readonly httpApi: apigwv2.HttpApi;
  readonly apiStage: apigwv2.HttpStage;
  readonly observability: Observability;
  readonly names: StageNames;
  readonly identity: Identity;
  readonly secrets: Record<string, secretsmanager.Secret> = {};

  constructor(scope: Construct, id: string, props: OrderlyStackProps) {
    const names = new StageNames(props.stage);
    super(scope, id, props);
    this.names = names;
    Tags.of(this).add('project', 'orderly');
    Tags.of(this).add('stage', names.stage);
    const { topology, api } = props;
    const serviceNames = new Set(topology.services.map((s) => s.name));
    // The fulfilment deadline cancels a CONFIRMED order that has not shipped. A failed SQS
    // message comes back only after the queue's visibility timeout, so a step's retries take
    // up to maxReceiveCount x QUEUE_VISIBILITY: the deadline must come after them, or one
    // transient fault would cancel an order that was going to ship.
    for (const rule of topology.services.flatMap((s) => s.rules)) {
      const retries = rule.maxReceiveCount * QUEUE_VISIBILITY.toSeconds();
      if (rule.timerDelaySeconds === undefined && retries >= topology.fulfilmentTimeoutSeconds) {
        throw new Error(
          `rule ${rule.name}: ${rule.maxReceiveCount} receives x ${QUEUE_VISIBILITY.toSeconds()} s = ${retries} s of retries ` +
            `outlast the ${topology.fulfilmentTimeoutSeconds} s fulfilment deadline`,
        );
      }
    }
    for (const svc of Object.keys(SERVICE_SECRETS)) {
      if (!serviceNames.has(svc)) throw new Error(`SERVICE_SECRETS names ${svc}, which is not in the topology`);
    }

    // ---- shared: messaging key, bus, archive -------------------------------------------
    const messagingKey = orderlyKey(this, 'MessagingKey', {
      description: 'Orderly: SQS rule queues, their DLQs and the pipe DLQs',
      alias: names.kmsAlias('messaging'),
    });
    // EventBridge encrypts what it sends to the queues (EventBridge user guide, "targets":
    // exactly these two actions for events.amazonaws.com). SQS queue policies restrict
    // sqs:SendMessage to each rule's ARN, so the key alone delivers nothing anywhere.
    messagingKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeEncryptsForQueues',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
      }),
    );

    this.bus = new events.EventBus(this, 'Bus', { eventBusName: names.busName, description: `Orderly domain events (CloudEvents from the outboxes), stage ${names.stage}` });
    this.bus.archive('Archive', {
      archiveName: names.archiveName,
      description: 'Every Orderly event, for replay',
      eventPattern: { source: events.Match.prefix('orderly.') },
      retention: ARCHIVE_RETENTION,
    });

    // One DLQ for deliveries EventBridge could not make to any rule queue (after 185
    // retries / 24 h). It is a DLQ of EventBridge, not of a queue: nothing may redrive into it.
    const deliveryDlq = this.queue('EventDeliveryDlq', names.deliveryDlqName, messagingKey, {
      retentionPeriod: DLQ_RETENTION,
      redriveAllowPolicy: { redrivePermission: sqs.RedrivePermission.DENY_ALL },
    });
    acknowledge(deliveryDlq, 'AwsSolutions-SQS3', 'This queue is the dead-letter queue of the EventBridge rule targets; a DLQ has no DLQ of its own.');
    // Any rule of this account's Orderly bus may dead-letter here: one statement, however
    // many rules (rules on a custom bus have ARNs rule/<bus>/<name>; ours are orderly-<stage>-*).
    deliveryDlq.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'FromOrderlyBusRules',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [deliveryDlq.queueArn],
        conditions: {
          ArnLike: { 'aws:SourceArn': this.formatArn({ service: 'events', resource: 'rule', resourceName: `${names.busName}/${names.ruleNamePattern}` }) },
          StringEquals: { 'aws:SourceAccount': this.account },
        },
      }),
    );
    this.deadLetterQueues[names.deliveryDlqName] = deliveryDlq;

    // ---- per service: key, table, functions, outbox pipe --------------------------------
    const eventsFns: Record<string, lambda.Function> = {};
    const apiFns: Record<string, lambda.Function> = {};
    for (const svc of topology.services) {
      const P = pascal(svc.name);
      const tableKey = orderlyKey(this, `${P}TableKey`, {
        description: `Orderly: the ${svc.name} table and its stream`,
        alias: names.kmsAlias(`${svc.name}-table`),
      });
      const table = new dynamodb.Table(this, `${P}Table`, {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: tableKey,
        timeToLiveAttribute: '_ttl',
        // Every service writes an outbox, so every table has a stream (read by the pipe).
        stream: dynamodb.StreamViewType.NEW_IMAGE,
        // State of record: a stack deletion or a replacement must never drop it.
        removalPolicy: RemovalPolicy.RETAIN,
      });
      this.tables[svc.name] = table;

      for (const handler of svc.handlers) {
        const fn = this.serviceFunction(svc, handler, table, tableKey, props);
        (handler === 'api' ? apiFns : eventsFns)[svc.name] = fn;
        this.functions[`${svc.name}-${handler}`] = fn;
      }

      this.outboxPipe(svc, table, tableKey, messagingKey);
    }

    // ---- per rule: queue, DLQ, rule, event source mapping -------------------------------
    for (const svc of topology.services) {
      for (const rule of svc.rules) this.ruleDelivery(rule, eventsFns[svc.name], messagingKey, deliveryDlq);
    }

    // ---- periodic work: a schedule on the default bus invokes the events function -------
    // with the sweep input (hosts::ServiceSpec::sweep; orders: retention, ADR 0017). Async
    // invocation: EventBridge retries a failed one twice, then drops it; the next comes a
    // period later, and every sweep takes up what the previous one left.
    const sweepMinutes = props.sweepMinutes ?? DEFAULT_SWEEP_MINUTES;
    if (!Number.isInteger(sweepMinutes) || sweepMinutes < 1 || sweepMinutes > 1440)
      throw new Error(`-c sweepMinutes=${props.sweepMinutes}: expected whole minutes from 1 to 1440`);
    for (const svc of topology.services.filter((s) => s.sweep)) {
      new events.Rule(this, `${pascal(svc.name)}SweepSchedule`, {
        description: `Orderly ${svc.name}: periodic work (retention) every ${sweepMinutes} min`,
        schedule: events.Schedule.rate(Duration.minutes(sweepMinutes)),
        targets: [
          new targets.LambdaFunction(eventsFns[svc.name], {
            event: events.RuleTargetInput.fromObject(JSON.parse(topology.sweepInput)),
            retryAttempts: 2,
          }),
        ],
      });
    }

    // ---- secrets ------------------------------------------------------------------------
    const secretsKey = orderlyKey(this, 'SecretsKey', { description: 'Orderly: Secrets Manager secrets', alias: names.kmsAlias('secrets') });
    for (const [svc, spec] of Object.entries(SERVICE_SECRETS)) {
      const secret = new secretsmanager.Secret(this, `${pascal(svc)}Secret`, {
        secretName: names.secretName(spec.path),
        description: spec.description,
        encryptionKey: secretsKey,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      acknowledge(
        secret,
        'AwsSolutions-SMG4',
        'Third-party payment provider key: it is issued and rotated in the provider dashboard, so there is no rotation Lambda; operators put the new value with PutSecretValue.',
      );
      this.secrets[svc] = secret;
      const fn = this.functions[`${svc}-${spec.handler}`];
      if (!fn) throw new Error(`SERVICE_SECRETS: ${svc} has no ${spec.handler} handler`);
      // secretsmanager:GetSecretValue/DescribeSecret on this secret only, and kms:Decrypt on
      // its key via Secrets Manager only (grantRead adds the kms:ViaService condition).
      secret.grantRead(fn);
      fn.addEnvironment(spec.envVar, secret.secretArn);
    }

    // ---- Cognito: customer (code + PKCE), machine and admin clients (lib/identity.ts) ------
    this.identity = new Identity(this, 'Identity', {
      names,
      api,
      domainPrefix: props.cognitoDomainPrefix,
      callbackUrls: props.customerCallbackUrls,
      logoutUrls: props.customerLogoutUrls,
      selfSignUp: props.selfSignUp,
    });
    const { customerClient, machineClient, adminClient, domain } = this.identity;
    acknowledge(
      this.identity.userPool,
      'AwsSolutions-COG8',
      'Threat protection needs the Plus feature plan (billed per monthly active user, no free tier). Every user must pass TOTP MFA, which already stops password-only account takeover; the machine and admin clients use client credentials, which threat protection does not cover.',
    );

    // ---- HTTP API --------------------------------------------------------------------------
    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      apiName: names.httpApiName,
      description: 'Orderly REST API (routes from schemas/openapi.yaml)',
      createDefaultStage: false,
    });
    const accessLogs = new logs.LogGroup(this, 'HttpApiAccessLogs', {
      logGroupName: names.httpApiAccessLogGroup,
      retention: LOG_RETENTION,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const stage = (this.apiStage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: API_THROTTLE,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            // No client IP: API Gateway can neither truncate nor hash it, and an address is
            // personal data (docs/protocols-and-security.md#personal-data-in-logs).
            requestId: '$context.requestId',
            requestTime: '$context.requestTime',
            method: '$context.httpMethod',
            routeKey: '$context.routeKey',
            path: '$context.path',
            status: '$context.status',
            protocol: '$context.protocol',
            responseLength: '$context.responseLength',
            latencyMs: '$context.responseLatency',
            integrationLatencyMs: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
            authorizerError: '$context.authorizer.error',
            clientId: '$context.authorizer.claims.client_id',
            userAgent: '$context.identity.userAgent',
          }),
        ),
      },
    }));
    // Audience: every client of the pool (the authorizer checks an access token's client_id).
    const authorizer = new HttpUserPoolAuthorizer('CognitoAuthorizer', this.identity.userPool, {
      authorizerName: 'cognito',
      userPoolClients: this.identity.clients,
    });
    const integrations: Record<string, HttpLambdaIntegration> = {};
    for (const route of api.routes) {
      const fn = apiFns[route.service];
      if (!fn) throw new Error(`${route.method} ${route.path}: service ${route.service} has no api handler in the topology`);
      integrations[route.service] ??= new HttpLambdaIntegration(`${pascal(route.service)}Integration`, fn, {
        payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
      });
      const [created] = this.httpApi.addRoutes({
        path: route.path,
        methods: [route.method as apigwv2.HttpMethod],
        integration: integrations[route.service],
        ...(route.isPublic
          ? { authorizer: new apigwv2.HttpNoneAuthorizer() }
          : { authorizer, authorizationScopes: routeScopes(api, route.scopes) }),
      });
      if (route.isPublic) {
        acknowledge(
          created,
          'AwsSolutions-APIG4',
          `${route.method} ${route.path} is public by contract (security: [] in schemas/openapi.yaml): the product catalogue is readable without a token.`,
        );
      }
    }

    // ---- outputs ------------------------------------------------------------------------------
    new CfnOutput(this, 'Stage', { value: names.stage, description: 'The stage (-c stage=...) this stack belongs to' });
    new CfnOutput(this, 'ApiUrl', { value: stage.url, description: 'Base URL of the HTTP API' });
    new CfnOutput(this, 'AuthBaseUrl', { value: domain.baseUrl(), description: 'Cognito hosted UI: /oauth2/authorize, /login, /logout' });
    new CfnOutput(this, 'TokenUrl', { value: `${domain.baseUrl()}/oauth2/token`, description: 'Cognito token endpoint (code exchange, client credentials, refresh)' });
    new CfnOutput(this, 'UserPoolId', { value: this.identity.userPool.userPoolId });
    new CfnOutput(this, 'CustomerClientId', { value: customerClient.userPoolClientId, description: 'Customer client: authorization code + PKCE, no secret' });
    new CfnOutput(this, 'MachineClientId', { value: machineClient.userPoolClientId, description: 'Machine client (customer scopes); its secret: aws cognito-idp describe-user-pool-client' });
    new CfnOutput(this, 'AdminClientId', { value: adminClient.userPoolClientId, description: 'Admin client (admin scope only); its secret: aws cognito-idp describe-user-pool-client' });
    new CfnOutput(this, 'EventBusName', { value: this.bus.eventBusName });
    for (const [svc, secret] of Object.entries(this.secrets)) new CfnOutput(this, `${pascal(svc)}SecretArn`, { value: secret.secretArn });
    for (const [svc, table] of Object.entries(this.tables)) new CfnOutput(this, `${pascal(svc)}TableName`, { value: table.tableName });

    // ---- observability: alarm topic, alarms, dashboard, saved queries (lib/observability.ts)
    this.observability = new Observability(this, 'Observability', {
      topology,
      functions: this.functions,
      ruleQueues: this.ruleQueues,
      deadLetterQueues: this.deadLetterQueues,
      apiStage: stage,
      logGroups: Object.values(this.logGroups),
      alarmEmail: props.alarmEmail,
      tables: this.tables,
      pipeNames: Object.fromEntries(topology.services.map((s) => [s.name, names.pipeName(s.name)])),
      names,
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.observability.topic.topicArn, description: 'SNS topic of every Orderly alarm' });
    new CfnOutput(this, 'DashboardName', { value: this.observability.dashboard.dashboardName });
  }

  /** An SQS queue with a customer managed key and an SSL-only queue policy. */
  private queue(id: string, queueName: string, key: kms.IKey, props: Partial<sqs.QueueProps> = {}): sqs.Queue {
    return new sqs.Queue(this, id, {
      queueName,
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: key,
      dataKeyReuse: Duration.minutes(5),
      enforceSSL: true,
      ...props,
    });
  }

  private serviceFunction(svc: ServiceSpec, handler: HandlerKind, table: dynamodb.Table, tableKey: kms.IKey, props: OrderlyStackProps): lambda.Function {
    const id = `${pascal(svc.name)}${pascal(handler)}`;
    const functionName = this.names.functionName(svc.name, handler);
    const role = new iam.Role(this, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${functionName}: no managed policies, only the grants below`,
    });
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      logGroupName: this.names.functionLogGroup(svc.name, handler),
      retention: LOG_RETENTION,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    logGroup.grantWrite(role);
    this.logGroups[`${svc.name}-${handler}`] = logGroup;

    const secret = SERVICE_SECRETS[svc.name];
    const wantsSecrets = secret !== undefined && secret.handler === handler;
    const retentionDays = props.retentionDays ?? DEFAULT_RETENTION_DAYS;
    if (!Number.isFinite(retentionDays) || retentionDays < 0 || retentionDays > 36500)
      throw new Error(`-c retentionDays=${props.retentionDays}: expected a number of days from 0 to 36500`);
    const fn = new lambda.Function(this, `${id}Function`, {
      functionName,
      description: `Orderly ${svc.name} service, ${handler} handler`,
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.X86_64, // the C++ build is x86_64
      handler, // Lambda sets _HANDLER from this: the bootstrap picks api or events
      code: lambdaCode(
        props.heldBack?.services.includes(svc.name) ? props.heldBack.lambdaDir : props.lambdaDir,
        svc.name,
      ),
      memorySize: MEMORY_MB,
      timeout: TIMEOUT[handler],
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.INFO,
      role,
      environment: {
        ORDERLY_SERVICE: svc.name,
        ORDERLY_TABLE: table.tableName,
        ORDERLY_LOG_LEVEL: 'info',
        // Per stage (Orderly/<stage>): two stages in one account never mix their metrics.
        ORDERLY_METRICS_NAMESPACE: this.names.metricsNamespace,
        // The bootstraps link Debian's OpenSSL, whose default trust paths (/usr/lib/ssl) do not
        // exist on provided.al2023: point it at AL2023's bundle (the client also looks there).
        SSL_CERT_FILE: '/etc/pki/tls/certs/ca-bundle.crt',
        // A failed SQS message comes back after the bus's backoff (topology retryBackoff), set
        // with ChangeMessageVisibilityBatch, not after the 180 s visibility timeout. The
        // event source mapping's grant already holds sqs:ChangeMessageVisibility on the queue.
        ...(handler === 'events' ? { ORDERLY_SQS_RETRY_BACKOFF: '1' } : {}),
        // Orders erases a delivered order's personal data this many days after delivery.
        ...(svc.name === 'orders' ? { ORDERLY_RETENTION_DAYS: String(retentionDays) } : {}),
      },
      ...(wantsSecrets
        ? {
            // AWS Parameters and Secrets Lambda Extension: a localhost:2773 cache in front of
            // Secrets Manager. fromVersion() resolves the layer ARN per Region through a
            // CfnMapping (x86_64 account/version table built into aws-cdk-lib);
            // -c paramsSecretsLayerArn=... overrides it.
            paramsAndSecrets: props.paramsSecretsLayerArn
              ? lambda.ParamsAndSecretsLayerVersion.fromVersionArn(props.paramsSecretsLayerArn, { cacheEnabled: true, cacheSize: 10, logLevel: lambda.ParamsAndSecretsLogLevel.INFO })
              : lambda.ParamsAndSecretsLayerVersion.fromVersion(lambda.ParamsAndSecretsVersions.V1_0_103, {
                  cacheEnabled: true,
                  cacheSize: 10,
                  logLevel: lambda.ParamsAndSecretsLogLevel.INFO,
                }),
          }
        : {}),
    });

    // Table: the ItemStore operations on this table only; its key only through DynamoDB.
    table.grant(role, ...ITEM_STORE_ACTIONS);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'TableKeyViaDynamoDb',
        actions: TABLE_KEY_ACTIONS,
        resources: [tableKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${this.region}.amazonaws.com` } },
      }),
    );

    acknowledge(
      role.node.findChild('DefaultPolicy'),
      'AwsSolutions-IAM5[Resource::*]',
      'Only xray:PutTraceSegments and xray:PutTelemetryRecords (added by tracing: ACTIVE) use Resource "*": X-Ray has no resource-level permissions for them.',
    );
    return fn;
  }

  /** DynamoDB stream -> filter (INSERT of pk OUTBOX) -> EventBridge bus, with a DLQ. */
  private outboxPipe(svc: ServiceSpec, table: dynamodb.Table, tableKey: kms.IKey, messagingKey: kms.IKey): pipes.CfnPipe {
    const P = pascal(svc.name);
    const streamArn = table.tableStreamArn;
    if (!streamArn) throw new Error(`${svc.name}: table has no stream`);
    const pipeName = this.names.pipeName(svc.name);
    const dlqName = this.names.pipeDlqName(svc.name);
    const dlq = this.queue(`${P}OutboxPipeDlq`, dlqName, messagingKey, {
      retentionPeriod: DLQ_RETENTION,
      redriveAllowPolicy: { redrivePermission: sqs.RedrivePermission.DENY_ALL },
    });
    acknowledge(dlq, 'AwsSolutions-SQS3', 'This queue is the dead-letter queue of the outbox pipe (records it failed to put on the bus); a DLQ has no DLQ of its own.');
    this.deadLetterQueues[dlqName] = dlq;

    const role = new iam.Role(this, `${P}OutboxPipeRole`, {
      assumedBy: new iam.ServicePrincipal('pipes.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
      description: `Pipe ${pipeName}: read the ${svc.name} stream, put events on the bus`,
    });
    const allow = (sid: string, actions: string[], resources: string[]) =>
      role.addToPrincipalPolicy(new iam.PolicyStatement({ sid, actions, resources }));
    allow('ReadStream', ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'], [streamArn]);
    allow('ListStreams', ['dynamodb:ListStreams'], ['*']);
    allow('DecryptStream', ['kms:Decrypt'], [tableKey.keyArn]);
    allow('PutEvents', ['events:PutEvents'], [this.bus.eventBusArn]);
    allow('SendToDlq', ['sqs:SendMessage'], [dlq.queueArn]);
    allow('EncryptForDlq', ['kms:Decrypt', 'kms:GenerateDataKey'], [messagingKey.keyArn]);
    acknowledge(
      role.node.findChild('DefaultPolicy'),
      'AwsSolutions-IAM5[Resource::*]',
      'dynamodb:ListStreams has no resource-level permissions (Service Authorization Reference), so it needs Resource "*"; the stream actions are on this stream ARN only.',
    );

    const pipe = new pipes.CfnPipe(this, `${P}OutboxPipe`, {
      name: pipeName,
      description: `Outbox of ${svc.name}: new OUTBOX items to the ${this.names.busName} bus (docs/adr/0005)`,
      roleArn: role.roleArn,
      source: streamArn,
      sourceParameters: {
        dynamoDbStreamParameters: {
          startingPosition: 'TRIM_HORIZON',
          batchSize: PIPE_BATCH_SIZE,
          maximumBatchingWindowInSeconds: 0,
          maximumRetryAttempts: PIPE_MAX_RETRIES,
          maximumRecordAgeInSeconds: -1,
          onPartialBatchItemFailure: 'AUTOMATIC_BISECT',
          deadLetterConfig: { arn: dlq.queueArn },
        },
        filterCriteria: { filters: [{ pattern: JSON.stringify(OUTBOX_FILTER) }] },
      },
      target: this.bus.eventBusArn,
      targetParameters: {
        inputTemplate: PIPE_INPUT_TEMPLATE,
        eventBridgeEventBusParameters: { detailType: PIPE_DETAIL_TYPE_PATH, source: PIPE_SOURCE_PATH },
      },
    });
    pipe.node.addDependency(role); // the role's policy must exist before Pipes validates it
    return pipe;
  }

  /** Rule on the bus -> encrypted queue (+ DLQ) -> the owner's events function. */
  private ruleDelivery(rule: RuleSpec, fn: lambda.Function, key: kms.IKey, deliveryDlq: sqs.IQueue): void {
    const R = pascal(rule.name);
    const name = this.names.ruleName(ruleSlug(rule.name));
    const queueName = this.names.ruleQueueName(ruleSlug(rule.name));
    const dlqName = this.names.ruleDlqName(ruleSlug(rule.name));
    const delay = rule.timerDelaySeconds;
    if (delay !== undefined && delay > SQS_MAX_DELAY_SECONDS) {
      throw new Error(`rule ${rule.name}: a ${delay} s timer exceeds the SQS maximum delay of ${SQS_MAX_DELAY_SECONDS} s`);
    }
    // The DLQ names its only allowed source queue by ARN; the ARN is built from the name,
    // because a GetAtt would make queue and DLQ depend on each other.
    const sourceArn = this.formatArn({ service: 'sqs', resource: queueName });
    const dlq = this.queue(`${R}Dlq`, dlqName, key, {
      retentionPeriod: DLQ_RETENTION,
      redriveAllowPolicy: {
        redrivePermission: sqs.RedrivePermission.BY_QUEUE,
        sourceQueues: [sqs.Queue.fromQueueArn(this, `${R}SourceRef`, sourceArn)],
      },
    });
    this.deadLetterQueues[dlqName] = dlq;
    const queue = this.queue(`${R}Queue`, queueName, key, {
      visibilityTimeout: QUEUE_VISIBILITY,
      deadLetterQueue: { queue: dlq, maxReceiveCount: rule.maxReceiveCount },
      // Timers: delivery is delayed by the queue (docs/adr/0001: SQS delay up to 15 min).
      ...(delay !== undefined ? { deliveryDelay: Duration.seconds(delay) } : {}),
    });
    this.ruleQueues[rule.name] = queue;

    new events.Rule(this, `${R}Rule`, {
      eventBus: this.bus,
      ruleName: name,
      description: `Subscription ${rule.name}${delay !== undefined ? ` (timer, ${delay} s)` : ''}`,
      eventPattern: { detailType: [...rule.types] },
      targets: [new EncryptedQueueTarget(queue, deliveryDlq)],
    });

    fn.addEventSource(
      new SqsEventSource(queue, {
        batchSize: ESM_BATCH_SIZE,
        maxBatchingWindow: ESM_BATCHING_WINDOW,
        reportBatchItemFailures: true,
      }),
    );
  }
}

/**
 * API Gateway compares scopes literally with the token's `scope` claim, and Cognito
 * writes resource-server scopes as `<identifier>/<name>` (`orderly/orders:read`). The C++
 * side strips the prefix (platform::http::add_scopes). openapi.yaml also says the admin
 * scope grants every scope, so it is accepted on every protected route.
 */
export function routeScopes(api: ApiSpec, scopes: readonly string[]): string[] {
  const all = new Set(scopes);
  if (api.superScope) all.add(api.superScope);
  return [...all].sort().map((s) => `${RESOURCE_SERVER_ID}/${s}`);
}
