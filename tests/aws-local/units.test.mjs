// The AWS-local twin's parts, without DynamoDB Local or the C++ bootstraps (fast):
// EventBridge patterns and input templates, SQS queue semantics, Lambda's reading of a
// batch answer, the Lambda Runtime API and sandbox pool (with a Node test double as the
// bootstrap), the HTTP API (routing, JWT authorizer, payload 2.0, API Gateway's answers),
// scheduled rules (rate expressions, their timers), and the template resolver.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fillTemplate, jsonPath, matches } from '../../tools/aws-local/lib/events.mjs';
import { batchOutcome } from '../../tools/aws-local/lib/esm.mjs';
import { SqsService, lambdaRecord } from '../../tools/aws-local/lib/sqs.mjs';
import { LambdaService } from '../../tools/aws-local/lib/lambda.mjs';
import { HttpApi } from '../../tools/aws-local/lib/apigw.mjs';
import { issueToken, loadOrCreateKey } from '../../tools/aws-local/lib/jwt.mjs';
import { ScheduledRule } from '../../tools/aws-local/lib/schedules.mjs';
import { buildModel, effectiveConfig, rateMs, Resolver } from '../../tools/aws-local/lib/template.mjs';
import { CONSOLE, parseArgs } from '../../tools/aws-local/twin.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'aws-local-units-'));
after(() => rmSync(work, { recursive: true, force: true }));

describe('EventBridge event patterns', () => {
  const ev = {
    'detail-type': 'orderly.orders.OrderPlaced.v1',
    source: 'orderly.orders',
    detail: { n: 5, tags: ['a', 'b'], ip: '10.0.0.7', items: [{ sku: 'X' }, { sku: 'Y' }], nil: null, name: 'Alice' },
  };
  test('exact values, arrays in the event, nested objects', () => {
    assert.ok(matches({ 'detail-type': ['x', 'orderly.orders.OrderPlaced.v1'] }, ev));
    assert.ok(!matches({ 'detail-type': ['x'] }, ev));
    assert.ok(matches({ detail: { tags: ['b'] } }, ev));
    assert.ok(matches({ detail: { items: { sku: ['Y'] } } }, ev));
    assert.ok(!matches({ detail: { items: { sku: ['Z'] } } }, ev));
    assert.ok(matches({ detail: { n: [5] } }, ev));
    assert.ok(!matches({ detail: { n: ['5'] } }, ev), 'a number is not a string');
    assert.ok(matches({ detail: { nil: [null] } }, ev));
    assert.ok(!matches({ detail: { missing: [null] } }, ev), 'null matches a null value, not an absent one');
  });
  test('prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists, cidr, $or', () => {
    assert.ok(matches({ source: [{ prefix: 'orderly.' }] }, ev));
    assert.ok(!matches({ source: [{ prefix: 'other.' }] }, ev));
    assert.ok(matches({ source: [{ prefix: { 'equals-ignore-case': 'ORDERLY.' } }] }, ev));
    assert.ok(matches({ 'detail-type': [{ suffix: '.v1' }] }, ev));
    assert.ok(matches({ detail: { name: [{ 'equals-ignore-case': 'alice' }] } }, ev));
    assert.ok(matches({ 'detail-type': [{ wildcard: 'orderly.*.OrderPlaced.*' }] }, ev));
    assert.ok(!matches({ 'detail-type': [{ wildcard: 'orderly.*.OrderShipped.*' }] }, ev));
    assert.ok(matches({ source: [{ 'anything-but': ['orderly.payments'] }] }, ev));
    assert.ok(!matches({ source: [{ 'anything-but': 'orderly.orders' }] }, ev));
    assert.ok(!matches({ source: [{ 'anything-but': { prefix: 'orderly.' } }] }, ev));
    assert.ok(matches({ detail: { n: [{ numeric: ['>', 0, '<=', 5] }] } }, ev));
    assert.ok(!matches({ detail: { n: [{ numeric: ['<', 5] }] } }, ev));
    assert.ok(matches({ detail: { name: [{ exists: true }], nope: [{ exists: false }] } }, ev));
    assert.ok(!matches({ detail: { nope: [{ exists: true }] } }, ev));
    assert.ok(matches({ detail: { ip: [{ cidr: '10.0.0.0/24' }] } }, ev));
    assert.ok(matches({ $or: [{ source: ['x'] }, { detail: { n: [5] } }] }, ev));
    assert.ok(!matches({ $or: [{ source: ['x'] }, { detail: { n: [6] } }] }, ev));
  });
  test("the outbox pipe's filter: new OUTBOX items only", () => {
    const filter = { eventName: ['INSERT'], dynamodb: { Keys: { pk: { S: ['OUTBOX'] } } } };
    const rec = (eventName, pk) => ({ eventName, eventSource: 'aws:dynamodb', dynamodb: { Keys: { pk: { S: pk }, sk: { S: '1' } } } });
    assert.ok(matches(filter, rec('INSERT', 'OUTBOX')));
    assert.ok(!matches(filter, rec('REMOVE', 'OUTBOX')), 'a TTL removal is not an event');
    assert.ok(!matches(filter, rec('MODIFY', 'OUTBOX')));
    assert.ok(!matches(filter, rec('INSERT', 'ORDER#1')));
  });
});

describe('input templates', () => {
  const rec = { dynamodb: { NewImage: { event: { S: '{"id":"e1","data":{"note":"a \\"quoted\\" word"}}' }, type: { S: 'T' } } } };
  const lookup = (name) => ({ value: jsonPath(rec, name) });
  test("the stack's template puts the attribute value object in, as JSON", () => {
    const out = JSON.parse(fillTemplate('{"event": <$.dynamodb.NewImage.event>}', lookup));
    assert.deepEqual(out, { event: rec.dynamodb.NewImage.event });
    assert.deepEqual(JSON.parse(out.event.S), { id: 'e1', data: { note: 'a "quoted" word' } });
  });
  test('a string value is escaped inside quotes and quoted outside them; a missing one is null', () => {
    assert.deepEqual(JSON.parse(fillTemplate('{"s": "<$.dynamodb.NewImage.event.S>"}', lookup)), { s: rec.dynamodb.NewImage.event.S });
    assert.deepEqual(JSON.parse(fillTemplate('{"s": <$.dynamodb.NewImage.type.S>, "m": <$.nope>}', lookup)), { s: 'T', m: null });
    assert.equal(fillTemplate('Hello, <$.dynamodb.NewImage.type.S>', lookup), 'Hello, "T"');
    assert.equal(fillTemplate('{"a": "x < y", "b": "<aws.pipes.pipe-name>"}', (n) => (n === 'aws.pipes.pipe-name' ? { value: 'p1' } : { found: false })), '{"a": "x < y", "b": "p1"}');
  });
  test('JSON paths', () => {
    assert.equal(jsonPath({ a: [{ b: 1 }, { b: 2 }] }, '$.a[1].b'), 2);
    assert.equal(jsonPath({ 'a-b': { c: 3 } }, "$['a-b'].c"), 3);
    assert.equal(jsonPath({ a: 1 }, '$.x.y'), undefined);
    assert.deepEqual(jsonPath({ a: 1 }, '$'), { a: 1 });
  });
});

describe("Lambda's reading of an SQS batch answer (ReportBatchItemFailures)", () => {
  const ids = new Set(['m1', 'm2']);
  test('complete success', () => {
    for (const p of ['{"batchItemFailures":[]}', '{"batchItemFailures":null}', '{}', 'null']) assert.equal(batchOutcome(p, ids), 'all', p);
  });
  test('complete failure', () => {
    for (const p of ['not json', '{"batchItemFailures":[{"itemIdentifier":""}]}', '{"batchItemFailures":[{"itemIdentifier":null}]}', '{"batchItemFailures":[{"id":"m1"}]}', '{"batchItemFailures":[{"itemIdentifier":"m9"}]}', '{"batchItemFailures":"m1"}'])
      assert.equal(batchOutcome(p, ids), 'none', p);
  });
  test('partial', () => {
    assert.deepEqual([...batchOutcome('{"batchItemFailures":[{"itemIdentifier":"m2"}]}', ids)], ['m2']);
  });
});

describe('SQS queues', () => {
  const model = {
    region: 'us-east-1',
    queues: [
      { name: 'work', url: 'https://sqs.us-east-1.amazonaws.com/000000000000/work', arn: 'arn:aws:sqs:us-east-1:000000000000:work', visibilityTimeout: 30, delaySeconds: 0, messageRetentionPeriod: 120, maximumMessageSize: 262144, receiveMessageWaitTimeSeconds: 0, redrive: { deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:work-dlq', deadLetterQueue: 'work-dlq', maxReceiveCount: 2 } },
      { name: 'work-dlq', url: 'https://sqs.us-east-1.amazonaws.com/000000000000/work-dlq', arn: 'arn:aws:sqs:us-east-1:000000000000:work-dlq', visibilityTimeout: 30, delaySeconds: 0, messageRetentionPeriod: 1209600, maximumMessageSize: 262144, receiveMessageWaitTimeSeconds: 0 },
      { name: 'timer', url: 'https://sqs.us-east-1.amazonaws.com/000000000000/timer', arn: 'arn:aws:sqs:us-east-1:000000000000:timer', visibilityTimeout: 30, delaySeconds: 30, messageRetentionPeriod: 60, maximumMessageSize: 262144, receiveMessageWaitTimeSeconds: 0 },
    ],
  };
  function service() {
    const sqs = new SqsService({ model });
    let now = 1_000_000;
    for (const q of sqs.queues.values()) q.now = () => now;
    return { sqs, tick: (s) => (now += s * 1000), q: (n) => sqs.queue(n) };
  }
  test('visibility timeout, receive counts, and the DLQ after maxReceiveCount receives', () => {
    const { q, tick } = service();
    const m = q('work').send('hello');
    const r1 = q('work').receive(10);
    assert.equal(r1.length, 1);
    assert.equal(q('work').receive(10).length, 0, 'in flight');
    tick(29);
    assert.equal(q('work').receive(10).length, 0);
    tick(1);
    const r2 = q('work').receive(10);
    assert.equal(r2.length, 1);
    assert.equal(r2[0].receiveCount, 2);
    const rec = lambdaRecord(q('work'), r2[0], 'us-east-1');
    assert.equal(rec.attributes.ApproximateReceiveCount, '2');
    assert.equal(rec.eventSource, 'aws:sqs');
    assert.equal(rec.eventSourceARN, 'arn:aws:sqs:us-east-1:000000000000:work');
    assert.equal(rec.md5OfBody, '5d41402abc4b2a76b9719d911017c592');
    tick(30);
    assert.equal(q('work').receive(10).length, 0, 'received maxReceiveCount times: the next receive moves it');
    const dead = q('work-dlq').receive(10);
    assert.equal(dead.length, 1);
    assert.equal(dead[0].messageId, m.messageId);
    assert.equal(dead[0].body, 'hello');
    assert.equal(dead[0].systemAttributes.DeadLetterQueueSourceArn, 'arn:aws:sqs:us-east-1:000000000000:work');
  });
  test('receipt handles: delete with a stale one deletes nothing; ChangeMessageVisibility refuses it', () => {
    const { sqs, q, tick } = service();
    q('work-dlq').send('x');
    const [a] = q('work-dlq').receive(1);
    const h1 = a.receiptHandle;
    assert.throws(() => q('work-dlq').changeVisibility('garbage', 5), { code: 'ReceiptHandleIsInvalid' });
    q('work-dlq').changeVisibility(h1, 0);
    assert.throws(() => q('work-dlq').changeVisibility(h1, 5), { code: 'MessageNotInflight' });
    const [b] = q('work-dlq').receive(1);
    assert.notEqual(b.receiptHandle, h1);
    assert.throws(() => q('work-dlq').changeVisibility(h1, 5), { code: 'ReceiptHandleIsInvalid' });
    q('work-dlq').delete(h1);
    assert.equal(q('work-dlq').counts().total, 1, 'a stale handle deletes nothing');
    const out = sqs.api('ChangeMessageVisibilityBatch', { QueueUrl: model.queues[1].url, Entries: [{ Id: 'a', ReceiptHandle: b.receiptHandle, VisibilityTimeout: 10 }, { Id: 'b', ReceiptHandle: h1, VisibilityTimeout: 10 }] });
    assert.deepEqual(out.Successful, [{ Id: 'a' }]);
    assert.equal(out.Failed[0].Code, 'ReceiptHandleIsInvalid');
    tick(9);
    assert.equal(q('work-dlq').receive(1).length, 0);
    tick(1);
    assert.equal(q('work-dlq').receive(1).length, 1, 'visible after the 10 s it was given');
    assert.throws(() => sqs.api('ChangeMessageVisibilityBatch', { QueueUrl: model.queues[1].url, Entries: [] }), { code: 'EmptyBatchRequest' });
    assert.throws(() => sqs.api('ChangeMessageVisibility', { QueueUrl: model.queues[1].url, ReceiptHandle: b.receiptHandle, VisibilityTimeout: 43201 }), { code: 'InvalidParameterValue' });
    assert.throws(() => sqs.api('GetQueueUrl', { QueueName: 'nope' }), { code: 'QueueDoesNotExist' });
  });
  test('DeliveryDelay and retention', () => {
    const { q, tick } = service();
    q('timer').send('later');
    assert.equal(q('timer').receive(1).length, 0);
    assert.equal(q('timer').counts().delayed, 1);
    tick(30);
    assert.equal(q('timer').receive(1).length, 1);
    q('work').send('old');
    tick(120);
    assert.equal(q('work').receive(1).length, 0, 'past MessageRetentionPeriod');
    assert.equal(q('work').stats.expired, 1);
  });
  test('--visibility-timeout-cap caps the visibility a receive or ChangeMessageVisibility sets', () => {
    const sqs = new SqsService({ model, visibilityTimeoutCap: 2 });
    let now = 0;
    sqs.queue('work').now = () => now;
    sqs.queue('work').send('x');
    const [m] = sqs.queue('work').receive(1);
    assert.equal(m.visibleAt, 2000);
    sqs.queue('work').changeVisibility(m.receiptHandle, 600);
    assert.equal(m.visibleAt, 2000);
  });
});

describe('the Lambda Runtime API and the sandbox pool', () => {
  const code = join(work, 'code');
  const fake = join(here, 'fake-bootstrap.mjs');
  const fn = (name, timeout, env = {}) => ({ name, arn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`, handler: 'events', timeout, memorySize: 128, environment: env, layers: [], logFormat: 'JSON' });
  let svc;
  after(() => svc?.stop());
  test('invocations, timeouts, errors, crashes, init errors and scaling', { timeout: 60_000 }, async () => {
    mkdirSync(code, { recursive: true });
    writeFileSync(join(code, 'bootstrap'), `#!/bin/sh\nexec '${process.execPath}' '${fake}'\n`);
    chmodSync(join(code, 'bootstrap'), 0o755);
    const model = { functions: [fn('f-ok', 2), fn('f-init', 2, { FAKE_INIT: 'error' })] };
    svc = new LambdaService({
      model,
      logDir: work,
      maxSandboxes: 2,
      codeDir: () => code,
      environment: (f, port) => ({ PATH: process.env.PATH, ...f.environment, AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}`, _HANDLER: f.handler }),
    });
    const t0 = Date.now();
    const r = await svc.invoke('f-ok', JSON.stringify({ op: 'echo' }));
    assert.equal(r.ok, true, JSON.stringify(r));
    const seen = JSON.parse(r.payload);
    assert.equal(seen.requestId, r.requestId);
    assert.equal(seen.arn, model.functions[0].arn);
    assert.equal(seen.handler, 'events');
    assert.match(seen.trace, /^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1$/);
    assert.ok(seen.deadline >= t0 + 2000 && seen.deadline <= Date.now() + 2000, 'deadline = now + Timeout');
    // The warm sandbox is reused.
    const again = JSON.parse((await svc.invoke('f-ok', JSON.stringify({ op: 'echo' }))).payload);
    assert.equal(again.pid, seen.pid);
    // Two at once: a second sandbox (cap 2); a third waits for one.
    const three = await Promise.all([0, 1, 2].map(() => svc.invoke('f-ok', JSON.stringify({ op: 'sleep', ms: 300 }))));
    assert.ok(three.every((x) => x.ok));
    assert.equal(new Set(three.map((x) => JSON.parse(x.payload).pid)).size, 2, 'two sandboxes at most');
    const err = await svc.invoke('f-ok', JSON.stringify({ op: 'error' }));
    assert.deepEqual([err.ok, err.errorType, err.errorMessage], [false, 'Fake.Boom', 'boom']);
    const slow = await svc.invoke('f-ok', JSON.stringify({ op: 'sleep', ms: 5000 }));
    assert.deepEqual([slow.ok, slow.errorType], [false, 'Sandbox.Timedout']);
    assert.match(slow.errorMessage, /Task timed out after 2\.00 seconds/);
    const crash = await svc.invoke('f-ok', JSON.stringify({ op: 'crash' }));
    assert.deepEqual([crash.ok, crash.errorType], [false, 'Runtime.ExitError']);
    const after = await svc.invoke('f-ok', JSON.stringify({ op: 'echo' }));
    assert.equal(after.ok, true, 'a new sandbox replaces the dead ones');
    const init = await svc.invoke('f-init', JSON.stringify({ op: 'echo' }));
    assert.deepEqual([init.ok, init.errorType, init.errorMessage], [false, 'Fake.InitError', 'no config']);
    const stats = svc.stats()['f-ok'];
    assert.equal(stats.timeouts, 1);
    assert.equal(stats.crashes, 1);
    assert.ok(stats.sandboxes <= 2);
  });
});

describe('the HTTP API', () => {
  const key = loadOrCreateKey(join(work, 'keys'));
  const tok = (scopes, extra = {}) => issueToken(key, { issuer: 'iss-local', audience: 'aud-local', subject: 'alice', scopes, ...extra });
  const jwtRoute = (routeKey, scopes, timeoutMillis = 30000) => {
    const [method, path] = routeKey.split(' ');
    return { routeKey, method, path, authorizationType: 'JWT', authorizer: { identitySource: ['$request.header.Authorization'] }, scopes, integration: { function: 'fn', timeoutMillis } };
  };
  const openRoute = (routeKey) => ({ ...jwtRoute(routeKey, []), authorizationType: 'NONE', authorizer: undefined });
  const model = {
    account: '000000000000',
    region: 'us-east-1',
    api: {
      id: 'api1',
      stage: '$default',
      routes: [jwtRoute('GET /v1/things/{id}', ['res/read', 'res/admin']), openRoute('GET /v1/things/special'), openRoute('ANY /v1/any/{proxy+}'), openRoute('POST /v1/things'), jwtRoute('GET /v1/slow', ['res/read'], 300)],
    },
  };
  const events = [];
  const lambda = {
    invoke: async (name, payload) => {
      const e = JSON.parse(payload);
      events.push(e);
      if (e.rawPath === '/v1/slow') return new Promise((r) => setTimeout(() => r({ ok: true, payload: '{"statusCode":200}' }), 1000));
      if (e.headers['x-behave'] === 'error') return { ok: false, errorType: 'Unhandled', errorMessage: 'boom' };
      if (e.headers['x-behave'] === 'bare') return { ok: true, payload: '{"hello":"world"}' };
      return { ok: true, payload: JSON.stringify({ statusCode: 201, headers: { 'X-Thing': 'y' }, cookies: ['a=1', 'b=2'], body: Buffer.from('bin').toString('base64'), isBase64Encoded: true }) };
    },
  };
  const api = new HttpApi({ model, lambda, auth: { keys: key.jwks, issuer: 'iss-local', audience: ['aud-local'] }, console: CONSOLE });
  let base;
  after(() => api.close());
  const call = async (method, path, { headers = {}, body } = {}) => {
    if (!base) base = `http://127.0.0.1:${await api.listen(0)}`;
    return new Promise((resolve, reject) => {
      const u = new URL(path, base);
      const r = http.request({ host: u.hostname, port: u.port, method, path: u.pathname + u.search, headers, agent: false }, (res) => {
        const chunks = [];
        res.on('data', (d) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      r.on('error', reject);
      r.end(body);
    });
  };
  const json = (r) => JSON.parse(r.body.toString());

  test('the console: its files at /console with the headers orderly up sends, nothing else', async () => {
    const page = await call('GET', '/console');
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type'], /^text\/html/);
    assert.equal(page.body.toString(), readFileSync(join(CONSOLE.dir, 'index.html'), 'utf8'));
    // The same CSP as the embedded gateway's kConsoleCsp (its C++ literal, pieces joined).
    const hpp = readFileSync(join(here, '..', '..', 'hosts', 'embedded', 'include', 'orderly', 'hosts', 'embedded', 'console.hpp'), 'utf8');
    const literal = /kConsoleCsp =([\s\S]*?);\n/.exec(hpp)[1];
    const csp = [...literal.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]).join('');
    assert.equal(page.headers['content-security-policy'], csp);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    const js = await call('GET', '/console/app.js');
    assert.match(js.headers['content-type'], /^text\/javascript/);
    assert.equal((await call('GET', '/console/app.js', { headers: { 'if-none-match': js.headers.etag } })).status, 304);
    assert.equal((await call('GET', '/console/nothing.js')).status, 404);
    assert.equal((await call('GET', '/console/..%2f..%2fpackage.json')).status, 404);
    assert.equal((await call('GET', '/console/a/b')).status, 404, 'one level only');
    assert.equal((await call('POST', '/console')).status, 404, 'GET and HEAD only');
  });

  test('JWT authorizer: 401 without or with a bad token, 403 without a route scope', async () => {
    assert.deepEqual([(await call('GET', '/v1/things/1')).status, json(await call('GET', '/v1/things/1'))], [401, { message: 'Unauthorized' }]);
    assert.equal((await call('GET', '/v1/things/1', { headers: { authorization: `Bearer ${tok(['res/read'], { issuer: 'someone-else' })}` } })).status, 401);
    assert.equal((await call('GET', '/v1/things/1', { headers: { authorization: `Bearer ${tok(['res/read'], { audience: 'other' })}` } })).status, 401);
    assert.equal((await call('GET', '/v1/things/1', { headers: { authorization: `Bearer ${tok(['res/read'], { ttl: -10 })}` } })).status, 401, 'expired');
    const forbidden = await call('GET', '/v1/things/1', { headers: { authorization: `Bearer ${tok(['read'])}` } });
    assert.deepEqual([forbidden.status, json(forbidden)], [403, { message: 'Forbidden' }]);
    const ok = await call('GET', '/v1/things/1', { headers: { authorization: tok(['res/admin']) } });
    assert.equal(ok.status, 201, 'any one of the route scopes; the Bearer prefix is optional');
  });

  test('the payload format 2.0 event', async () => {
    events.length = 0;
    await call('GET', '/v1/things/a%20b?x=1&x=2&y=%2F', { headers: { authorization: `Bearer ${tok(['res/read', 'other'])}`, cookie: 'c1=v1; c2=v2', 'X-Mixed': 'M' } });
    const e = events[0];
    assert.equal(e.version, '2.0');
    assert.equal(e.routeKey, 'GET /v1/things/{id}');
    assert.equal(e.rawPath, '/v1/things/a%20b');
    assert.equal(e.rawQueryString, 'x=1&x=2&y=%2F');
    assert.deepEqual(e.queryStringParameters, { x: '1,2', y: '/' });
    assert.deepEqual(e.pathParameters, { id: 'a b' });
    assert.deepEqual(e.cookies, ['c1=v1', 'c2=v2']);
    assert.equal(e.headers['x-mixed'], 'M');
    assert.equal(e.headers.cookie, undefined);
    assert.equal(e.isBase64Encoded, false);
    assert.equal(e.requestContext.http.method, 'GET');
    assert.equal(e.requestContext.stage, '$default');
    assert.equal(e.requestContext.routeKey, 'GET /v1/things/{id}');
    assert.equal(e.requestContext.apiId, 'api1');
    assert.equal(e.requestContext.authorizer.jwt.claims.sub, 'alice');
    assert.equal(e.requestContext.authorizer.jwt.claims.scope, 'res/read other');
    assert.equal(typeof e.requestContext.authorizer.jwt.claims.exp, 'string', 'claims are strings');
    assert.deepEqual(e.requestContext.authorizer.jwt.scopes, ['res/read', 'other']);
    assert.equal(typeof e.requestContext.timeEpoch, 'number');
    assert.match(e.requestContext.time, /^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000$/);
    events.length = 0;
    await call('POST', '/v1/things', { headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    assert.equal(events[0].body, '{"a":1}');
    assert.equal(events[0].isBase64Encoded, false);
    assert.equal(events[0].requestContext.authorizer, undefined);
    events.length = 0;
    await call('POST', '/v1/things', { headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from([0, 1, 2]) });
    assert.equal(events[0].body, 'AAEC');
    assert.equal(events[0].isBase64Encoded, true);
  });

  test('routing: the most specific route, ANY with a greedy path, 404 otherwise', async () => {
    events.length = 0;
    await call('GET', '/v1/things/special');
    assert.equal(events[0].routeKey, 'GET /v1/things/special');
    await call('DELETE', '/v1/any/x/y/z');
    assert.equal(events[1].routeKey, 'ANY /v1/any/{proxy+}');
    assert.deepEqual(events[1].pathParameters, { proxy: 'x/y/z' });
    const missing = await call('DELETE', '/v1/things/special');
    assert.deepEqual([missing.status, json(missing)], [404, { message: 'Not Found' }]);
  });

  test('responses: status, headers, cookies, base64 bodies; 500, 503, 413 as API Gateway answers', async () => {
    const r = await call('GET', '/v1/things/special');
    assert.equal(r.status, 201);
    assert.equal(r.headers['x-thing'], 'y');
    assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']);
    assert.equal(r.body.toString(), 'bin');
    assert.ok(r.headers['apigw-requestid']);
    const bare = await call('GET', '/v1/things/special', { headers: { 'x-behave': 'bare' } });
    assert.deepEqual([bare.status, bare.headers['content-type'], bare.body.toString()], [200, 'application/json', '{"hello":"world"}']);
    const failed = await call('GET', '/v1/things/special', { headers: { 'x-behave': 'error' } });
    assert.deepEqual([failed.status, json(failed)], [500, { message: 'Internal Server Error' }]);
    const slow = await call('GET', '/v1/slow', { headers: { authorization: `Bearer ${tok(['res/read'])}` } });
    assert.deepEqual([slow.status, json(slow)], [503, { message: 'Service Unavailable' }]);
    const big = await call('POST', '/v1/things', { headers: { 'content-type': 'application/json' }, body: Buffer.alloc(10 * 1024 * 1024 + 1, 32) });
    assert.deepEqual([big.status, json(big)], [413, { message: 'Request Entity Too Large' }]);
  });
});

describe('the template model', () => {
  const template = {
    Mappings: { M: { 'eu-west-1': { k: 'from-map' } } },
    Resources: {
      Q: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'q1', VisibilityTimeout: 90, RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['D', 'Arn'] }, maxReceiveCount: 4 } } },
      D: { Type: 'AWS::SQS::Queue', Properties: {} },
      T: { Type: 'AWS::DynamoDB::Table', Properties: { KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' } } },
      F: {
        Type: 'AWS::Lambda::Function',
        Properties: {
          FunctionName: { 'Fn::Join': ['-', ['fn', { Ref: 'AWS::Region' }]] },
          Handler: 'events',
          Environment: { Variables: { TABLE: { Ref: 'T' }, QUEUE: { 'Fn::GetAtt': ['Q', 'QueueUrl'] }, SUB: { 'Fn::Sub': '${AWS::AccountId}/${Q.QueueName}/${!literal}' }, MAP: { 'Fn::FindInMap': ['M', { Ref: 'AWS::Region' }, 'k'] } } },
          Code: { S3Bucket: 'b', S3Key: 'abc.zip' },
        },
      },
      E: { Type: 'AWS::Lambda::EventSourceMapping', Properties: { EventSourceArn: { 'Fn::GetAtt': ['Q', 'Arn'] }, FunctionName: { Ref: 'F' } } },
    },
  };
  test('intrinsics resolve to local values; defaults as CloudFormation and Lambda apply them', () => {
    const m = buildModel(template, { region: 'eu-west-1', account: '123456789012', stackName: 'S', assets: { 'abc.zip': '/x/abc.zip' } });
    const f = m.functions[0];
    assert.equal(f.name, 'fn-eu-west-1');
    assert.equal(f.timeout, 3);
    assert.equal(f.memorySize, 128);
    assert.equal(f.zip, '/x/abc.zip');
    assert.equal(f.environment.TABLE, m.tables[0].name);
    assert.match(m.tables[0].name, /^S-T-[0-9A-F]{12}$/);
    assert.equal(m.tables[0].streamViewType, 'NEW_AND_OLD_IMAGES');
    assert.equal(f.environment.QUEUE, 'https://sqs.eu-west-1.amazonaws.com/123456789012/q1');
    assert.equal(f.environment.SUB, '123456789012/q1/${literal}');
    assert.equal(f.environment.MAP, 'from-map');
    const dlq = m.queues.find((q) => q.logicalId === 'D');
    assert.equal(m.queues.find((q) => q.logicalId === 'Q').redrive.deadLetterQueue, dlq.name);
    const cfg = effectiveConfig(m);
    assert.deepEqual(cfg.queues.q1, { logicalId: 'Q', visibilityTimeout: 90, delaySeconds: 0, messageRetentionPeriod: 345600, deadLetterQueue: dlq.name, maxReceiveCount: 4 });
    assert.deepEqual(cfg.mappings.E, { queue: 'q1', function: 'fn-eu-west-1', batchSize: 10, maximumBatchingWindowInSeconds: 0, reportBatchItemFailures: false, maximumConcurrency: null });
    assert.deepEqual(m.unsupported, []);
  });
  test('what the twin cannot do is reported', () => {
    const t = structuredClone(template);
    t.Resources.R = { Type: 'AWS::Events::Rule', Properties: { ScheduleExpression: 'cron(0 3 * * ? *)', Targets: [{ Id: 'x', Arn: { 'Fn::GetAtt': ['F', 'Arn'] } }] } };
    t.Resources.P = { Type: 'AWS::Events::Rule', Properties: { EventPattern: { source: ['x'] }, Targets: [{ Id: 'y', Arn: { 'Fn::GetAtt': ['F', 'Arn'] } }] } };
    t.Resources.S = { Type: 'AWS::StepFunctions::StateMachine', Properties: {} };
    const m = buildModel(t, { region: 'eu-west-1', account: '1', stackName: 'S' });
    assert.ok(m.unsupported.some((u) => /^R: scheduled rule \(cron\(0 3 \* \* \? \*\)\): .*rate\(\.\.\.\) schedules only/.test(u)), m.unsupported.join('\n'));
    assert.ok(m.unsupported.some((u) => /^P: .*SQS targets only/.test(u)));
    assert.ok(m.unsupported.some((u) => /StepFunctions/.test(u)));
    assert.ok(new Resolver(t, { region: 'r', account: 'a', stackName: 'S' }).resolve({ 'Fn::Select': [1, ['a', 'b']] }) === 'b');
    assert.deepEqual(m.schedules, []);
    assert.deepEqual(m.rules.map((r) => r.logicalId), ['P']);
  });
});

describe('scheduled rules', () => {
  // The CDK app's retention sweep: a rate schedule on the default bus invoking a function.
  const template = {
    Resources: {
      F: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'orders-events', Handler: 'events', Code: { S3Bucket: 'b', S3Key: 'abc.zip' } } },
      Q: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'q1' } },
      Sweep: {
        Type: 'AWS::Events::Rule',
        Properties: { Description: 'retention sweep', ScheduleExpression: 'rate(60 minutes)', State: 'ENABLED', Targets: [{ Arn: { 'Fn::GetAtt': ['F', 'Arn'] }, Id: 'Target0', Input: '{"orderly":"sweep"}' }] },
      },
      SweepPermission: { Type: 'AWS::Lambda::Permission', Properties: { Action: 'lambda:InvokeFunction', FunctionName: { 'Fn::GetAtt': ['F', 'Arn'] }, Principal: 'events.amazonaws.com', SourceArn: { 'Fn::GetAtt': ['Sweep', 'Arn'] } } },
    },
  };
  const opts = { region: 'eu-west-1', account: '123456789012', stackName: 'S', assets: { 'abc.zip': '/x/abc.zip' } };
  const withRule = (props) => {
    const t = structuredClone(template);
    Object.assign(t.Resources.Sweep.Properties, props);
    return buildModel(t, opts);
  };

  test('a rate schedule with a Lambda function target is a schedule, not a bus rule', () => {
    const m = buildModel(template, opts);
    assert.deepEqual(m.unsupported, []);
    assert.deepEqual(m.rules, [], 'a scheduled rule is never matched against events');
    assert.equal(m.schedules.length, 1);
    const [s] = m.schedules;
    assert.deepEqual(
      { logicalId: s.logicalId, expression: s.expression, periodMs: s.periodMs, state: s.state, targets: s.targets },
      { logicalId: 'Sweep', expression: 'rate(60 minutes)', periodMs: 3_600_000, state: 'ENABLED', targets: [{ id: 'Target0', function: 'orders-events', input: '{"orderly":"sweep"}' }] },
    );
    assert.equal(s.arn, `arn:aws:events:eu-west-1:123456789012:rule/${s.name}`);
    assert.deepEqual(effectiveConfig(m).schedules, {
      [s.name]: { logicalId: 'Sweep', expression: 'rate(60 minutes)', periodMs: 3_600_000, state: 'ENABLED', targets: [{ function: 'orders-events', input: '{"orderly":"sweep"}' }] },
    });
    assert.equal(effectiveConfig(m, { scheduleScale: 0.02 }).schedules[s.name].scheduleScale, 0.02, 'the test knob is reported apart from the template value');
  });

  test("rate expressions, with EventBridge's units: singular for 1, plural otherwise", () => {
    assert.equal(rateMs('rate(1 minute)'), 60_000);
    assert.equal(rateMs('rate(5 minutes)'), 300_000);
    assert.equal(rateMs('rate(1 hour)'), 3_600_000);
    assert.equal(rateMs('rate(2 hours)'), 7_200_000);
    assert.equal(rateMs('rate(1 day)'), 86_400_000);
    assert.equal(rateMs('rate(30 days)'), 2_592_000_000);
    assert.throws(() => rateMs('rate(0 minutes)'), /positive integer/);
    assert.throws(() => rateMs('rate(1 minutes)'), /singular/);
    assert.throws(() => rateMs('rate(5 minute)'), /plural/);
    for (const bad of ['rate(1.5 hours)', 'rate(-1 minutes)', 'rate(5 seconds)', 'rate(5minutes)', 'rate 5 minutes']) assert.throws(() => rateMs(bad), /not a rate/, bad);
    assert.throws(() => rateMs('cron(0 3 * * ? *)'), /not cron/);
    assert.equal(withRule({ ScheduleExpression: 'rate(2 hours)' }).schedules[0].periodMs, 7_200_000);
    assert.equal(withRule({ ScheduleExpression: 'rate(1 day)' }).schedules[0].periodMs, 86_400_000);
  });

  test('cron, a bad rate, a target other than a function of the template: reported, not run', () => {
    for (const [props, why] of [
      [{ ScheduleExpression: 'cron(0 3 * * ? *)' }, /^Sweep: scheduled rule \(cron\(0 3 \* \* \? \*\)\): the twin runs rate\(\.\.\.\) schedules only/],
      [{ ScheduleExpression: 'rate(0 minutes)' }, /^Sweep: scheduled rule \(rate\(0 minutes\)\): the rate must be a positive integer/],
      [{ ScheduleExpression: 'rate(1 minutes)' }, /^Sweep: scheduled rule \(rate\(1 minutes\)\): a rate of 1 takes a singular unit/],
      [{ Targets: [{ Arn: { 'Fn::GetAtt': ['Q', 'Arn'] }, Id: 'Target0' }] }, /^Sweep: scheduled rule \(rate\(60 minutes\)\): target Target0 is arn:aws:sqs:.*Lambda functions of the template only/],
      [{ Targets: [...template.Resources.Sweep.Properties.Targets, { Arn: 'arn:aws:lambda:eu-west-1:123456789012:function:elsewhere', Id: 'Target1' }] }, /target Target1 is .*function:elsewhere/],
      [{ Targets: [{ Arn: { 'Fn::GetAtt': ['F', 'Arn'] }, Id: 'Target0', InputPath: '$.detail' }] }, /target Target0: InputPath and InputTransformer/],
      [{ EventPattern: { source: ['x'] } }, /both a schedule and an event pattern/],
    ]) {
      const m = withRule(props);
      assert.equal(m.unsupported.length, 1, JSON.stringify(m.unsupported));
      assert.match(m.unsupported[0], why);
      assert.deepEqual([m.schedules, m.rules], [[], []], 'nothing of the rule runs');
    }
  });

  test('--schedule-scale: a positive number, 1 by default', () => {
    assert.equal(parseArgs([]).scheduleScale, 1);
    assert.equal(parseArgs(['--schedule-scale', '0.02']).scheduleScale, 0.02);
    for (const bad of ['0', '-1', 'fast', 'Infinity']) assert.throws(() => parseArgs(['--schedule-scale', bad]), /--schedule-scale must be a positive number/, bad);
    assert.throws(() => parseArgs(['--schedule-scale']), /needs a value/);
  });

  test('the timer: one period after start, the Input as the event, no overlap, errors logged, stopped by stop()', { timeout: 20_000 }, async () => {
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    const schedule = { ...buildModel(template, opts).schedules[0] };
    schedule.targets = [...schedule.targets, { id: 'Target1', function: 'other' }];
    const calls = [];
    let running = 0;
    let maxRunning = 0;
    const lambda = {
      invoke: async (name, payload) => {
        calls.push({ name, payload, at: Date.now() });
        running++;
        maxRunning = Math.max(maxRunning, running);
        const n = calls.filter((c) => c.name === name).length;
        // The first tick outlasts three periods; later ones fail in both ways an invocation can.
        if (n === 1) await sleep(350);
        running--;
        if (name === 'other' && n === 2) throw new Error('the twin broke');
        return n === 3 ? { ok: false, errorType: 'Unhandled', errorMessage: 'boom' } : { ok: true, payload: 'null' };
      },
    };
    const logs = [];
    // rate(60 minutes) x 1/36000: every 100 ms.
    const rule = new ScheduledRule({ schedule, lambda, region: 'eu-west-1', account: '123456789012', scale: 1 / 36_000, log: (l) => logs.push(l) });
    assert.equal(rule.intervalMs, 100);
    const started = Date.now();
    rule.start();
    const deadline = Date.now() + 10_000;
    while (calls.filter((c) => c.name === 'orders-events').length < 4 && Date.now() < deadline) await sleep(20);
    await rule.stop();
    const count = calls.length;
    await sleep(300);
    assert.equal(calls.length, count, 'no tick after stop()');
    assert.ok(calls[0].at - started >= 95, `the first tick ${calls[0].at - started} ms after start`);
    const sweep = calls.filter((c) => c.name === 'orders-events');
    assert.ok(sweep.length >= 4, `${sweep.length} invocations`);
    assert.ok(sweep.every((c) => c.payload === '{"orderly":"sweep"}'), 'the Input, as it is, is the event');
    const event = JSON.parse(calls.find((c) => c.name === 'other').payload);
    assert.deepEqual(
      { ...event, id: undefined, time: undefined },
      { version: '0', id: undefined, 'detail-type': 'Scheduled Event', source: 'aws.events', account: '123456789012', time: undefined, region: 'eu-west-1', resources: [schedule.arn], detail: {} },
      'a target without Input gets the scheduled event',
    );
    assert.match(event.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(maxRunning, 2, 'one invocation per target at a time, never two ticks at once');
    assert.ok(rule.stats.skipped >= 1, `ticks during the 350 ms first one are skipped (${JSON.stringify(rule.stats)})`);
    assert.ok(logs.some((l) => /skipped/.test(l)));
    assert.ok(logs.some((l) => /orders-events: Unhandled: boom/.test(l)), logs.join('\n'));
    assert.ok(logs.some((l) => /other: Twin\.Error: Error: the twin broke/.test(l)), logs.join('\n'));
    assert.equal(rule.stats.errors, 3, 'orders-events and other fail on their third call; other throws on its second');
  });

  test('a DISABLED rule never fires', async () => {
    const schedule = { ...withRule({ State: 'DISABLED' }).schedules[0] };
    let calls = 0;
    const rule = new ScheduledRule({ schedule, lambda: { invoke: async () => (calls++, { ok: true }) }, region: 'r', account: 'a', scale: 1 / 360_000 });
    rule.start();
    await new Promise((r) => setTimeout(r, 100));
    await rule.stop();
    assert.equal(calls, 0);
  });
});
