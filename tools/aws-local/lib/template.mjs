// The CloudFormation template as the twin's one source of truth: synthesize the CDK app
// (infra/bin/orderly.ts, run the way `cdk synth` runs it), resolve the intrinsics to local
// values, and read every resource the twin emulates into a plain model.
//
// Nothing here names an Orderly service, table, queue or rule: everything comes from the
// template's structure (types, logical ids, Ref/Fn::GetAtt).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// ---------------------------------------------------------------- synth

/**
 * Runs the CDK app like the CDK CLI does (CDK_OUTDIR + CDK_CONTEXT_JSON: cdk.json's context,
 * then `context` on top) and returns { outdir, stacks: [{ name, templateFile }] }.
 */
export async function synth({ infraDir, lambdaDir, context = {}, log = () => {}, signal, outdir }) {
  const cdkJson = JSON.parse(readFileSync(path.join(infraDir, 'cdk.json'), 'utf8'));
  outdir ??= mkdtempSync(path.join(tmpdir(), 'aws-local-cdk-out-'));
  const ctx = { ...(cdkJson.context ?? {}), ...context };
  if (lambdaDir) ctx.lambdaDir = path.resolve(lambdaDir);
  // "cdk synth" runs `cdk.json`.app; ours is `node --import tsx bin/orderly.ts`.
  const app = String(cdkJson.app ?? '').trim().split(/\s+/);
  if (app[0] !== 'node') throw new Error(`cdk.json app "${cdkJson.app}": the twin runs node apps only`);
  const started = Date.now();
  await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, app.slice(1), {
      cwd: infraDir,
      env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(ctx) },
      stdio: ['ignore', 'pipe', 'pipe'],
      signal,
    });
    let err = '';
    child.stdout.on('data', (d) => (err += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`CDK app failed (exit ${code}):\n${err.slice(-6000)}`)),
    );
  });
  log(`synthesized the CDK app in ${((Date.now() - started) / 1000).toFixed(1)} s (${outdir})`);
  return { outdir, stacks: readCloudAssembly(outdir) };
}

/**
 * A digest of everything a synth reads: the CDK app's sources and inputs (infra/ without
 * node_modules, cdk.out and tests; schemas/), its installed packages (the lock file), the
 * Lambda packages, the context and node's version. Equal digests give equal templates.
 */
export function synthInputsDigest({ infraDir, lambdaDir, context = {} }) {
  const h = createHash('sha256');
  const walk = (dir, skip = new Set()) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (skip.has(e.name)) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p, skip);
      else if (e.isFile()) h.update(p).update('\0').update(readFileSync(p)).update('\0');
    }
  };
  walk(infraDir, new Set(['node_modules', 'cdk.out', 'test', '.git']));
  walk(path.join(infraDir, '..', 'schemas'));
  if (lambdaDir) walk(lambdaDir, new Set(['pkg']));
  h.update(JSON.stringify({ context, lambdaDir: lambdaDir && path.resolve(lambdaDir), node: process.version }));
  return h.digest('hex');
}

export function readCloudAssembly(outdir) {
  const manifest = JSON.parse(readFileSync(path.join(outdir, 'manifest.json'), 'utf8'));
  const stacks = [];
  for (const [name, a] of Object.entries(manifest.artifacts ?? {})) {
    if (a.type !== 'aws:cloudformation:stack') continue;
    stacks.push({
      name: a.displayName ?? name,
      artifactId: name,
      stackName: a.properties?.stackName ?? name,
      templateFile: path.join(outdir, a.properties.templateFile),
      assetManifests: (a.dependencies ?? [])
        .map((d) => manifest.artifacts[d])
        .filter((x) => x?.type === 'cdk:asset-manifest')
        .map((x) => path.join(outdir, x.properties.file)),
    });
  }
  return stacks;
}

// ---------------------------------------------------------------- intrinsics

const PSEUDO = ['AWS::Region', 'AWS::AccountId', 'AWS::Partition', 'AWS::URLSuffix', 'AWS::StackName', 'AWS::StackId', 'AWS::NotificationARNs'];

function shortHash(s, n = 8) {
  return createHash('sha256').update(s).digest('hex').slice(0, n);
}

/**
 * Local physical ids and attributes of resources, as CloudFormation would give them.
 * `index` maps every ARN/URL/name it hands out back to the logical id.
 */
export class Resolver {
  constructor(template, { region, account, stackName }) {
    this.t = template;
    this.region = region;
    this.account = account;
    this.stackName = stackName;
    this.index = new Map();
    this.overrides = new Map(); // `${logicalId}` or `${logicalId}.${attr}` -> value
  }

  resource(id) {
    const r = this.t.Resources?.[id];
    if (!r) throw new Error(`template: no resource ${id}`);
    return r;
  }

  arn(service, resource, { region = this.region, account = this.account } = {}) {
    return `arn:aws:${service}:${region}:${account}:${resource}`;
  }

  // The name CloudFormation would generate when the template names none:
  // <stack>-<logical id>-<random>; here the random part is a stable hash.
  generatedName(id, max = 128) {
    const suffix = shortHash(`${this.stackName}/${id}`, 12).toUpperCase();
    const base = `${this.stackName}-${id}`.slice(0, max - suffix.length - 1);
    return `${base}-${suffix}`;
  }

  prop(id, name) {
    const v = this.resource(id).Properties?.[name];
    return v === undefined ? undefined : this.resolve(v);
  }

  ref(id) {
    if (PSEUDO.includes(id)) return this.pseudo(id);
    if (this.t.Parameters?.[id]) {
      const p = this.t.Parameters[id];
      if (p.Default === undefined) throw new Error(`template parameter ${id} has no default`);
      return p.Default;
    }
    if (this.overrides.has(id)) return this.overrides.get(id);
    const r = this.resource(id);
    const v = this.physical(id, r);
    this.index.set(v, id);
    return v;
  }

  pseudo(id) {
    switch (id) {
      case 'AWS::Region':
        return this.region;
      case 'AWS::AccountId':
        return this.account;
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return this.stackName;
      case 'AWS::StackId':
        return this.arn('cloudformation', `stack/${this.stackName}/${shortHash(this.stackName, 8)}`);
      default:
        return [];
    }
  }

  physical(id, r) {
    const p = r.Properties ?? {};
    const named = (prop, max) => (p[prop] !== undefined ? this.resolve(p[prop]) : this.generatedName(id, max));
    switch (r.Type) {
      case 'AWS::DynamoDB::Table':
        return named('TableName', 255);
      case 'AWS::SQS::Queue': {
        const name = named('QueueName', 80);
        return `https://sqs.${this.region}.amazonaws.com/${this.account}/${name}`;
      }
      case 'AWS::Lambda::Function':
        return named('FunctionName', 64);
      case 'AWS::Events::EventBus':
        return named('Name', 256);
      case 'AWS::Events::Rule': {
        const name = named('Name', 64);
        const bus = p.EventBusName !== undefined ? this.resolve(p.EventBusName) : 'default';
        return bus === 'default' || String(bus).startsWith('arn:') ? name : `${bus}|${name}`;
      }
      case 'AWS::Pipes::Pipe':
        return named('Name', 64);
      case 'AWS::SecretsManager::Secret': {
        const name = named('Name', 256);
        return this.arn('secretsmanager', `secret:${name}-${shortHash(name, 6)}`);
      }
      case 'AWS::Cognito::UserPool':
        return `${this.region}_local${shortHash(id, 5)}`;
      case 'AWS::Cognito::UserPoolResourceServer':
        return this.resolve(p.Identifier);
      case 'AWS::Logs::LogGroup':
        return named('LogGroupName', 512);
      case 'AWS::SNS::Topic':
        return this.arn('sns', named('TopicName', 256));
      case 'AWS::KMS::Key':
        return `${shortHash(id, 8)}-${shortHash(id + '1', 4)}-${shortHash(id + '2', 4)}-${shortHash(id + '3', 4)}-${shortHash(id + '4', 12)}`;
      default:
        return `${id.toLowerCase().slice(0, 20)}${shortHash(id, 6)}`;
    }
  }

  getAtt(id, attr) {
    const key = `${id}.${attr}`;
    if (this.overrides.has(key)) return this.overrides.get(key);
    const r = this.resource(id);
    const v = this.attribute(id, r, attr);
    this.index.set(v, id);
    return v;
  }

  attribute(id, r, attr) {
    const ref = () => this.ref(id);
    switch (r.Type) {
      case 'AWS::DynamoDB::Table':
        if (attr === 'Arn') return this.arn('dynamodb', `table/${ref()}`);
        if (attr === 'StreamArn') return this.arn('dynamodb', `table/${ref()}/stream/local`);
        break;
      case 'AWS::SQS::Queue': {
        const name = ref().split('/').pop();
        if (attr === 'Arn') return this.arn('sqs', name);
        if (attr === 'QueueName') return name;
        if (attr === 'QueueUrl') return ref();
        break;
      }
      case 'AWS::Lambda::Function':
        if (attr === 'Arn') return this.arn('lambda', `function:${ref()}`);
        break;
      case 'AWS::Events::EventBus':
        if (attr === 'Arn') return this.arn('events', `event-bus/${ref()}`);
        if (attr === 'Name') return ref();
        break;
      case 'AWS::Events::Rule': {
        const name = ref().split('|').pop();
        const bus = r.Properties?.EventBusName !== undefined ? this.resolve(r.Properties.EventBusName) : 'default';
        if (attr === 'Arn') return this.arn('events', bus === 'default' ? `rule/${name}` : `rule/${bus}/${name}`);
        break;
      }
      case 'AWS::Pipes::Pipe':
        if (attr === 'Arn') return this.arn('pipes', `pipe/${ref()}`);
        break;
      case 'AWS::Cognito::UserPool':
        if (attr === 'Arn') return this.arn('cognito-idp', `userpool/${ref()}`);
        if (attr === 'ProviderName') return `cognito-idp.${this.region}.amazonaws.com/${ref()}`;
        if (attr === 'ProviderURL') return `https://cognito-idp.${this.region}.amazonaws.com/${ref()}`;
        break;
      case 'AWS::KMS::Key':
        if (attr === 'Arn') return this.arn('kms', `key/${ref()}`);
        if (attr === 'KeyId') return ref();
        break;
      case 'AWS::IAM::Role':
        if (attr === 'Arn') return `arn:aws:iam::${this.account}:role/${r.Properties?.RoleName ? this.resolve(r.Properties.RoleName) : this.generatedName(id, 64)}`;
        break;
      case 'AWS::Logs::LogGroup':
        if (attr === 'Arn') return this.arn('logs', `log-group:${ref()}:*`);
        break;
      case 'AWS::SecretsManager::Secret':
        if (attr === 'Id') return ref();
        break;
      default:
        break;
    }
    if (attr === 'Arn') return this.arn(r.Type.split('::')[1].toLowerCase(), `${id}`);
    return `${id}.${attr}`;
  }

  condition(name) {
    const c = this.t.Conditions?.[name];
    if (c === undefined) throw new Error(`template: no condition ${name}`);
    return Boolean(this.resolve(c));
  }

  /** Resolves every intrinsic in `v`; AWS::NoValue removes the key or element. */
  resolve(v) {
    if (Array.isArray(v)) return v.map((x) => this.resolve(x)).filter((x) => x !== NO_VALUE);
    if (!v || typeof v !== 'object') return v;
    const keys = Object.keys(v);
    if (keys.length === 1) {
      const [k] = keys;
      const a = v[k];
      switch (k) {
        case 'Ref':
          return a === 'AWS::NoValue' ? NO_VALUE : this.ref(a);
        case 'Fn::GetAtt': {
          const [id, attr] = Array.isArray(a) ? a : String(a).split(/\.(.+)/);
          return this.getAtt(id, this.resolve(attr));
        }
        case 'Fn::Join': {
          const [sep, list] = a;
          return this.resolve(list).join(sep);
        }
        case 'Fn::Sub':
          return this.sub(a);
        case 'Fn::Select': {
          const [i, list] = this.resolve(a);
          return list[Number(i)];
        }
        case 'Fn::Split': {
          const [sep, s] = this.resolve(a);
          return String(s).split(sep);
        }
        case 'Fn::FindInMap': {
          const [m, k1, k2] = this.resolve(a);
          return this.t.Mappings?.[m]?.[k1]?.[k2];
        }
        case 'Fn::If': {
          const [cond, yes, no] = a;
          return this.resolve(this.condition(cond) ? yes : no);
        }
        case 'Fn::Equals': {
          const [x, y] = this.resolve(a);
          return JSON.stringify(x) === JSON.stringify(y);
        }
        case 'Fn::Not':
          return !this.resolve(a[0]);
        case 'Fn::And':
          return this.resolve(a).every(Boolean);
        case 'Fn::Or':
          return this.resolve(a).some(Boolean);
        case 'Condition':
          return this.condition(a);
        case 'Fn::Base64':
          return Buffer.from(String(this.resolve(a))).toString('base64');
        case 'Fn::GetAZs':
          return ['a', 'b', 'c'].map((z) => `${this.region}${z}`);
        case 'Fn::ImportValue':
          throw new Error(`Fn::ImportValue ${JSON.stringify(a)}: cross-stack imports are not emulated`);
        default:
          break;
      }
    }
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      const r = this.resolve(x);
      if (r !== NO_VALUE) out[k] = r;
    }
    return out;
  }

  sub(a) {
    const [text, vars] = Array.isArray(a) ? [a[0], this.resolve(a[1] ?? {})] : [a, {}];
    return String(text).replace(/\$\{([^}]+)\}/g, (m, name) => {
      if (name.startsWith('!')) return `\${${name.slice(1)}}`;
      if (name in vars) return vars[name];
      if (name.includes('.')) {
        const [id, attr] = name.split(/\.(.+)/);
        return this.getAtt(id, attr);
      }
      return this.ref(name);
    });
  }
}

export const NO_VALUE = Symbol('AWS::NoValue');

/** The logical id a {Ref}/{Fn::GetAtt} points at (unresolved), else undefined. */
export function refId(v) {
  if (v && typeof v === 'object') {
    if (typeof v.Ref === 'string') return v.Ref;
    if (Array.isArray(v['Fn::GetAtt'])) return v['Fn::GetAtt'][0];
    if (typeof v['Fn::GetAtt'] === 'string') return v['Fn::GetAtt'].split('.')[0];
  }
  return undefined;
}

// ---------------------------------------------------------------- the model

/** CloudFormation / service defaults for properties a template may leave out. */
export const DEFAULTS = {
  queue: { VisibilityTimeout: 30, DelaySeconds: 0, MessageRetentionPeriod: 345600, MaximumMessageSize: 262144, ReceiveMessageWaitTimeSeconds: 0 },
  sqsMapping: { BatchSize: 10, MaximumBatchingWindowInSeconds: 0 },
  function: { Timeout: 3, MemorySize: 128 },
  pipeDynamoDb: { BatchSize: 100, MaximumBatchingWindowInSeconds: 0, MaximumRetryAttempts: -1, MaximumRecordAgeInSeconds: -1 },
  integrationTimeoutMillis: 30000,
};

function byType(t, type) {
  return Object.entries(t.Resources ?? {}).filter(([, r]) => r.Type === type);
}

function queueNameOfArn(arn) {
  return String(arn).split(':').pop();
}

/**
 * Builds the model of everything the twin emulates. `unsupported` lists what the template
 * has that the twin cannot do (they are reported at start, never silently dropped).
 */
export function buildModel(template, opts) {
  const R = new Resolver(template, opts);
  if (opts.audience) for (const [id] of byType(template, 'AWS::Cognito::UserPoolClient')) R.overrides.set(id, opts.audience);
  const unsupported = [];
  const model = { region: opts.region, account: opts.account, stackName: opts.stackName, tables: [], queues: [], buses: [], rules: [], schedules: [], pipes: [], functions: [], mappings: [], secrets: [], archives: [], api: null, unsupported, resolver: R };

  // Tables.
  for (const [id, r] of byType(template, 'AWS::DynamoDB::Table')) {
    const p = r.Properties ?? {};
    model.tables.push({
      logicalId: id,
      name: R.ref(id),
      arn: R.getAtt(id, 'Arn'),
      streamArnLocal: p.StreamSpecification ? R.getAtt(id, 'StreamArn') : undefined,
      keySchema: R.resolve(p.KeySchema),
      attributeDefinitions: R.resolve(p.AttributeDefinitions),
      globalSecondaryIndexes: p.GlobalSecondaryIndexes ? R.resolve(p.GlobalSecondaryIndexes) : undefined,
      localSecondaryIndexes: p.LocalSecondaryIndexes ? R.resolve(p.LocalSecondaryIndexes) : undefined,
      streamViewType: p.StreamSpecification ? R.resolve(p.StreamSpecification.StreamViewType) : undefined,
      ttlAttribute: p.TimeToLiveSpecification?.Enabled ? R.resolve(p.TimeToLiveSpecification.AttributeName) : undefined,
      billingMode: R.resolve(p.BillingMode ?? 'PROVISIONED'),
    });
  }
  for (const [id] of byType(template, 'AWS::DynamoDB::GlobalTable')) unsupported.push(`${id} (AWS::DynamoDB::GlobalTable)`);

  // Queues.
  for (const [id, r] of byType(template, 'AWS::SQS::Queue')) {
    const p = R.resolve(r.Properties ?? {});
    const d = DEFAULTS.queue;
    const url = R.ref(id);
    const name = url.split('/').pop();
    const q = {
      logicalId: id,
      name,
      url,
      arn: R.getAtt(id, 'Arn'),
      visibilityTimeout: Number(p.VisibilityTimeout ?? d.VisibilityTimeout),
      delaySeconds: Number(p.DelaySeconds ?? d.DelaySeconds),
      messageRetentionPeriod: Number(p.MessageRetentionPeriod ?? d.MessageRetentionPeriod),
      maximumMessageSize: Number(p.MaximumMessageSize ?? d.MaximumMessageSize),
      receiveMessageWaitTimeSeconds: Number(p.ReceiveMessageWaitTimeSeconds ?? d.ReceiveMessageWaitTimeSeconds),
      fifo: Boolean(p.FifoQueue),
      redrive: undefined,
    };
    if (p.RedrivePolicy) {
      const rp = typeof p.RedrivePolicy === 'string' ? JSON.parse(p.RedrivePolicy) : p.RedrivePolicy;
      q.redrive = { deadLetterTargetArn: rp.deadLetterTargetArn, deadLetterQueue: queueNameOfArn(rp.deadLetterTargetArn), maxReceiveCount: Number(rp.maxReceiveCount) };
    }
    if (q.fifo) unsupported.push(`${id}: FIFO queue (the twin emulates standard queues only)`);
    model.queues.push(q);
  }

  // Buses (the default bus always exists), archives and rules.
  model.buses.push({ logicalId: null, name: 'default', arn: R.arn('events', 'event-bus/default') });
  for (const [id] of byType(template, 'AWS::Events::EventBus')) model.buses.push({ logicalId: id, name: R.ref(id), arn: R.getAtt(id, 'Arn') });
  const busOf = (v) => {
    if (v === undefined) return 'default';
    const s = String(R.resolve(v));
    return s.startsWith('arn:') ? s.split('event-bus/').pop() : s;
  };
  for (const [id, r] of byType(template, 'AWS::Events::Archive')) {
    const p = r.Properties ?? {};
    model.archives.push({ logicalId: id, name: p.ArchiveName ? R.resolve(p.ArchiveName) : R.generatedName(id, 48), bus: busOf(p.SourceArn), pattern: p.EventPattern ? toPattern(R.resolve(p.EventPattern)) : null, retentionDays: Number(R.resolve(p.RetentionDays ?? 0)) });
  }
  for (const [id, r] of byType(template, 'AWS::Events::Rule')) {
    const p = r.Properties ?? {};
    // A scheduled rule matches no event: it is read with the functions it invokes (below).
    if (p.ScheduleExpression !== undefined) continue;
    const targets = [];
    for (const t of p.Targets ?? []) {
      const arn = R.resolve(t.Arn);
      const target = {
        id: R.resolve(t.Id),
        arn,
        queue: String(arn).startsWith('arn:aws:sqs:') ? queueNameOfArn(arn) : undefined,
        input: t.Input !== undefined ? R.resolve(t.Input) : undefined,
        inputPath: t.InputPath !== undefined ? R.resolve(t.InputPath) : undefined,
        inputTransformer: t.InputTransformer ? R.resolve(t.InputTransformer) : undefined,
        deadLetterQueue: t.DeadLetterConfig ? queueNameOfArn(R.resolve(t.DeadLetterConfig.Arn)) : undefined,
        retryPolicy: t.RetryPolicy ? R.resolve(t.RetryPolicy) : undefined,
      };
      if (!target.queue) unsupported.push(`${id}: target ${target.id} is ${arn} (the twin delivers to SQS targets only)`);
      targets.push(target);
    }
    const name = R.ref(id).split('|').pop();
    model.rules.push({
      logicalId: id,
      name,
      arn: R.getAtt(id, 'Arn'),
      bus: busOf(p.EventBusName),
      state: R.resolve(p.State ?? 'ENABLED'),
      pattern: p.EventPattern ? toPattern(R.resolve(p.EventPattern)) : null,
      targets,
    });
  }

  // Functions.
  const assets = opts.assets ?? {};
  for (const [id, r] of byType(template, 'AWS::Lambda::Function')) {
    const p = r.Properties ?? {};
    const code = p.Code ?? {};
    let zip;
    let codeDir;
    const s3Key = code.S3Key !== undefined ? String(R.resolve(code.S3Key)) : undefined;
    if (s3Key && assets[s3Key]) zip = assets[s3Key];
    const assetPath = r.Metadata?.['aws:asset:path'];
    if (!zip && assetPath && opts.outdir) {
      const full = path.join(opts.outdir, assetPath);
      if (full.endsWith('.zip')) zip = full;
      else codeDir = full;
    }
    if (!zip && !codeDir) unsupported.push(`${id}: code ${JSON.stringify(code)} is not a local asset`);
    if (p.PackageType === 'Image') unsupported.push(`${id}: container image functions`);
    const env = R.resolve(p.Environment?.Variables ?? {});
    model.functions.push({
      logicalId: id,
      name: R.ref(id),
      arn: R.getAtt(id, 'Arn'),
      handler: R.resolve(p.Handler),
      runtime: R.resolve(p.Runtime),
      architectures: R.resolve(p.Architectures ?? ['x86_64']),
      timeout: Number(R.resolve(p.Timeout ?? DEFAULTS.function.Timeout)),
      memorySize: Number(R.resolve(p.MemorySize ?? DEFAULTS.function.MemorySize)),
      environment: env,
      layers: R.resolve(p.Layers ?? []),
      logFormat: R.resolve(p.LoggingConfig?.LogFormat ?? 'Text'),
      logGroup: p.LoggingConfig?.LogGroup ? R.resolve(p.LoggingConfig.LogGroup) : `/aws/lambda/${R.ref(id)}`,
      reservedConcurrency: p.ReservedConcurrentExecutions !== undefined ? Number(R.resolve(p.ReservedConcurrentExecutions)) : undefined,
      zip,
      codeDir,
      codeSha256: s3Key,
    });
  }
  const fnByRefValue = (v) => {
    const s = String(v);
    return model.functions.find((f) => f.name === s || f.arn === s || s.startsWith(`${f.arn}:`));
  };

  // Scheduled rules, read after the functions they invoke: a rate(...) schedule whose
  // targets are all functions of the template.
  for (const [id, r] of byType(template, 'AWS::Events::Rule')) {
    const p = r.Properties ?? {};
    if (p.ScheduleExpression === undefined) continue;
    const expression = String(R.resolve(p.ScheduleExpression));
    const why = (reason) => unsupported.push(`${id}: scheduled rule (${expression}): ${reason}`);
    if (p.EventPattern) {
      why('a rule with both a schedule and an event pattern');
      continue;
    }
    let periodMs;
    try {
      periodMs = rateMs(expression);
    } catch (err) {
      why(err.message);
      continue;
    }
    const targets = [];
    for (const t of p.Targets ?? []) {
      const arn = String(R.resolve(t.Arn));
      const fn = arn.startsWith('arn:aws:lambda:') ? fnByRefValue(arn) : undefined;
      const tid = R.resolve(t.Id);
      if (!fn) why(`target ${tid} is ${arn} (the twin runs schedules that invoke Lambda functions of the template only)`);
      else if (t.InputPath !== undefined || t.InputTransformer) why(`target ${tid}: InputPath and InputTransformer (the twin passes a target's Input, or the scheduled event)`);
      else targets.push({ id: tid, function: fn.name, input: t.Input !== undefined ? String(R.resolve(t.Input)) : undefined });
    }
    // Run all of the rule or none of it.
    if (targets.length !== (p.Targets ?? []).length) continue;
    model.schedules.push({
      logicalId: id,
      name: R.ref(id).split('|').pop(),
      arn: R.getAtt(id, 'Arn'),
      expression,
      periodMs,
      state: R.resolve(p.State ?? 'ENABLED'),
      targets,
    });
  }

  // Event source mappings.
  for (const [id, r] of byType(template, 'AWS::Lambda::EventSourceMapping')) {
    const p = R.resolve(r.Properties ?? {});
    const fn = fnByRefValue(p.FunctionName);
    const src = String(p.EventSourceArn ?? '');
    if (!src.startsWith('arn:aws:sqs:')) {
      unsupported.push(`${id}: event source ${src} (the twin polls SQS sources only)`);
      continue;
    }
    if (!fn) {
      unsupported.push(`${id}: function ${p.FunctionName} is not in the template`);
      continue;
    }
    const d = DEFAULTS.sqsMapping;
    model.mappings.push({
      logicalId: id,
      queue: queueNameOfArn(src),
      function: fn.name,
      batchSize: Number(p.BatchSize ?? d.BatchSize),
      maximumBatchingWindowInSeconds: Number(p.MaximumBatchingWindowInSeconds ?? d.MaximumBatchingWindowInSeconds),
      reportBatchItemFailures: (p.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures'),
      maximumConcurrency: p.ScalingConfig?.MaximumConcurrency !== undefined ? Number(p.ScalingConfig.MaximumConcurrency) : undefined,
      enabled: p.Enabled === undefined ? true : p.Enabled === true || p.Enabled === 'true',
      filters: (p.FilterCriteria?.Filters ?? []).map((f) => toPattern(JSON.parse(f.Pattern))),
    });
  }

  // Pipes.
  for (const [id, r] of byType(template, 'AWS::Pipes::Pipe')) {
    const p = r.Properties ?? {};
    const tableId = refId(p.Source);
    const table = model.tables.find((t) => t.logicalId === tableId);
    if (!table || !/StreamArn/.test(JSON.stringify(p.Source))) {
      unsupported.push(`${id}: pipe source ${JSON.stringify(p.Source)} (the twin reads DynamoDB streams only)`);
      continue;
    }
    if (p.Enrichment) unsupported.push(`${id}: pipe enrichment`);
    const targetArn = String(R.resolve(p.Target));
    const bus = model.buses.find((b) => b.arn === targetArn);
    if (!bus) {
      unsupported.push(`${id}: pipe target ${targetArn} (the twin targets EventBridge buses only)`);
      continue;
    }
    const sp = R.resolve(p.SourceParameters ?? {});
    const ddb = sp.DynamoDBStreamParameters ?? {};
    const d = DEFAULTS.pipeDynamoDb;
    const tp = R.resolve(p.TargetParameters ?? {});
    model.pipes.push({
      logicalId: id,
      name: R.ref(id),
      arn: R.getAtt(id, 'Arn'),
      table: table.name,
      sourceArn: table.streamArnLocal,
      desiredState: R.resolve(p.DesiredState ?? 'RUNNING'),
      startingPosition: ddb.StartingPosition ?? 'LATEST',
      batchSize: Number(ddb.BatchSize ?? d.BatchSize),
      maximumBatchingWindowInSeconds: Number(ddb.MaximumBatchingWindowInSeconds ?? d.MaximumBatchingWindowInSeconds),
      maximumRetryAttempts: Number(ddb.MaximumRetryAttempts ?? d.MaximumRetryAttempts),
      maximumRecordAgeInSeconds: Number(ddb.MaximumRecordAgeInSeconds ?? d.MaximumRecordAgeInSeconds),
      onPartialBatchItemFailure: ddb.OnPartialBatchItemFailure,
      deadLetterQueue: ddb.DeadLetterConfig?.Arn ? queueNameOfArn(ddb.DeadLetterConfig.Arn) : undefined,
      filters: (sp.FilterCriteria?.Filters ?? []).map((f) => toPattern(JSON.parse(f.Pattern))),
      bus: bus.name,
      targetArn,
      inputTemplate: tp.InputTemplate,
      detailType: tp.EventBridgeEventBusParameters?.DetailType,
      source: tp.EventBridgeEventBusParameters?.Source,
      resources: tp.EventBridgeEventBusParameters?.Resources ?? [],
      time: tp.EventBridgeEventBusParameters?.Time,
    });
  }

  // Secrets (served through the Parameters and Secrets extension endpoint).
  for (const [id, r] of byType(template, 'AWS::SecretsManager::Secret')) {
    const p = r.Properties ?? {};
    model.secrets.push({ logicalId: id, arn: R.ref(id), name: p.Name ? R.resolve(p.Name) : R.generatedName(id), secretString: p.SecretString !== undefined ? R.resolve(p.SecretString) : undefined });
  }

  // The HTTP API.
  const apis = byType(template, 'AWS::ApiGatewayV2::Api');
  for (const [id, r] of byType(template, 'AWS::ApiGatewayV2::Api')) {
    if ((r.Properties?.ProtocolType ?? 'HTTP') !== 'HTTP') unsupported.push(`${id}: ${r.Properties.ProtocolType} API`);
  }
  if (apis.length > 1) unsupported.push(`${apis.length} HTTP APIs: the twin serves the first (${apis[0][0]})`);
  for (const [id] of byType(template, 'AWS::ApiGateway::RestApi')) unsupported.push(`${id}: REST API (v1)`);
  if (apis.length > 0) {
    const [apiId, apiRes] = apis[0];
    const integrations = {};
    for (const [id, r] of byType(template, 'AWS::ApiGatewayV2::Integration')) {
      if (refId(r.Properties?.ApiId) !== apiId) continue;
      const p = R.resolve(r.Properties);
      const fn = fnByRefValue(p.IntegrationUri);
      if (p.IntegrationType !== 'AWS_PROXY' || !fn) unsupported.push(`${id}: integration ${p.IntegrationType} ${p.IntegrationUri} (the twin proxies to Lambda functions only)`);
      integrations[R.ref(id)] = {
        logicalId: id,
        function: fn?.name,
        payloadFormatVersion: String(p.PayloadFormatVersion ?? '1.0'),
        timeoutMillis: Number(p.TimeoutInMillis ?? DEFAULTS.integrationTimeoutMillis),
      };
    }
    const authorizers = {};
    for (const [id, r] of byType(template, 'AWS::ApiGatewayV2::Authorizer')) {
      if (refId(r.Properties?.ApiId) !== apiId) continue;
      const p = r.Properties;
      const jwt = p.JwtConfiguration ?? {};
      // The issuer of a Cognito user pool (or any IdP) is replaced by the local issuer:
      // the data directory's key that `orderly token` signs with.
      authorizers[R.ref(id)] = {
        logicalId: id,
        type: p.AuthorizerType,
        name: R.resolve(p.Name),
        identitySource: R.resolve(p.IdentitySource ?? ['$request.header.Authorization']),
        templateIssuer: jwt.Issuer !== undefined ? R.resolve(jwt.Issuer) : undefined,
        audience: R.resolve(jwt.Audience ?? []),
      };
      if (p.AuthorizerType !== 'JWT') unsupported.push(`${id}: ${p.AuthorizerType} authorizer (the twin verifies JWT authorizers only)`);
    }
    const routes = [];
    for (const [id, r] of byType(template, 'AWS::ApiGatewayV2::Route')) {
      if (refId(r.Properties?.ApiId) !== apiId) continue;
      const p = R.resolve(r.Properties);
      const target = p.Target ? String(p.Target).replace(/^integrations\//, '') : undefined;
      const routeKey = p.RouteKey;
      const [method, routePath] = routeKey === '$default' ? ['ANY', null] : routeKey.split(' ');
      routes.push({
        logicalId: id,
        routeKey,
        method,
        path: routePath,
        authorizationType: p.AuthorizationType ?? 'NONE',
        authorizer: p.AuthorizerId ? authorizers[p.AuthorizerId] : undefined,
        scopes: p.AuthorizationScopes ?? [],
        integration: target ? integrations[target] : undefined,
      });
    }
    const stages = byType(template, 'AWS::ApiGatewayV2::Stage').filter(([, s]) => refId(s.Properties?.ApiId) === apiId);
    const stage = stages.length ? R.resolve(stages[0][1].Properties) : { StageName: '$default' };
    model.api = {
      logicalId: apiId,
      id: R.ref(apiId),
      name: R.resolve(apiRes.Properties?.Name),
      routes,
      authorizers: Object.values(authorizers),
      stage: stage.StageName,
      throttle: stage.DefaultRouteSettings ? { rateLimit: stage.DefaultRouteSettings.ThrottlingRateLimit, burstLimit: stage.DefaultRouteSettings.ThrottlingBurstLimit } : undefined,
    };
  }

  // What the twin deliberately does not emulate (reported once, not errors).
  const ignored = ['AWS::KMS::Key', 'AWS::KMS::Alias', 'AWS::IAM::Role', 'AWS::IAM::Policy', 'AWS::SQS::QueuePolicy', 'AWS::Logs::LogGroup', 'AWS::Lambda::Permission', 'AWS::CloudWatch::Alarm', 'AWS::CloudWatch::Dashboard', 'AWS::Logs::QueryDefinition', 'AWS::SNS::Topic', 'AWS::SNS::TopicPolicy', 'AWS::SNS::Subscription', 'AWS::Cognito::UserPool', 'AWS::Cognito::UserPoolClient', 'AWS::Cognito::UserPoolResourceServer', 'AWS::Cognito::UserPoolDomain', 'AWS::CDK::Metadata', 'AWS::Events::EventBusPolicy'];
  const handled = new Set(['AWS::DynamoDB::Table', 'AWS::SQS::Queue', 'AWS::Events::EventBus', 'AWS::Events::Archive', 'AWS::Events::Rule', 'AWS::Lambda::Function', 'AWS::Lambda::EventSourceMapping', 'AWS::Pipes::Pipe', 'AWS::SecretsManager::Secret', 'AWS::ApiGatewayV2::Api', 'AWS::ApiGatewayV2::Route', 'AWS::ApiGatewayV2::Integration', 'AWS::ApiGatewayV2::Authorizer', 'AWS::ApiGatewayV2::Stage']);
  model.notEmulated = {};
  for (const [, r] of Object.entries(template.Resources ?? {})) {
    if (handled.has(r.Type)) continue;
    if (!ignored.includes(r.Type)) unsupported.push(`a resource of type ${r.Type}`);
    model.notEmulated[r.Type] = (model.notEmulated[r.Type] ?? 0) + 1;
  }
  return model;
}

const RATE_UNIT_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/**
 * The period in ms of an EventBridge rate expression: rate(1 minute), rate(5 minutes), hours,
 * days. The unit is singular for 1 and plural otherwise, as EventBridge requires (it refuses
 * rate(1 minutes) and rate(5 hour), so the twin does too). Throws on anything else.
 */
export function rateMs(expression) {
  const m = /^rate\((\d+) (minute|hour|day)(s?)\)$/.exec(expression);
  if (!m) throw new Error(expression.startsWith('cron(') ? 'the twin runs rate(...) schedules only, not cron(...)' : 'not a rate(value unit) expression');
  const n = Number(m[1]);
  if (n < 1) throw new Error('the rate must be a positive integer');
  if ((n === 1) === (m[3] === 's')) throw new Error(n === 1 ? 'a rate of 1 takes a singular unit' : `a rate of ${n} takes a plural unit`);
  return n * RATE_UNIT_MS[m[2]];
}

/** EventBridge patterns arrive as objects; CloudFormation also allows a JSON string. */
function toPattern(p) {
  return typeof p === 'string' ? JSON.parse(p) : p;
}

/** The effective numbers the twin runs with: what the config-agreement test compares. */
export function effectiveConfig(model, { visibilityTimeoutCap, scheduleScale = 1 } = {}) {
  const queues = {};
  for (const q of model.queues) {
    queues[q.name] = {
      logicalId: q.logicalId,
      visibilityTimeout: q.visibilityTimeout,
      delaySeconds: q.delaySeconds,
      messageRetentionPeriod: q.messageRetentionPeriod,
      deadLetterQueue: q.redrive?.deadLetterQueue ?? null,
      maxReceiveCount: q.redrive?.maxReceiveCount ?? null,
      ...(visibilityTimeoutCap !== undefined ? { visibilityTimeoutCap } : {}),
    };
  }
  const mappings = {};
  for (const m of model.mappings) {
    mappings[m.logicalId] = {
      queue: m.queue,
      function: m.function,
      batchSize: m.batchSize,
      maximumBatchingWindowInSeconds: m.maximumBatchingWindowInSeconds,
      reportBatchItemFailures: m.reportBatchItemFailures,
      maximumConcurrency: m.maximumConcurrency ?? null,
    };
  }
  const functions = {};
  for (const f of model.functions) functions[f.name] = { logicalId: f.logicalId, handler: f.handler, timeout: f.timeout, memorySize: f.memorySize };
  const pipes = {};
  for (const p of model.pipes)
    pipes[p.name] = { logicalId: p.logicalId, table: p.table, bus: p.bus, batchSize: p.batchSize, maximumBatchingWindowInSeconds: p.maximumBatchingWindowInSeconds, maximumRetryAttempts: p.maximumRetryAttempts, deadLetterQueue: p.deadLetterQueue ?? null, startingPosition: p.startingPosition };
  const rules = {};
  for (const r of model.rules) rules[r.name] = { logicalId: r.logicalId, bus: r.bus, pattern: r.pattern, targets: r.targets.map((t) => t.queue ?? t.arn) };
  const schedules = {};
  for (const s of model.schedules)
    schedules[s.name] = {
      logicalId: s.logicalId,
      expression: s.expression,
      periodMs: s.periodMs,
      state: s.state,
      targets: s.targets.map((t) => ({ function: t.function, input: t.input ?? null })),
      ...(scheduleScale !== 1 ? { scheduleScale } : {}),
    };
  const routes = {};
  for (const r of model.api?.routes ?? []) routes[r.routeKey] = { function: r.integration?.function ?? null, authorizationType: r.authorizationType, scopes: r.scopes, timeoutMillis: r.integration?.timeoutMillis ?? null };
  return { queues, mappings, functions, pipes, rules, schedules, routes };
}

/** Maps every file asset's S3 key (`<hash>.zip`) to its staged path in the cloud assembly. */
export function readAssets(assetManifests) {
  const out = {};
  for (const file of assetManifests) {
    if (!existsSync(file)) continue;
    const m = JSON.parse(readFileSync(file, 'utf8'));
    for (const [, a] of Object.entries(m.files ?? {})) {
      const src = path.join(path.dirname(file), a.source.path);
      for (const d of Object.values(a.destinations ?? {})) out[d.objectKey] = src;
    }
  }
  return out;
}
