// The Lambda bootstraps, run by `orderly invoke` under the project's local
// Runtime API (the documented protocol) on real events:
// - every API Gateway v2 event in tests/fixtures/aws-events (the repository's
//   own, written from AWS's documented formats) gets a v2 answer (problem+json
//   404 for the events' routes, which are not ours); so does every one of AWS's
//   published samples in ORDERLY_SHARED_FIXTURES_DIR (../shared/fixtures/aws-events)
//   when that folder is there, and the test says why it skips when it is not;
// - a whole flow through the handlers: a ProductUpdated event fed to the orders
//   events handler as SQS delivers it (EventBridge envelope, outbox-pipe
//   shape), then POST /v1/orders and GET /v1/orders/{id} through the api
//   handler with the JWT authorizer's claims, on DynamoDB Local;
// - bad input: a malformed SQS message is listed in batchItemFailures and the
//   good one beside it is not; a non-JSON event is a function error; an
//   unknown _HANDLER is an init error. None of them crashes.
//
//   ORDERLY_BIN=build/bin/orderly ORDERLY_CONTRACT_DUMP=build/tests/contract_dump \
//   ORDERLY_SHARED_FIXTURES_DIR=../shared/fixtures/aws-events node --test tests/lambda/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { dynamodbLocal } from '../support/dynamodb-local-for-test.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = process.env.ORDERLY_BIN;
const DUMP = process.env.ORDERLY_CONTRACT_DUMP;
const FIXTURES = process.env.ORDERLY_FIXTURES_DIR ?? join(here, '../fixtures/aws-events');
// AWS's published samples, an extra oracle: only where the environment names them.
const SHARED = process.env.ORDERLY_SHARED_FIXTURES_DIR;
assert.ok(BIN, 'ORDERLY_BIN must name build/bin/orderly');
assert.ok(DUMP, 'ORDERLY_CONTRACT_DUMP must name build/tests/contract_dump');

const work = mkdtempSync(join(tmpdir(), 'orderly-invoke-'));
after(() => rmSync(work, { recursive: true, force: true }));

// The bootstraps' only store is DynamoDB (no SQLite in them: ADR 0018). Every
// invocation here runs on DynamoDB Local, each group of them on a table of its own.
let ddb;
before(async () => {
  ddb = await dynamodbLocal();
});
after(() => ddb?.stop());
function store(name) {
  return ['--store', 'dynamodb-endpoint', ddb.url, '--table', `${name}-${randomUUID().slice(0, 8)}`];
}

function invoke(service, handler, event, extra = [], env = process.env) {
  const file = join(work, `event-${randomUUID()}.json`);
  writeFileSync(file, typeof event === 'string' ? event : JSON.stringify(event));
  const r = spawnSync(BIN, ['invoke', service, '--handler', handler, '--event', file, ...extra], {
    encoding: 'utf8',
    timeout: 60_000,
    env,
  });
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr };
}
function answer(r) {
  assert.equal(r.status, 0, `invoke failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout);
}

// The ProductUpdated samples the C++ services really emit.
let productUpdated;
before(() => {
  const dir = join(work, 'dump');
  execFileSync(DUMP, ['--out', dir], { stdio: 'pipe' });
  productUpdated = JSON.parse(readFileSync(join(dir, 'samples', 'orderly.inventory.ProductUpdated.v1.json'), 'utf8'));
});

function sqsEvent(bodies) {
  return {
    Records: bodies.map((body, i) => ({
      messageId: `msg-${i}`,
      receiptHandle: `rh-${i}`,
      body,
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1700000000000' },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:orderly-orders-catalogue',
      awsRegion: 'us-east-1',
    })),
  };
}
// As the outbox pipe puts it on the bus and the rule delivers it to SQS (ADR 0005).
const viaBus = (ce) =>
  JSON.stringify({ version: '0', id: randomUUID(), 'detail-type': ce.type, source: ce.source, account: '000000000000',
    time: ce.time, region: 'us-east-1', resources: [], detail: { event: { S: JSON.stringify(ce) } } });

function apiEvent(method, path, { body, sub = 'alice', scope = 'orderly/orders:read orderly/orders:write', headers = {} } = {}) {
  const sample = JSON.parse(readFileSync(join(FIXTURES, 'apigw-v2-jwt-authorizer.json'), 'utf8'));
  sample.routeKey = `${method} ${path}`;
  sample.rawPath = path;
  sample.rawQueryString = '';
  delete sample.queryStringParameters;
  delete sample.pathParameters;
  sample.headers = { 'content-type': 'application/json', ...headers };
  sample.requestContext.http.method = method;
  sample.requestContext.http.path = path;
  sample.requestContext.requestId = randomUUID();
  sample.requestContext.authorizer = { jwt: { claims: { sub, scope }, scopes: null } };
  sample.body = body === undefined ? undefined : JSON.stringify(body);
  sample.isBase64Encoded = false;
  return sample;
}

function everyApiGatewaySample(dir) {
  const sampleStore = store('samples');
  const samples = readdirSync(dir).filter((f) => /apigw-v2|ApiGatewayProxyV2/i.test(f));
  assert.ok(samples.length >= 3, `found ${samples}`);
  for (const f of samples) {
    const a = answer(invoke('orders', 'api', readFileSync(join(dir, f), 'utf8'), sampleStore));
    assert.equal(typeof a.statusCode, 'number', f);
    assert.equal(a.isBase64Encoded, false, f);
    assert.ok(a.statusCode === 404 || a.statusCode === 405, `${f}: ${a.statusCode}`);
    assert.equal(a.headers['Content-Type'], 'application/problem+json', f);
    const problem = JSON.parse(a.body);
    assert.equal(problem.status, a.statusCode, f);
  }
}

test('every API Gateway v2 event of the repository gets a v2 answer with problem+json', () => {
  everyApiGatewaySample(FIXTURES);
});

test("every one of AWS's published API Gateway v2 samples gets a v2 answer with problem+json", (t) => {
  if (!SHARED) {
    t.skip('ORDERLY_SHARED_FIXTURES_DIR is not set, so there are no AWS published samples to run; the repository\'s own events ran');
    return;
  }
  if (!existsSync(SHARED)) {
    t.skip(`AWS's published samples are not present at ${SHARED} (a clone without the sibling ../shared folder); the repository's own events ran`);
    return;
  }
  everyApiGatewaySample(SHARED);
});

function wholeFlow(storeArgs, dataDir) {
  // 1. The orders service learns a product from the catalogue event.
  const fed = answer(invoke('orders', 'events', sqsEvent([viaBus(productUpdated)]), storeArgs));
  assert.deepEqual(fed, { batchItemFailures: [] });
  const sku = productUpdated.data.sku;
  // 2. A customer orders it, through the api handler.
  const order = {
    items: [{ sku, quantity: 1 }],
    paymentToken: 'tok_ok',
    shippingAddress: { name: 'Ada', line1: '1 Loop Rd', city: 'Leeds', postalCode: 'LS1 1AA', country: 'GB' },
  };
  const placed = answer(invoke('orders', 'api', apiEvent('POST', '/v1/orders', { body: order, headers: { 'idempotency-key': randomUUID() } }), storeArgs));
  assert.ok(placed.statusCode === 201 || placed.statusCode === 202, JSON.stringify(placed));
  const id = JSON.parse(placed.body).orderId;
  assert.ok(id, placed.body);
  // 3. She reads it back; another customer cannot.
  const got = answer(invoke('orders', 'api', apiEvent('GET', `/v1/orders/${id}`), storeArgs));
  assert.equal(got.statusCode, 200, got.body);
  assert.equal(JSON.parse(got.body).status, 'PENDING');
  const other = answer(invoke('orders', 'api', apiEvent('GET', `/v1/orders/${id}`, { sub: 'mallory' }), storeArgs));
  assert.equal(other.statusCode, 404, other.body);
  // 4. Without the scope, 403.
  const noScope = answer(invoke('orders', 'api', apiEvent('POST', '/v1/orders', { body: order, scope: 'orderly/orders:read' }), storeArgs));
  assert.equal(noScope.statusCode, 403, noScope.body);
  return dataDir;
}

// Every handler commits its state, outbox and inbox marker in one
// TransactWriteItems: on DynamoDB Local a whole flow, and the order's
// OrderPlaced is in the table's outbox, where the pipe reads it.
test('a whole flow through the handlers on DynamoDB Local (--store dynamodb-endpoint)', async () => {
  {
    const table = `orders-invoke-${randomUUID().slice(0, 8)}`;
    const url = ddb.url;
    // DynamoDB Local runs in its own process, so these synchronous invocations do not starve it.
    wholeFlow(['--store', 'dynamodb-endpoint', url, '--table', table], null);
    const scan = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.Query',
        authorization: 'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: JSON.stringify({ TableName: table, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'OUTBOX' } } }),
    }).then((r) => r.json());
    const types = (scan.Items ?? []).map((i) => JSON.parse(i.event.S).type);
    assert.ok(types.includes('orderly.orders.OrderPlaced.v1'), JSON.stringify(scan).slice(0, 500));
  }
});

// The README's command: with no --store, invoke starts a DynamoDB Local of its
// own for the one invocation (empty: inventory seeds its catalogue at init) and
// stops it afterwards.
test('with no --store, invoke runs the bootstrap on a DynamoDB Local of its own, and stops it', () => {
  const ev = apiEvent('GET', '/v1/products');
  const r = invoke('inventory', 'api', ev, []);
  const a = answer(r);
  assert.equal(a.statusCode, 200, a.body);
  assert.ok(JSON.parse(a.body).items.length > 0, a.body);
  const m = /DynamoDB Local for this invocation on (http:\/\/127\.0\.0\.1:\d+)/.exec(r.stderr);
  assert.ok(m, r.stderr);
  assert.notEqual(m[1], ddb.url);
  // Stopped: nothing answers there any more.
  const probe = spawnSync('node', ['-e', `fetch(${JSON.stringify(m[1])}).then(() => process.exit(0), () => process.exit(3))`]);
  assert.equal(probe.status, 3, `DynamoDB Local still answers at ${m[1]} after invoke returned`);
  // A store spec it does not know is refused, not ignored.
  const bad = invoke('inventory', 'api', ev, ['--store', 'sqlite']);
  assert.notEqual(bad.status, 0, bad.stderr);
  assert.match(bad.stderr, /--store/);
  assert.equal(bad.stdout, '');
});

test('bad input: one malformed SQS message fails alone; junk events and handlers fail cleanly', () => {
  const dir = store('bad');
  const a = answer(invoke('orders', 'events', sqsEvent([viaBus(productUpdated), '{"specversion":"1.0"', viaBus({ ...productUpdated, specversion: '0.3' })]), dir));
  assert.deepEqual(a.batchItemFailures.map((f) => f.itemIdentifier).sort(), ['msg-1', 'msg-2']);

  const junk = invoke('orders', 'events', 'this is not json', dir);
  assert.equal(junk.status, 1);
  const err = JSON.parse(junk.stdout);
  assert.match(err.errorType, /^Orderly\./);
  assert.match(err.errorMessage, /not JSON/);

  const noBatch = invoke('payments', 'events', { hello: 'world' }, dir);
  assert.equal(noBatch.status, 1);
  assert.match(JSON.parse(noBatch.stdout).errorMessage, /Records/);

  const wrong = invoke('payments', 'api', { Records: [] }, dir);  // payments has no api handler
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /init error/);
  assert.match(JSON.parse(wrong.stdout).errorMessage, /_HANDLER=api/);
});

test('the bootstrap is ready in well under a second and exits cleanly on SIGTERM', () => {
  const r = invoke('shipping', 'events', sqsEvent([]), [...store('timing'), '--timing']);
  assert.equal(r.status, 0, r.stderr);
  const m = /init_ms=([\d.]+) idle_rss_kb=(\d+)/.exec(r.stderr);
  assert.ok(m, r.stderr);
  assert.ok(Number(m[1]) > 0 && Number(m[1]) < 1000, `init ${m[1]} ms`);
  assert.ok(Number(m[2]) > 0, 'idle RSS read');
});

test('in Lambda: JSON logs with the request id and cold_start, EMF metrics per invocation', () => {
  const r = invoke('orders', 'events', sqsEvent([viaBus(productUpdated)]), store('emf'));
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const emf = lines.filter((o) => o._aws);
  const metric = (name) => emf.find((o) => o._aws.CloudWatchMetrics[0].Metrics[0].Name === name);
  const consumed = metric('events_consumed_total');
  assert.ok(consumed, `no events_consumed_total in ${JSON.stringify(emf)}`);
  assert.equal(consumed._aws.CloudWatchMetrics[0].Namespace, 'Orderly');
  assert.deepEqual(consumed._aws.CloudWatchMetrics[0].Dimensions, [['service', 'rule', 'outcome']]);
  assert.equal(consumed.service, 'orders');
  assert.equal(consumed.rule, 'orders.catalogue');
  assert.equal(consumed.outcome, 'ok');
  assert.equal(consumed.events_consumed_total, 1);
  assert.equal(metric('cold_starts_total')?.cold_starts_total, 1);
  assert.ok(Array.isArray(metric('event_handler_duration_seconds')?.event_handler_duration_seconds));
  const span = lines.find((o) => o.message === 'span' && o.kind === 'consumer');
  assert.ok(span, 'a consumer span record');
  assert.equal(span.cold_start, true);
  assert.match(span.request_id, /^[0-9a-f-]{36}$/);
  assert.equal(span.trace_id, productUpdated.traceparent?.slice(3, 35) ?? span.trace_id);
  assert.equal(span.function, 'orderly-orders-events');
});

// The payments function reads its provider key through the Parameters and
// Secrets extension, here a stand-in process (the real one exists only in Lambda).
async function fakeExtension(args, token) {
  const child = spawn('node', [join(here, '../support/fake-secrets-extension.mjs'), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, EXPECTED_TOKEN: token },
  });
  const port = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      const m = /listening (\d+)/.exec(d.toString());
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (c) => reject(new Error(`extension stand-in exited ${c}`)));
  });
  return { port, stop: () => child.kill('SIGTERM') };
}

test('payments reads its provider key through the secrets extension, and never logs it', async () => {
  const arn = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:orderly/payments/provider-key-AbCdEf';
  const secret = 'sk_live_do_not_log_me_42';
  const ext = await fakeExtension(['--secret-id', arn, '--value', secret], 'session-token-1');
  try {
    const env = { ...process.env, ORDERLY_PAYMENT_SECRET_ARN: arn, PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String(ext.port), AWS_SESSION_TOKEN: 'session-token-1' };
    const ok = invoke('payments', 'events', sqsEvent([]), store('secret'), env);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stderr, /payment provider key loaded/);
    assert.ok(!ok.stderr.includes(secret) && !ok.stdout.includes(secret), 'the key was logged');
    // The wrong session token is refused by the extension: an init error, not a silent start.
    const bad = invoke('payments', 'events', sqsEvent([]), store('secret'), { ...env, AWS_SESSION_TOKEN: 'stolen' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /init error/);
    assert.match(JSON.parse(bad.stdout).errorMessage, /secrets extension answered HTTP 401/);
  } finally {
    ext.stop();
  }
});
