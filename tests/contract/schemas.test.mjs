// (a) The event data schemas in schemas/events: well-formed, strict-mode
// compilable as JSON Schema 2020-12, examples valid, and invalid data rejected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  COMMON_FILE, SERVICES, TYPE_RE, compileAll, formatErrors, loadCommonSchema, loadEventSchemas, makeAjv,
} from './lib.mjs';

const schemas = loadEventSchemas();
const OPTIONAL = new Set(['line2']); // the only optional field in the catalogue (Address.line2)

test('schemas/events holds the 29 catalogue event schemas plus common', () => {
  assert.equal(schemas.length, 29, `event schema files: ${schemas.map((s) => s.file).join(', ')}`);
});

test('common.schema.json compiles and its $defs examples are valid', () => {
  const ajv = makeAjv({ withCommon: false });
  const common = loadCommonSchema();
  assert.equal(common.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.equal(common.$id, `https://orderly.dev/schemas/events/${COMMON_FILE}`);
  ajv.addSchema(common);
  for (const name of ['Money', 'OrderLine', 'StockLine', 'Address']) {
    assert.ok(common.$defs[name], `common.schema.json lacks $defs/${name}`);
  }
  for (const [name, def] of Object.entries(common.$defs)) {
    const validate = ajv.getSchema(`${common.$id}#/$defs/${name}`);
    assert.ok(validate, `$defs/${name} does not compile`);
    for (const ex of def.examples ?? []) assert.ok(validate(ex), `$defs/${name} example ${JSON.stringify(ex)}:\n${formatErrors(validate.errors)}`);
  }
});

// Walks every subschema, calling fn(node, pointer).
function walk(node, fn, pointer = '') {
  if (Array.isArray(node)) return node.forEach((n, i) => walk(n, fn, `${pointer}/${i}`));
  if (!node || typeof node !== 'object') return;
  fn(node, pointer);
  for (const key of ['properties', '$defs']) {
    for (const [k, v] of Object.entries(node[key] ?? {})) walk(v, fn, `${pointer}/${key}/${k}`);
  }
  for (const key of ['items', 'allOf', 'anyOf', 'oneOf']) if (node[key]) walk(node[key], fn, `${pointer}/${key}`);
}

function checkStructure(schema, where) {
  walk(schema, (node, ptr) => {
    if (node.properties) {
      assert.equal(node.type, 'object', `${where}${ptr}: has properties but is not type object`);
      assert.equal(node.additionalProperties, false, `${where}${ptr}: object without additionalProperties false`);
      const keys = Object.keys(node.properties);
      const expected = keys.filter((k) => !OPTIONAL.has(k)).sort();
      assert.deepEqual([...(node.required ?? [])].sort(), expected, `${where}${ptr}: required must list every non-optional field`);
      for (const [k, p] of Object.entries(node.properties)) {
        assert.equal(typeof p.description, 'string', `${where}${ptr}/properties/${k}: no description`);
        assert.ok(p.description.length >= 5, `${where}${ptr}/properties/${k}: description too short`);
      }
    }
    if (node.type === 'object') assert.ok(node.properties, `${where}${ptr}: object schema without properties`);
    if (node.$ref) assert.match(node.$ref, /^common\.schema\.json#\/\$defs\/[A-Za-z]+$/, `${where}${ptr}: $ref must point into common.schema.json`);
  });
}

test('common.schema.json: closed objects, described properties', () => {
  checkStructure(loadCommonSchema(), COMMON_FILE);
});

for (const { file, name, type, schema } of schemas) {
  test(`${file}: metadata`, () => {
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(schema.$id, `https://orderly.dev/schemas/events/${name}.v1.schema.json`);
    assert.ok(schema.title?.includes(name), 'title names the event');
    assert.ok(schema.description?.length > 40, 'description says what the event means, who emits and consumes it');
    const m = TYPE_RE.exec(type ?? '');
    assert.ok(m, `x-orderly-type ${type} is not orderly.<service>.<Name>.v<N>`);
    assert.ok(SERVICES.includes(m[1]), `unknown service ${m[1]}`);
    assert.equal(m[2], name, 'x-orderly-type names the file');
    assert.equal(m[3], '1');
    assert.equal(schema['x-orderly-version'], 1);
    assert.equal(schema.type, 'object');
    assert.equal(schema.additionalProperties, false);
    assert.ok(Array.isArray(schema.examples) && schema.examples.length >= 1, 'at least one example');
    checkStructure(schema, file);
  });
}

const validators = compileAll();

for (const { file, type } of schemas) {
  test(`${file}: compiles (strict) and every example validates`, () => {
    const { validate, schema } = validators.get(type);
    for (const [i, ex] of schema.examples.entries()) {
      assert.ok(validate(ex), `examples[${i}] is invalid:\n${formatErrors(validate.errors)}`);
    }
  });
}

// ---- negative checks ----

const clone = (v) => structuredClone(v);
function setAt(obj, path, value) {
  const out = clone(obj);
  let node = out;
  for (const k of path.slice(0, -1)) node = node[k];
  if (value === undefined) delete node[path.at(-1)];
  else node[path.at(-1)] = value;
  return out;
}
// Every [path, value] in an example, depth first.
function* entries(v, path = []) {
  if (v && typeof v === 'object') {
    for (const [k, c] of Object.entries(v)) {
      yield [[...path, Array.isArray(v) ? Number(k) : k], c];
      yield* entries(c, [...path, Array.isArray(v) ? Number(k) : k]);
    }
  }
}
const isMoney = (v) => v && typeof v === 'object' && !Array.isArray(v) && 'amount' in v && 'currency' in v;

function rejects(validate, data, what) {
  assert.equal(validate(data), false, `accepted ${what}: ${JSON.stringify(data)}`);
}

for (const { file, type } of schemas) {
  test(`${file}: rejects invalid data`, () => {
    const { validate, schema } = validators.get(type);
    const ex = schema.examples[0];
    let checks = 0;
    const no = (data, what) => { rejects(validate, data, what); checks++; };

    no({ ...ex, unexpected: true }, 'an extra top-level property');
    no([ex], 'an array');
    for (const key of schema.required) no(setAt(ex, [key], undefined), `a missing ${key}`);
    for (const [path, v] of entries(ex)) {
      const at = path.join('.');
      if (isMoney(v)) {
        no(setAt(ex, [...path, 'amount'], -1), `a negative amount at ${at}`);
        no(setAt(ex, [...path, 'amount'], 12.5), `a fractional amount at ${at}`);
        no(setAt(ex, [...path, 'amount'], '1299'), `a string amount at ${at}`);
        no(setAt(ex, [...path, 'currency'], 'gbp'), `a lower-case currency at ${at}`);
        no(setAt(ex, [...path, 'currency'], 'POUND'), `a bad currency at ${at}`);
        no(setAt(ex, [...path, 'extra'], 1), `an extra property in Money at ${at}`);
      }
      const key = path.at(-1);
      if (typeof key === 'string' && /^(order|payment|shipment|notification)Id$/.test(key)) {
        no(setAt(ex, path, 'not-a-uuid'), `a non-UUID ${at}`);
        no(setAt(ex, path, `urn:uuid:${v}`), `a urn:uuid: ${at} (the C++ decoder rejects it)`);
      }
      if (key === 'customerId') {
        no(setAt(ex, path, ''), `an empty ${at}`);
        no(setAt(ex, path, 'c'.repeat(129)), `a 129-char ${at}`);
      }
      if (key === 'sku') {
        no(setAt(ex, path, 'mug-blue'), `a lower-case sku at ${at}`);
        no(setAt(ex, path, '-MUG'), `a sku starting with '-' at ${at}`);
        no(setAt(ex, path, 'A'.repeat(33)), `a 33-char sku at ${at}`);
      }
      if (key === 'quantity' || key === 'requested') {
        no(setAt(ex, path, 0), `${at} = 0`);
        no(setAt(ex, path, 1001), `${at} = 1001`);
      }
      if (key === 'country') no(setAt(ex, path, 'gb'), `a lower-case country at ${at}`);
      if (key === 'shippingAddress') {
        no(setAt(ex, [...path, 'name'], ''), `an empty name at ${at}`);
        no(setAt(ex, [...path, 'floor'], '3'), `an extra property in Address at ${at}`);
        assert.ok(validate(setAt(ex, [...path, 'line2'], undefined)), `line2 must be optional at ${at}:\n${formatErrors(validate.errors)}`);
      }
      if (Array.isArray(v) && typeof v[0] === 'string') {
        // A list of ids (CustomerErasureRequested.orderIds): may be empty, bounded, each a UUID.
        const max = schema.properties[key].maxItems;
        assert.ok(Number.isInteger(max), `${at} has no maxItems`);
        no(setAt(ex, path, Array(max + 1).fill(v[0])), `${max + 1} entries in ${at}`);
        no(setAt(ex, [...path, 0], 'not-a-uuid'), `a non-UUID in ${at}`);
        no(setAt(ex, [...path, 0], 7), `a number in ${at}`);
      } else if (Array.isArray(v)) {
        no(setAt(ex, path, []), `an empty ${at}`);
        no(setAt(ex, path, Array(101).fill(v[0])), `101 entries in ${at}`);
        no(setAt(ex, [...path, 0, 'extra'], 1), `an extra property in ${at}[0]`);
      }
      if (schema.properties[key]?.enum && path.length === 1) no(setAt(ex, path, 'bogus'), `an unknown ${at}`);
    }
    assert.ok(checks >= 4, `only ${checks} negative checks ran`);
  });
}

test('family-specific constraints', () => {
  const v = (name) => validators.get(schemas.find((s) => s.name === name).type);
  const ok = (name, data) => { const { validate } = v(name); assert.ok(validate(data), `${name} rejected ${JSON.stringify(data)}:\n${formatErrors(validate.errors)}`); };
  const no = (name, data, what) => rejects(v(name).validate, data, `${name} with ${what}`);
  const ex = (name) => clone(v(name).schema.examples[0]);

  no('SagaTimedOut', { ...ex('SagaTimedOut'), placedAt: '2025-03-14T09:26:53' }, 'a timestamp without offset');
  no('SagaTimedOut', { ...ex('SagaTimedOut'), placedAt: 'yesterday' }, 'a non-timestamp');
  ok('SagaTimedOut', { ...ex('SagaTimedOut'), placedAt: '2025-03-14T10:26:53+01:00' });
  no('PaymentDeclined', { ...ex('PaymentDeclined'), reason: '' }, 'an empty reason');
  no('PaymentDeclined', { ...ex('PaymentDeclined'), reason: 'x'.repeat(201) }, 'a 201-char reason');
  no('InventoryReleased', { ...ex('InventoryReleased'), restocked: 'yes' }, 'a string restocked');
  ok('InventoryReleased', { ...ex('InventoryReleased'), restocked: true });
  no('ProductUpdated', { ...ex('ProductUpdated'), available: -1 }, 'negative availability');
  ok('ProductUpdated', { ...ex('ProductUpdated'), available: 0 });
  no('InventoryReservationFailed', setAt(ex('InventoryReservationFailed'), ['shortages', 0, 'available'], -1), 'negative available');
  no('OrderPlaced', { ...ex('OrderPlaced'), paymentToken: '' }, 'an empty payment token');
  no('OrderPlaced', { ...ex('OrderPlaced'), paymentToken: 't'.repeat(65) }, 'a 65-char payment token');
  no('OrderPlaced', setAt(ex('OrderPlaced'), ['total', 'amount'], 1e12 + 1), 'an amount over 10^12');
  ok('OrderPlaced', setAt(ex('OrderPlaced'), ['total', 'amount'], 0));
  no('ShipmentCreated', { ...ex('ShipmentCreated'), carrier: '' }, 'an empty carrier');
  no('NotificationSent', { ...ex('NotificationSent'), channel: 'sms' }, 'an sms channel');
  no('NotificationSent', { ...ex('NotificationSent'), subject: '' }, 'an empty subject');
  for (const reason of ['payment_declined', 'out_of_stock', 'timeout', 'customer_request', 'fulfilment_timeout']) ok('OrderCancelled', { ...ex('OrderCancelled'), reason });
  for (const step of ['dispatch', 'deliver']) ok('CarrierProgressed', { ...ex('CarrierProgressed'), step });
  ok('CustomerErasureRequested', { ...ex('CustomerErasureRequested'), orderIds: [] });
  ok('CustomerErasureRequested', { ...ex('CustomerErasureRequested'), reason: 'retention' });
  for (const name of ['InventoryCustomerErased', 'PaymentsCustomerErased', 'ShippingCustomerErased', 'NotificationsCustomerErased']) {
    no(name, { ...ex(name), redacted: -1 }, 'a negative count');
    no(name, { ...ex(name), redacted: 1.5 }, 'a fractional count');
    ok(name, { ...ex(name), redacted: 0 });
  }
});
