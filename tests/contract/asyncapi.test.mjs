// (b) schemas/asyncapi.yaml: parses cleanly with @asyncapi/parser, one channel
// per event schema, every message example valid, operations well formed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SERVICES, TYPE_RE, compileAll, eventValidators, expectedSubject, formatDiagnostics, formatErrors,
  loadEventSchemas, makeAjv, operationsByService, parseAsyncApi,
} from './lib.mjs';

const { document, diagnostics, errors } = await parseAsyncApi();
const schemas = loadEventSchemas();
const schemaTypes = new Set(schemas.map((s) => s.type));

test('asyncapi.yaml parses with no error diagnostics', () => {
  assert.equal(errors.length, 0, `AsyncAPI parser reported errors; all diagnostics:\n${formatDiagnostics(diagnostics)}`);
  assert.ok(document, 'the parser returned no document');
});

test('document metadata and servers', () => {
  assert.ok(document, 'no document');
  const raw = document.json();
  assert.equal(raw.asyncapi, '3.0.0');
  assert.equal(document.info().title(), 'Orderly events');
  assert.equal(document.info().version(), '1.0.0');
  for (const word of ['at-least-once', 'ordering', 'CloudEvents', 'structured mode', 'outbox', 'inbox']) {
    assert.ok(document.info().description().toLowerCase().includes(word.toLowerCase()), `info.description does not mention ${word}`);
  }
  const servers = Object.fromEntries(document.servers().all().map((s) => [s.id(), s]));
  assert.deepEqual(Object.keys(servers).sort(), ['aws', 'embedded']);
  assert.equal(servers.aws.host(), 'events.us-east-1.amazonaws.com');
  assert.equal(servers.aws.protocol(), 'https');
  assert.match(servers.aws.description(), /EventBridge/);
  assert.match(servers.aws.description(), /SQS/);
  assert.ok(servers.embedded.protocol(), 'embedded server has a protocol');
});

test('exactly one channel per event schema, addressed by its type', () => {
  assert.ok(document, 'no document');
  const channels = document.channels().all();
  const addresses = channels.map((c) => c.address());
  assert.equal(new Set(addresses).size, addresses.length, 'duplicate channel addresses');
  assert.deepEqual([...addresses].sort(), [...schemaTypes].sort());
  for (const ch of channels) {
    const msgs = ch.messages().all();
    assert.equal(msgs.length, 1, `${ch.address()}: one message per channel`);
    const payload = msgs[0].payload().json();
    const [envelopeRef, specific] = payload.allOf ?? [];
    assert.ok(envelopeRef && specific, `${ch.address()}: payload must be allOf [CloudEventEnvelope, {...}]`);
    assert.equal(envelopeRef.title, 'CloudEvent envelope', `${ch.address()}: allOf[0] is not the CloudEventEnvelope`);
    assert.equal(specific.properties.type.const, ch.address(), `${ch.address()}: type const`);
    assert.equal(specific.properties.source.const, `orderly.${TYPE_RE.exec(ch.address())[1]}`, `${ch.address()}: source const`);
    assert.equal(specific.properties.data['x-orderly-type'], ch.address(), `${ch.address()}: data must $ref the schema whose x-orderly-type is the address`);
  }
});

test('CloudEventEnvelope component', () => {
  assert.ok(document, 'no document');
  const env = document.json().components.schemas.CloudEventEnvelope;
  assert.deepEqual([...env.required].sort(), ['data', 'datacontenttype', 'id', 'source', 'specversion', 'subject', 'time', 'type']);
  assert.deepEqual(Object.keys(env.properties).sort(), ['causationid', 'correlationid', 'data', 'datacontenttype', 'id', 'partitionkey', 'source', 'specversion', 'subject', 'time', 'traceparent', 'type']);
  assert.equal(env.properties.specversion.const, '1.0');
  assert.equal(env.properties.datacontenttype.const, 'application/json');
  assert.equal(env.properties.id.format, 'uuid');
  assert.equal(env.properties.time.format, 'date-time');
  assert.equal(env.additionalProperties, false);
});

test('every message example is a valid event of its channel type', () => {
  assert.ok(document, 'no document');
  const ajv = makeAjv();
  const byType = compileAll(ajv);
  const events = eventValidators(document, ajv, byType);
  let n = 0;
  for (const ch of document.channels().all()) {
    const type = ch.address();
    const msg = ch.messages().all()[0];
    const examples = msg.examples().all();
    assert.ok(examples.length >= 1, `${type}: message has no examples`);
    for (const ex of examples) {
      const env = ex.payload();
      const dataValid = byType.get(type).validate;
      assert.ok(dataValid(env.data), `${type} example ${ex.name()}: data invalid:\n${formatErrors(dataValid.errors)}`);
      const validate = events.get(type);
      assert.ok(validate(env), `${type} example ${ex.name()}: envelope invalid:\n${formatErrors(validate.errors)}`);
      assert.equal(env.subject, expectedSubject(type, env.data), `${type} example: subject`);
      n++;
    }
  }
  assert.equal(n >= schemas.length, true);
});

test('the envelope validator rejects bad envelopes', () => {
  assert.ok(document, 'no document');
  const ajv = makeAjv();
  const byType = compileAll(ajv);
  const events = eventValidators(document, ajv, byType);
  const msg = document.channels().all().find((c) => c.address() === 'orderly.orders.OrderPlaced.v1').messages().all()[0];
  const good = msg.examples().all()[0].payload();
  const validate = events.get(good.type);
  assert.ok(validate(good));
  const bad = {
    'an unknown attribute': { ...good, foo: 'bar' },
    'specversion 0.3': { ...good, specversion: '0.3' },
    'a non-UUID id': { ...good, id: 'abc' },
    'a time without offset': { ...good, time: '2025-03-14T09:26:53' },
    'text/plain data': { ...good, datacontenttype: 'text/plain' },
    'a wrong type for the channel': { ...good, type: 'orderly.orders.OrderConfirmed.v1' },
    'a wrong source': { ...good, source: 'orderly.payments' },
    'a bad traceparent': { ...good, traceparent: '00-0000-00f067aa0ba902b7-01' },
    'an all-zero trace id': { ...good, traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` },
    'an empty subject': { ...good, subject: '' },
    'data that is not an object': { ...good, data: 'x' },
    'invalid data': { ...good, data: { ...good.data, total: { amount: -1, currency: 'GBP' } } },
    'missing data': Object.fromEntries(Object.entries(good).filter(([k]) => k !== 'data')),
    'missing time': Object.fromEntries(Object.entries(good).filter(([k]) => k !== 'time')),
  };
  for (const [what, env] of Object.entries(bad)) assert.equal(validate(env), false, `accepted an envelope with ${what}`);
});

test('operations: ids, actions, channels and tags agree', () => {
  assert.ok(document, 'no document');
  const senders = new Map();
  const receivers = new Map();
  for (const op of document.operations().all()) {
    const m = /^([a-z]+)\.(send|receive)\.([A-Z][A-Za-z]+)$/.exec(op.id());
    assert.ok(m, `operation id ${op.id()} is not <service>.<send|receive>.<Name>`);
    const [, service, verb, name] = m;
    assert.ok(SERVICES.includes(service), `${op.id()}: unknown service`);
    assert.equal(op.action(), verb, `${op.id()}: action`);
    const chans = op.channels().all();
    assert.equal(chans.length, 1, `${op.id()}: one channel`);
    const type = chans[0].address();
    assert.equal(TYPE_RE.exec(type)?.[2], name, `${op.id()}: channel ${type} does not match the name`);
    assert.deepEqual(op.tags().all().map((t) => t.name()), [service], `${op.id()}: tagged with its service`);
    assert.equal(op.messages().all().length, 1, `${op.id()}: one message`);
    if (verb === 'send') {
      assert.equal(TYPE_RE.exec(type)[1], service, `${op.id()}: a service only sends its own types`);
      assert.ok(!senders.has(type), `${type} has two senders`);
      senders.set(type, service);
    } else {
      (receivers.get(type) ?? receivers.set(type, []).get(type)).push(service);
    }
  }
  assert.deepEqual([...senders.keys()].sort(), [...schemaTypes].sort(), 'every type has exactly one send operation');
  for (const type of receivers.keys()) assert.ok(senders.has(type), `${type} is received but never sent`);
  // Terminal types (received by nobody) say so in their description.
  for (const { type, schema } of schemas) {
    const terminal = !receivers.has(type);
    assert.equal(/\bTerminal\b/.test(schema.description), terminal, `${type}: description ${terminal ? 'must' : 'must not'} say Terminal`);
  }
  assert.deepEqual(Object.keys(operationsByService(document)).sort(), [...SERVICES].sort());
});
