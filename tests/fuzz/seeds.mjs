// Writes the seed corpus of one fuzz target into a directory, from the
// repository's own inputs (issue 11): the event schemas' examples (as
// CloudEvents), the topology's rules (as patterns), the AWS sample events of
// tests/fixtures, tokens made for another key, and requests from the e2e
// bad-input cases.
//
//   node tests/fuzz/seeds.mjs TARGET DIR
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash, createSign, generateKeyPairSync } from 'node:crypto';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const [target, dir] = process.argv.slice(2);
mkdirSync(dir, { recursive: true });
let n = 0;
const put = (data) => {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
  writeFileSync(join(dir, createHash('sha1').update(buf).digest('hex')), buf);
  n++;
};

const schemas = readdirSync(join(root, 'schemas/events')).filter((f) => f.endsWith('.schema.json')).map((f) => JSON.parse(readFileSync(join(root, 'schemas/events', f), 'utf8')));
const cloudEvent = (s, data, i) => ({
  specversion: '1.0',
  id: `0192f0c4-6a00-7b3c-8d21-4f6a8b0c1d${String(10 + i).padStart(2, '0')}`,
  source: `orderly.${s['x-orderly-type'].split('.')[1]}`,
  type: s['x-orderly-type'],
  subject: 'seed',
  time: '2026-12-01T12:00:00Z',
  datacontenttype: 'application/json',
  correlationid: 'c-1',
  causationid: 'c-0',
  data,
});
const events = schemas.flatMap((s) => (s.examples ?? []).map((ex, i) => cloudEvent(s, ex, i)));
const fixtures = readdirSync(join(root, 'tests/fixtures/aws-events')).filter((f) => f.endsWith('.json')).map((f) => readFileSync(join(root, 'tests/fixtures/aws-events', f)));
const topology = JSON.parse(readFileSync(join(root, 'infra/topology.json'), 'utf8'));

switch (target) {
  case 'cloudevent_fuzz':
    for (const e of events) put(JSON.stringify(e));
    break;
  case 'event_pattern_fuzz': {
    const rules = topology.services.flatMap((s) => s.rules);
    const patterns = [
      ...rules.map((r) => ({ type: r.types })),
      { type: [{ prefix: 'orderly.orders.' }] },
      { source: [{ 'anything-but': ['orderly.payments'] }], data: { total: { amount: [{ numeric: ['>', 0, '<=', 100000] }] } } },
      { subject: [{ exists: true }], type: [{ 'equals-ignore-case': 'ORDERLY.ORDERS.ORDERPLACED.V1' }] },
      { $or: [{ type: ['a'] }, { source: [{ suffix: '.inventory' }] }] },
    ];
    for (const [i, p] of patterns.entries()) put(`${JSON.stringify(p)}\0${JSON.stringify(events[i % events.length])}`);
    break;
  }
  case 'aws_mappers_fuzz':
    for (const f of fixtures) put(f);
    for (const e of events.slice(0, 5))
      put(JSON.stringify({ Records: [{ messageId: 'm1', receiptHandle: 'rh', eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:q', body: JSON.stringify({ 'detail-type': e.type, detail: { event: { S: JSON.stringify(e) } } }), attributes: { ApproximateReceiveCount: '2' } }] }));
    break;
  case 'jwt_fuzz': {
    // Signed by a key the target does not trust: well-formed, and refused.
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    for (const [h, p] of [
      [{ alg: 'RS256', typ: 'JWT', kid: 'k1' }, { iss: 'orderly-local', aud: 'orderly-api', sub: 'alice', scope: 'orderly/orders:read', exp: now + 3600, iat: now }],
      [{ alg: 'none' }, { sub: 'x' }],
      [{ alg: 'HS256', kid: 'k1' }, { iss: 'orderly-local', aud: ['orderly-api', 'x'], sub: 'b', exp: now + 60, nbf: now - 5 }],
    ]) {
      const signing = `${b64(h)}.${b64(p)}`;
      put(`${signing}.${createSign('RSA-SHA256').update(signing).sign(privateKey).toString('base64url')}`);
    }
    break;
  }
  case 'http_request_fuzz': {
    // Raw requests as a client writes them on the socket.
    const order = { items: [{ sku: 'KB-MECH-01', quantity: 1 }], paymentToken: 'tok_ok', shippingAddress: { name: 'A', line1: '1 St', city: 'London', postalCode: 'N1 1AA', country: 'GB' } };
    const request = (line, body, extra = '') =>
      `${line} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    for (const line of ['POST /v1/orders', 'GET /v1/orders/0192f0c4-6a00-7b3c-8d21-4f6a8b0c1d2e', 'POST /v1/orders/abc/cancel', 'PUT /v1/products/KB-MECH-01', 'GET /v1/products?limit=5&cursor=x%2F%zz+y'])
      put(request(line, JSON.stringify(order), 'X-Request-Id: r-1\r\nAccept: a\r\nAccept: b\r\n'));
    // The e2e bad-input cases' kinds of body.
    for (const body of ['{"items":[{"sku":"KB-MECH-01","quantity":1}', '', '{"a":1,"a":2}', `${'{"a":'.repeat(40)}1${'}'.repeat(40)}`, '{"s":"\\ud800"}', '[1,2]', '{"n":1e400}'])
      put(request('POST /v1/orders', body));
    // Framing: chunked, HTTP/1.0, HEAD, a bare LF, an obsolete line fold.
    put('POST /v1/orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n2\r\n1}\r\n0\r\n\r\n');
    put('GET /v1/products HTTP/1.0\r\n\r\n');
    put('HEAD /v1/products HTTP/1.1\r\nHost: x\r\n\r\n');
    put('GET /v1/products HTTP/1.1\nHost: x\n\n');
    put('GET /v1/products HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n');
    break;
  }
  case 'sigv4_fuzz': {
    // The requests the AWS adapters sign (DynamoDB, SQS JSON), and the
    // canonicaliser's hard cases from adapters/aws's botocore oracle test.
    const dynamo = (target, body) => `POST\nhttps://dynamodb.eu-west-1.amazonaws.com/\nContent-Type:application/x-amz-json-1.0\nX-Amz-Target:DynamoDB_20120810.${target}\n\n${JSON.stringify(body)}`;
    put(dynamo('GetItem', { TableName: 'orderly-orders', Key: { pk: { S: 'ORDER#1' }, sk: { S: 'ORDER' } }, ConsistentRead: true }));
    put(dynamo('TransactWriteItems', { TransactItems: [{ Put: { TableName: 't', Item: { pk: { S: 'a' } }, ConditionExpression: 'attribute_not_exists(pk)' } }] }));
    put('POST\nhttp://127.0.0.1:4566/\nContent-Type:application/x-amz-json-1.0\nX-Amz-Target:AmazonSQS.ChangeMessageVisibilityBatch\n\n{"QueueUrl":"q","Entries":[]}');
    put('GET\nhttps://example.amazonaws.com/a/./b/../c//d/%7Euser/caf%C3%A9?b=2&a=1&a=0&empty=&flag\nX-Amz-Meta:  a   b  \nx-amz-meta:c\nUser-Agent:ignored\n\n');
    put('PUT\nhttps://user@EXAMPLE.amazonaws.com:443/../..?q=a%20b#frag\nHost:custom.example:8443\nExpect:100-continue\n\nbody');
    put('get\nexample\n\n');
    break;
  }
  default:
    process.stderr.write(`unknown fuzz target ${target}\n`);
    process.exit(2);
}
process.stdout.write(`${n} seeds for ${target}\n`);
