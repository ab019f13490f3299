#!/usr/bin/env node
// aws-local: the AWS-local twin of Orderly's Lambda build, like `sam local` for SAM.
//
// A LOCAL TWIN FOR DEVELOPMENT AND TESTS, NOT A PRODUCTION ENGINE. It runs the stack the
// CDK app synthesizes (infra/, the one source of truth) on one machine: the tables on
// DynamoDB Local (AWS's own engine), the five real bootstraps (build/lambda) under a local
// Lambda Runtime API, the outbox pipes, the EventBridge rules (and rate schedules that invoke
// functions), SQS queues with their redrive policies, Lambda's SQS event source mappings, and
// the HTTP API with its JWT authorizer. Every number (visibility timeouts, maxReceiveCount,
// delays, batch sizes and windows, function timeouts, schedule periods, routes and scopes) is
// read from the synthesized template.
// What differs from AWS: docs/adr/0014-aws-local-twin.md and docs/operations.md.
//
//   node tools/aws-local/twin.mjs --data-dir DIR --port N [--lambda-dir build/lambda]
//
// Prints `aws-local ready http://127.0.0.1:PORT ...` once everything answers; the
// functions' output goes to DIR/logs/. Stops everything it started on SIGINT, SIGTERM or
// when its stdin closes (--ignore-stdin to run without a stdin).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpApi } from './lib/apigw.mjs';
import { createTable, Ddb } from './lib/ddb.mjs';
import { SqsEventSourceMapping } from './lib/esm.mjs';
import { EventBus } from './lib/events.mjs';
import { loadOrCreateKey } from './lib/jwt.mjs';
import { LambdaService } from './lib/lambda.mjs';
import { DynamoDbStreamPipe } from './lib/pipes.mjs';
import { ScheduledRule } from './lib/schedules.mjs';
import { SqsService } from './lib/sqs.mjs';
import { buildModel, effectiveConfig, readAssets, readCloudAssembly, synth, synthInputsDigest } from './lib/template.mjs';
import { unpack } from './lib/zip.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..');
// The web console's files and the headers `orderly up` sends with them
// (hosts/embedded/include/orderly/hosts/embedded/console.hpp, kConsoleCsp).
export const CONSOLE = {
  dir: path.join(REPO_ROOT, 'hosts', 'embedded', 'console'),
  headers: {
    'content-security-policy':
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
  },
};

export const USAGE = `usage: node tools/aws-local/twin.mjs [options]

  --data-dir DIR            logs, the JWT key (shared with \`orderly token\`), state (.orderly)
  --port N                  HTTP API port on 127.0.0.1 (8080; 0: any free port)
  --lambda-dir DIR          Lambda packages for the CDK app (build/lambda)
  --context KEY=VALUE       CDK context for the synth (repeatable), e.g. stage=dev
  --cdk-out DIR             use an existing cloud assembly instead of synthesizing
  --stack NAME              the stack to run when the app has several
  --admin-port N            read-only admin endpoints (0: any free port)
  --sqs-port N              the SQS endpoint given to functions (0: any free port)
  --dynamodb-endpoint URL   use a running DynamoDB Local instead of starting one
  --region R, --account A   the local region and account (us-east-1, 000000000000)
  --issuer I, --audience A  the local JWT issuer and audience (orderly-local, orderly-api)
  --secret NAME=VALUE       a secret's value (default: random, like GenerateSecretString)
  --max-sandboxes N         sandboxes per function at most (4)
  --pollers N               concurrent batches per SQS event source mapping (2)
  --prewarm                 start one sandbox per function at once
  --visibility-timeout-cap S  TEST KNOB: cap every visibility timeout at S seconds
  --schedule-scale F        TEST KNOB: run schedules every period x F (1; 0.02: 60 min is 72 s)
  --no-synth-cache          synthesize even when no input changed since the last start
  --ignore-stdin            do not stop when stdin closes
`;

export function parseArgs(argv) {
  const o = {
    dataDir: '.orderly',
    port: 8080,
    lambdaDir: path.join(REPO_ROOT, 'build', 'lambda'),
    context: {},
    adminPort: 0,
    sqsPort: 0,
    region: 'us-east-1',
    account: '000000000000',
    issuer: 'orderly-local',
    audience: 'orderly-api',
    secrets: {},
    maxSandboxes: 4,
    pollers: 2,
    prewarm: false,
    scheduleScale: 1,
    ignoreStdin: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const kv = () => {
      const v = val();
      const eq = v.indexOf('=');
      if (eq < 1) throw new Error(`${a} expects KEY=VALUE, got ${v}`);
      return [v.slice(0, eq), v.slice(eq + 1)];
    };
    switch (a) {
      case '--data-dir':
        o.dataDir = val();
        break;
      case '--port':
        o.port = Number(val());
        break;
      case '--lambda-dir':
        o.lambdaDir = path.resolve(val());
        break;
      case '--context':
      case '-c': {
        const [k, v] = kv();
        o.context[k] = v;
        break;
      }
      case '--cdk-out':
        o.cdkOut = path.resolve(val());
        break;
      case '--stack':
        o.stack = val();
        break;
      case '--admin-port':
        o.adminPort = Number(val());
        break;
      case '--sqs-port':
        o.sqsPort = Number(val());
        break;
      case '--dynamodb-endpoint':
        o.ddbEndpoint = val();
        break;
      case '--region':
        o.region = val();
        break;
      case '--account':
        o.account = val();
        break;
      case '--issuer':
        o.issuer = val();
        break;
      case '--audience':
        o.audience = val();
        break;
      case '--secret': {
        const [k, v] = kv();
        o.secrets[k] = v;
        break;
      }
      case '--max-sandboxes':
        o.maxSandboxes = Number(val());
        break;
      case '--pollers':
        o.pollers = Number(val());
        break;
      case '--prewarm':
        o.prewarm = true;
        break;
      case '--visibility-timeout-cap':
        o.visibilityTimeoutCap = Number(val());
        break;
      case '--schedule-scale':
        o.scheduleScale = Number(val());
        break;
      case '--no-synth-cache':
        o.noSynthCache = true;
        break;
      case '--ignore-stdin':
        o.ignoreStdin = true;
        break;
      case '-h':
      case '--help':
        o.help = true;
        break;
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  for (const [k, v] of Object.entries({ port: o.port, adminPort: o.adminPort, sqsPort: o.sqsPort, maxSandboxes: o.maxSandboxes, pollers: o.pollers }))
    if (!Number.isInteger(v) || v < 0) throw new Error(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a non-negative integer`);
  if (o.visibilityTimeoutCap !== undefined && !(Number.isInteger(o.visibilityTimeoutCap) && o.visibilityTimeoutCap >= 0)) throw new Error('--visibility-timeout-cap must be a non-negative integer');
  if (!(Number.isFinite(o.scheduleScale) && o.scheduleScale > 0)) throw new Error('--schedule-scale must be a positive number');
  o.dataDir = path.resolve(o.dataDir);
  return o;
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server.address().port));
  });
}

/** Starts DynamoDB Local through tests/support/dynamodb-local.mjs; resolves its port. */
function startDynamoDbLocal(logFile) {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'tests', 'support', 'dynamodb-local.mjs'), '--port', '0'], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.on('data', (d) => appendFileSync(logFile, d));
  const ready = new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => {
      let tail = '';
      try {
        tail = readFileSync(logFile, 'utf8').slice(-800);
      } catch {
        /* no log */
      }
      reject(new Error(`DynamoDB Local exited (${code}) before it answered (${logFile}):\n${tail}`));
    });
  });
  ready.catch(() => {}); // awaited later, or never when the synth fails first
  return { child, ready };
}

export class Twin {
  constructor(opts) {
    this.o = opts;
    this.dir = opts.dataDir;
    this.stateDir = path.join(this.dir, 'aws-local');
    this.logDir = path.join(this.dir, 'logs');
    this.closers = [];
    this.stopped = false;
  }

  log(line) {
    appendFileSync(path.join(this.logDir, 'aws-local.log'), `${new Date().toISOString()} ${line}\n`);
  }

  async start() {
    const o = this.o;
    mkdirSync(this.stateDir, { recursive: true });
    mkdirSync(this.logDir, { recursive: true });
    const t0 = Date.now();

    // 1. DynamoDB Local and the synth, side by side (both take seconds).
    let ddbProc;
    let ddbPort;
    if (!o.ddbEndpoint) {
      const d = startDynamoDbLocal(path.join(this.logDir, 'dynamodb-local.log'));
      ddbProc = d.child;
      this.ddbProc = ddbProc;
      ddbPort = d.ready;
    }
    let assembly;
    let stacks;
    if (o.cdkOut) {
      assembly = o.cdkOut;
      stacks = readCloudAssembly(o.cdkOut);
    } else {
      // The cloud assembly is kept in DIR/aws-local/cdk.out with a digest of every input of
      // the synth; the next start with the same inputs reuses it (--no-synth-cache: never).
      const infraDir = path.join(REPO_ROOT, 'infra');
      if (!existsSync(path.join(infraDir, 'node_modules'))) throw new Error(`${infraDir}/node_modules is missing: run \`npm ci\` in infra/ (make infra-test does)`);
      const outdir = path.join(this.stateDir, 'cdk.out');
      const digestFile = path.join(this.stateDir, 'cdk.out.digest');
      const digest = synthInputsDigest({ infraDir, lambdaDir: o.lambdaDir, context: o.context });
      const cached = !o.noSynthCache && existsSync(digestFile) && readFileSync(digestFile, 'utf8') === digest && existsSync(path.join(outdir, 'manifest.json'));
      if (cached) {
        this.log(`synth: inputs unchanged, reusing ${outdir}`);
      } else {
        rmSync(digestFile, { force: true });
        rmSync(outdir, { recursive: true, force: true });
        this.synthAbort = new AbortController();
        await synth({ infraDir, lambdaDir: o.lambdaDir, context: o.context, log: (l) => this.log(l), signal: this.synthAbort.signal, outdir });
        writeFileSync(digestFile, digest);
      }
      assembly = outdir;
      stacks = readCloudAssembly(outdir);
    }
    const stack = o.stack ? stacks.find((s) => s.name === o.stack || s.stackName === o.stack) : stacks.length === 1 ? stacks[0] : undefined;
    if (!stack) throw new Error(`choose a stack with --stack: ${stacks.map((s) => s.name).join(', ') || 'the app has none'}`);
    const template = JSON.parse(readFileSync(stack.templateFile, 'utf8'));
    writeFileSync(path.join(this.stateDir, 'template.json'), JSON.stringify(template, null, 1));
    const model = buildModel(template, {
      region: o.region,
      account: o.account,
      stackName: stack.stackName,
      audience: o.audience,
      assets: readAssets(stack.assetManifests),
      outdir: assembly,
    });
    this.model = model;
    for (const u of model.unsupported) process.stderr.write(`aws-local: not emulated: ${u}\n`);
    this.log(`template ${stack.templateFile}: ${model.tables.length} tables, ${model.queues.length} queues, ${model.rules.length} rules, ${model.schedules.length} schedules, ${model.pipes.length} pipes, ${model.functions.length} functions, ${model.mappings.length} event source mappings, ${model.api?.routes.length ?? 0} routes`);

    // 2. Function code: each function's deployment package, unpacked once.
    const codeCache = path.join(this.stateDir, 'code');
    this.codeDirs = new Map();
    for (const f of model.functions) {
      if (f.zip) this.codeDirs.set(f.name, unpack(f.zip, codeCache));
      else if (f.codeDir) this.codeDirs.set(f.name, f.codeDir);
    }

    // 3. Tables.
    const ddbEndpoint = o.ddbEndpoint ?? `http://127.0.0.1:${await ddbPort}`;
    this.ddbEndpoint = ddbEndpoint;
    const ddb = new Ddb(ddbEndpoint, o.region);
    this.ddb = ddb;
    for (const t of model.tables) await createTable(ddb, t);

    // 4. Local endpoints: SQS, the secrets extension, admin.
    this.sqs = new SqsService({ model, log: (l) => this.log(l), visibilityTimeoutCap: o.visibilityTimeoutCap });
    const sqsServer = http.createServer((req, res) => this.sqs.handle(req, res));
    this.sqsPort = await listen(sqsServer, o.sqsPort);
    this.closers.push(() => new Promise((r) => (sqsServer.closeAllConnections?.(), sqsServer.close(() => r()))));

    this.sessionToken = `aws-local-${randomBytes(16).toString('hex')}`;
    this.secretValues = new Map();
    for (const s of model.secrets) this.secretValues.set(s.arn, { name: s.name, value: o.secrets[s.name] ?? s.secretString ?? randomBytes(24).toString('base64url') });
    const secretsServer = http.createServer((req, res) => this.secretsExtension(req, res));
    this.secretsPort = await listen(secretsServer, 0);
    this.closers.push(() => new Promise((r) => (secretsServer.closeAllConnections?.(), secretsServer.close(() => r()))));

    // 5. Lambda, the bus, the pipes, the event source mappings, the schedules (started once
    // the twin is ready: their first tick is one period after that).
    this.lambda = new LambdaService({
      model,
      logDir: this.logDir,
      maxSandboxes: o.maxSandboxes,
      environment: (f, port) => this.environment(f, port),
      codeDir: (f) => this.codeDirs.get(f.name),
    });
    this.bus = new EventBus({ model, sqs: this.sqs, log: (l) => this.log(l) });
    this.pipes = model.pipes.map((p) => new DynamoDbStreamPipe({ pipe: p, ddb, bus: this.bus, sqs: this.sqs, region: o.region, account: o.account, log: (l) => this.log(l) }));
    this.mappings = model.mappings.map((m) => new SqsEventSourceMapping({ mapping: m, sqs: this.sqs, lambda: this.lambda, region: o.region, log: (l) => this.log(l), pollers: o.pollers }));
    this.schedules = model.schedules.map((s) => new ScheduledRule({ schedule: s, lambda: this.lambda, region: o.region, account: o.account, scale: o.scheduleScale, log: (l) => this.log(l) }));
    for (const p of this.pipes) p.start();
    for (const m of this.mappings) m.start();
    if (o.prewarm) this.lambda.prewarm();

    // 6. The HTTP API and the admin endpoints.
    this.key = loadOrCreateKey(this.dir);
    const accessLog = path.join(this.logDir, 'api-access.log');
    this.api = new HttpApi({
      model,
      lambda: this.lambda,
      auth: { keys: this.key.jwks, issuer: o.issuer, audience: [o.audience] },
      log: (l) => this.log(l),
      accessLog: (rec) => appendFileSync(accessLog, `${JSON.stringify(rec)}\n`),
      console: CONSOLE,
    });
    this.apiPort = model.api ? await this.api.listen(o.port) : null;
    const admin = http.createServer((req, res) => this.admin(req, res));
    this.adminPort = await listen(admin, o.adminPort);
    this.closers.push(() => new Promise((r) => (admin.closeAllConnections?.(), admin.close(() => r()))));

    this.endpoints = {
      api: this.apiPort ? `http://127.0.0.1:${this.apiPort}` : null,
      admin: `http://127.0.0.1:${this.adminPort}`,
      sqs: `http://127.0.0.1:${this.sqsPort}`,
      dynamodb: ddbEndpoint,
      secretsExtension: `http://localhost:${this.secretsPort}`,
      issuer: o.issuer,
      audience: o.audience,
      dataDir: this.dir,
      logs: this.logDir,
      stack: stack.stackName,
      tables: Object.fromEntries(model.tables.map((t) => [t.logicalId, t.name])),
      queues: Object.fromEntries(model.queues.map((q) => [q.name, q.url])),
      functions: model.functions.map((f) => f.name),
      startupSeconds: (Date.now() - t0) / 1000,
    };
    writeFileSync(path.join(this.stateDir, 'endpoints.json'), JSON.stringify(this.endpoints, null, 2));
    for (const s of this.schedules) s.start();
    this.log(`ready in ${this.endpoints.startupSeconds.toFixed(1)} s: ${JSON.stringify(this.endpoints)}`);
    return this.endpoints;
  }

  environment(f, runtimePort) {
    const code = this.codeDirs.get(f.name);
    const env = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      LANG: 'en_US.UTF-8',
      TZ: ':UTC',
      LD_LIBRARY_PATH: `${code}/lib:${code}`,
      ...f.environment,
      AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${runtimePort}`,
      _HANDLER: f.handler,
      AWS_REGION: this.o.region,
      AWS_DEFAULT_REGION: this.o.region,
      AWS_EXECUTION_ENV: `AWS_Lambda_${f.runtime ?? 'provided'}`,
      AWS_LAMBDA_FUNCTION_NAME: f.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(f.memorySize),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_LAMBDA_LOG_GROUP_NAME: f.logGroup,
      AWS_LAMBDA_LOG_STREAM_NAME: `aws-local/${process.pid}`,
      ...(f.logFormat === 'JSON' ? { AWS_LAMBDA_LOG_FORMAT: 'JSON' } : {}),
      LAMBDA_TASK_ROOT: code,
      LAMBDA_RUNTIME_DIR: code,
      // Fake credentials: nothing local checks them (no IAM).
      AWS_ACCESS_KEY_ID: 'ASIAAWSLOCALTWIN0000',
      AWS_SECRET_ACCESS_KEY: 'aws-local-twin-secret-access-key',
      AWS_SESSION_TOKEN: this.sessionToken,
      ORDERLY_DYNAMODB_ENDPOINT: this.ddbEndpoint,
      AWS_ENDPOINT_URL_DYNAMODB: this.ddbEndpoint,
      AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${this.sqsPort}`,
    };
    // The Parameters and Secrets extension (a layer on AWS) is served by the twin.
    const hasExtension = f.layers.some((l) => /Parameters-and-Secrets/i.test(String(l))) || 'PARAMETERS_SECRETS_EXTENSION_HTTP_PORT' in f.environment;
    if (hasExtension) env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT = String(this.secretsPort);
    // The AL2023 CA bundle path the stack sets does not exist on a Debian host.
    if (String(env.SSL_CERT_FILE ?? '').startsWith('/etc/pki') && !existsSync(env.SSL_CERT_FILE)) delete env.SSL_CERT_FILE;
    return env;
  }

  // GET /secretsmanager/get?secretId=ARN|NAME with X-Aws-Parameters-Secrets-Token, as the
  // AWS Parameters and Secrets Lambda Extension answers it.
  secretsExtension(req, res) {
    const url = new URL(req.url, 'http://localhost');
    const reply = (status, obj) => {
      const body = JSON.stringify(obj);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.headers['x-aws-parameters-secrets-token'] !== this.sessionToken) return reply(401, { message: 'missing or invalid X-Aws-Parameters-Secrets-Token' });
    if (req.method !== 'GET' || url.pathname !== '/secretsmanager/get') return reply(400, { message: `the twin serves /secretsmanager/get only, not ${url.pathname}` });
    const id = url.searchParams.get('secretId');
    const hit = [...this.secretValues].find(([arn, s]) => arn === id || s.name === id);
    if (!hit) return reply(400, { message: `ResourceNotFoundException: Secrets Manager can't find the specified secret (${id})` });
    const [arn, s] = hit;
    reply(200, { ARN: arn, Name: s.name, SecretString: s.value, VersionId: 'aws-local-v1', VersionStages: ['AWSCURRENT'], CreatedDate: new Date().toISOString() });
  }

  // Read-only admin endpoints (not on the API port).
  admin(req, res) {
    const url = new URL(req.url, 'http://localhost');
    const reply = (status, obj) => {
      const body = JSON.stringify(obj, null, 1);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.method !== 'GET') return reply(405, { message: 'the admin endpoints are read-only (GET)' });
    const p = url.pathname;
    if (p === '/' || p === '/healthz') return reply(200, { ok: true, endpoints: this.endpoints });
    if (p === '/config') return reply(200, effectiveConfig(this.model, { visibilityTimeoutCap: this.o.visibilityTimeoutCap, scheduleScale: this.o.scheduleScale }));
    if (p === '/.well-known/jwks.json') return reply(200, this.key.jwks);
    if (p === '/queues') {
      return reply(
        200,
        [...this.sqs.queues.values()].map((q) => ({
          name: q.name,
          url: q.def.url,
          arn: q.def.arn,
          ...q.counts(),
          deadLetterQueue: q.def.redrive?.deadLetterQueue ?? null,
          maxReceiveCount: q.def.redrive?.maxReceiveCount ?? null,
          stats: q.stats,
        })),
      );
    }
    const qm = /^\/queues\/([^/]+)\/messages$/.exec(p);
    if (qm) {
      const q = this.sqs.queue(decodeURIComponent(qm[1]));
      if (!q) return reply(404, { message: 'no such queue' });
      const now = Date.now();
      return reply(
        200,
        [...q.messages.values()].map((m) => ({
          messageId: m.messageId,
          body: m.body,
          receiveCount: m.receiveCount,
          sentTimestamp: m.sentTimestamp,
          state: m.visibleAt <= now ? 'visible' : m.inFlight ? 'in-flight' : 'delayed',
          attributes: m.attributes,
          systemAttributes: m.systemAttributes,
        })),
      );
    }
    if (p === '/functions') return reply(200, this.lambda.stats());
    if (p === '/mappings') return reply(200, Object.fromEntries(this.mappings.map((m) => [m.m.logicalId, { queue: m.m.queue, function: m.m.function, pollers: m.pollers, ...m.stats }])));
    if (p === '/pipes') return reply(200, Object.fromEntries(this.pipes.map((x) => [x.p.name, x.stats])));
    if (p === '/bus') return reply(200, { ...this.bus.stats, rules: this.bus.ruleStats, schedules: Object.fromEntries(this.schedules.map((s) => [s.s.name, s.stats])), archived: this.bus.archive.length });
    if (p === '/archive') {
      const dt = url.searchParams.get('detail-type');
      return reply(200, this.bus.archive.filter((a) => !dt || a.event['detail-type'] === dt).map((a) => a.event));
    }
    if (p === '/api') return reply(200, this.api.stats);
    if (p === '/sqs') return reply(200, this.sqs.stats);
    return reply(404, { message: `no admin endpoint ${p}` });
  }

  async stop() {
    if (this.stopped) return;
    this.stopped = true;
    this.synthAbort?.abort();
    await this.api?.close();
    // Pollers and schedules stop taking work; sandboxes get SIGTERM (SIGKILL after 2 s), which
    // settles the invocations they still wait for.
    const pollers = [...(this.mappings ?? []).map((m) => m.stop()), ...(this.pipes ?? []).map((p) => p.stop()), ...(this.schedules ?? []).map((s) => s.stop())];
    await this.lambda?.stop();
    await Promise.all(pollers);
    this.sqs?.close();
    for (const c of this.closers.reverse()) await c();
    if (this.ddbProc && this.ddbProc.exitCode === null) {
      const exited = new Promise((r) => this.ddbProc.once('exit', r));
      this.ddbProc.stdin.end(); // dynamodb-local.mjs stops the JVM when its stdin closes
      const t = setTimeout(() => this.ddbProc.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(t);
    }
    this.log('stopped');
  }

  /** Synchronous last resort on exit: nothing started here may outlive the twin. */
  killAll() {
    this.lambda?.killAll();
    if (this.ddbProc && this.ddbProc.exitCode === null) {
      try {
        this.ddbProc.stdin.end();
        this.ddbProc.kill('SIGTERM');
      } catch {
        /* gone */
      }
    }
  }
}

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`aws-local: ${err.message}\n${USAGE}`);
    process.exit(2);
  }
  if (o.help) {
    process.stdout.write(USAGE);
    return;
  }
  const twin = new Twin(o);
  let stopping = false;
  const stop = async (why) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`aws-local: stopping (${why})\n`);
    try {
      await twin.stop();
    } catch (err) {
      process.stderr.write(`aws-local: stop: ${err.message}\n`);
    }
    process.exit(0);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('exit', () => twin.killAll());
  if (!o.ignoreStdin) {
    process.stdin.on('end', () => stop('stdin closed'));
    process.stdin.on('error', () => stop('stdin closed'));
    process.stdin.resume();
  }
  try {
    const e = await twin.start();
    process.stdout.write(`aws-local ready ${e.api ?? '(no HTTP API)'} admin=${e.admin} sqs=${e.sqs} dynamodb=${e.dynamodb} logs=${e.logs}\n`);
  } catch (err) {
    process.stderr.write(`aws-local: ${err.stack ?? err.message}\n`);
    await twin.stop().catch(() => {});
    process.exit(1);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
