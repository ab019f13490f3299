// Generates docs/events.md, the event catalogue, from the contracts:
//   - schemas/events/*.schema.json   payload fields, types, descriptions, examples
//   - schemas/asyncapi.yaml          the CloudEvents envelope (CloudEventEnvelope)
//   - infra/topology.json            who produces each type, which rules consume it
// plus the hand-written EVENT_NOTES below (trigger and state changes per type,
// per consuming rule), which tests/docs/events.test.mjs keeps complete.
//
//   node tests/docs/gen-events.mjs           # print to stdout
//   node tests/docs/gen-events.mjs --write   # rewrite docs/events.md (npm run docs:events)
//   node tests/docs/gen-events.mjs --check   # exit 1 when docs/events.md is stale
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { REPO_ROOT } from './lib.mjs';

export const OUTPUT = 'docs/events.md';
const EVENTS_DIR = join(REPO_ROOT, 'schemas', 'events');
const COMMON = 'common.schema.json';

// ---- hand-written: what happens around each event type -------------------------------
// trigger: when the producer emits it. effects: for each rule that consumes it (the keys
// must be exactly the rules of infra/topology.json that list the type), what that
// consumer changes. Read from services/<name>/src/domain.cpp and service.cpp.
export const EVENT_NOTES = {
  'orderly.orders.OrderPlaced.v1': {
    trigger:
      '`POST /v1/orders` was accepted (202). The orders service priced every line from its catalogue read model and wrote, in one unit of work, the order `ORDER#<orderId>` (PENDING), the listing item `CUSTOMER#<customerId>` / `ORDER#<orderId>`, this event and the `SagaTimedOut` timer.',
    effects: {
      'inventory.events':
        'Reserves every line or none. All available: `RESERVATION#<orderId>` becomes RESERVED, each product\'s `reserved` grows, `InventoryReserved` is emitted. Otherwise the reservation is FAILED and `InventoryReservationFailed` is emitted. A `CANCELLED_EARLY` tombstone (the cancel arrived first) or an existing reservation makes it a no-op.',
      'payments.events':
        'Calls the provider\'s authorise with the payment id derived from the order id (the provider\'s idempotency key). `PAYMENT#<orderId>` becomes AUTHORIZED (`PaymentAuthorized`), DECLINED (`PaymentDeclined`), or PENDING with no event when the provider does not answer (`tok_timeout`: the saga timeout decides). A transient provider error retries the delivery. An existing payment record (a `CANCELLED_EARLY` tombstone, or an earlier run) makes it a no-op.',
    },
  },
  'orderly.orders.OrderConfirmed.v1': {
    trigger:
      'The orders service holds both `InventoryReserved` and `PaymentAuthorized` for a PENDING order, in either order of arrival: the order becomes CONFIRMED.',
    effects: {
      'payments.events':
        'Captures: the provider capture runs, `PAYMENT#<orderId>` goes AUTHORIZED → CAPTURED and `PaymentCaptured` is emitted. A payment in any other state is a `failed_precondition` error (dead-lettered).',
      'shipping.events':
        'Records the customer and address on `SHIPMENT#<orderId>`: a new record is AWAITING_CAPTURE; an AWAITING_ORDER record (the capture came first) is created now: CREATED, `ShipmentCreated` emitted and `CarrierProgressed` (dispatch) scheduled. A CANCELLED record makes it a no-op.',
      'notifications.events': 'Renders `order_confirmed` into `MAILBOX#<customerId>` and emits `NotificationSent`.',
    },
  },
  'orderly.orders.OrderCancelled.v1': {
    trigger:
      'The orders service cancelled the order: a PENDING order on `PaymentDeclined` (`payment_declined`), `InventoryReservationFailed` (`out_of_stock`) or `SagaTimedOut` (`timeout`); a PENDING or CONFIRMED order on `POST /v1/orders/{orderId}/cancel` (`customer_request`; SHIPPED and DELIVERED orders refuse it with 409); a CONFIRMED order past its fulfilment deadline on `ShipmentCancelled` (`fulfilment_timeout`).',
    effects: {
      'inventory.events':
        'RESERVED → RELEASED (`reserved` decreases) or COMMITTED → RESTOCKED (`onHand` increases), emitting `InventoryReleased`. No reservation yet: a `CANCELLED_EARLY` tombstone, so a late `OrderPlaced` reserves nothing. FAILED or already released: no-op.',
      'payments.events':
        'AUTHORIZED or PENDING → VOIDED (provider void, `PaymentVoided`); CAPTURED → REFUNDED (provider refund, `PaymentRefunded`). No payment yet: a `CANCELLED_EARLY` tombstone. DECLINED: no-op. Already VOIDED, REFUNDED or CANCELLED_EARLY: a `failed_precondition` error (dead-lettered).',
      'shipping.events':
        'AWAITING_CAPTURE, AWAITING_ORDER or CREATED → CANCELLED, so a pending carrier timer does nothing. No shipment yet: a CANCELLED tombstone. DISPATCHED or DELIVERED: no-op, the parcel is out (the race accepted in ADR 0003).',
      'notifications.events': 'Renders `order_cancelled` (with the reason) into `MAILBOX#<customerId>` and emits `NotificationSent`.',
    },
  },
  'orderly.orders.OrderShipped.v1': {
    trigger:
      'The orders service saw `ShipmentDispatched` for a CONFIRMED order: the order becomes SHIPPED. Also emitted just before `OrderDelivered` when `ShipmentDelivered` overtakes the dispatch (no ordering guarantee).',
    effects: {},
  },
  'orderly.orders.OrderDelivered.v1': {
    trigger: 'The orders service saw `ShipmentDelivered` for a SHIPPED (or still CONFIRMED) order: the order becomes DELIVERED, the end of the happy path.',
    effects: {},
  },
  'orderly.orders.SagaTimedOut.v1': {
    trigger:
      'Scheduled by the orders service to its own rule `orders.timers` in the unit of work that places the order, due after the saga timeout (`orderly up --saga-timeout`, default 30 s; on AWS the `orders.timers` queue\'s `DeliveryDelay`, 30 s).',
    effects: {
      'orders.timers':
        'A PENDING order is cancelled with reason `timeout` (`OrderCancelled`). A CONFIRMED or SHIPPED order re-arms the timer until its fulfilment deadline (`orderly up --fulfilment-timeout`, default 1 h after confirmation); past it a CONFIRMED order emits `OrderCancellationRequested` (reason `fulfilment_timeout` once shipping stops the shipment), again on each timer while unanswered, and after 10 requests the order is escalated (`orderly_saga_deadlines_total{outcome="escalated"}`) and the timer stops. DELIVERED or CANCELLED: recorded in the timeline.',
    },
  },
  'orderly.inventory.InventoryReserved.v1': {
    trigger: 'The inventory service reserved every line of an `OrderPlaced` (available = on hand − reserved covered each quantity).',
    effects: {
      'orders.saga':
        'Sets the saga\'s `reserved` flag; with `authorized` already set the order becomes CONFIRMED (`OrderConfirmed`). On an order that is no longer PENDING it is only recorded in the timeline.',
    },
  },
  'orderly.inventory.InventoryReservationFailed.v1': {
    trigger: 'The inventory service could not reserve some line of an `OrderPlaced` (too few available, or a SKU it does not stock), so it reserved nothing.',
    effects: {
      'orders.saga':
        'A PENDING order is cancelled with reason `out_of_stock` (also for `unknown_sku`), emitting `OrderCancelled`. Otherwise it is only recorded in the timeline.',
    },
  },
  'orderly.inventory.InventoryReleased.v1': {
    trigger: 'The inventory service handled `OrderCancelled` for a RESERVED (released) or COMMITTED (restocked) reservation.',
    effects: {},
  },
  'orderly.inventory.InventoryCommitted.v1': {
    trigger: 'The inventory service handled `ShipmentCreated` for a RESERVED reservation: `onHand` and `reserved` both decrease by the reserved quantities.',
    effects: {},
  },
  'orderly.inventory.ProductUpdated.v1': {
    trigger:
      'The inventory service seeded its catalogue into an empty store (20 products, on first start) or an admin called `PUT /v1/products/{sku}`. Reservations, commits and releases do not emit it, so `available` is the figure at that moment.',
    effects: {
      'orders.catalogue':
        'Upserts `PRODUCT` / `<sku>` (name, price, `updatedAt` = event time) in the orders store: the price list new orders are priced from. An update older, by event time, than the stored one changes nothing.',
    },
  },
  'orderly.payments.PaymentAuthorized.v1': {
    trigger: 'The provider approved the authorisation requested for an `OrderPlaced` (`tok_ok`; `tok_flaky` after two transient failures).',
    effects: {
      'orders.saga':
        'Sets the saga\'s `authorized` flag; with `reserved` already set the order becomes CONFIRMED (`OrderConfirmed`). On an order that is no longer PENDING it is only recorded in the timeline (the cancel that ended it voids the authorisation).',
    },
  },
  'orderly.payments.PaymentDeclined.v1': {
    trigger: 'The provider declined the authorisation (`tok_decline`; the simulator also declines any token it does not know).',
    effects: {
      'orders.saga': 'A PENDING order is cancelled with reason `payment_declined` (`OrderCancelled`). Otherwise it is only recorded in the timeline.',
    },
  },
  'orderly.payments.PaymentCaptured.v1': {
    trigger: 'The payments service captured an AUTHORIZED payment on `OrderConfirmed`.',
    effects: {
      'shipping.events':
        'An AWAITING_CAPTURE shipment is created: CREATED, `ShipmentCreated` emitted and `CarrierProgressed` (dispatch) scheduled. No shipment yet (the capture overtook `OrderConfirmed`): an AWAITING_ORDER record. CANCELLED: no-op.',
    },
  },
  'orderly.payments.PaymentVoided.v1': {
    trigger: 'The payments service voided an authorisation (AUTHORIZED or PENDING) on `OrderCancelled`.',
    effects: {},
  },
  'orderly.payments.PaymentRefunded.v1': {
    trigger: 'The payments service refunded a CAPTURED payment on `OrderCancelled` (a customer cancel after confirmation).',
    effects: {},
  },
  'orderly.shipping.ShipmentCreated.v1': {
    trigger: 'The shipping service has seen both `OrderConfirmed` and `PaymentCaptured` for the order (either first) and booked the carrier simulator (`ParcelSim`).',
    effects: {
      'inventory.events':
        'RESERVED → COMMITTED: `onHand` and `reserved` decrease, `InventoryCommitted` is emitted. Already COMMITTED, RELEASED or RESTOCKED: no-op. No reservation, or a FAILED one: a `failed_precondition` error (dead-lettered).',
      'orders.saga':
        'A CONFIRMED order records the shipment id, carrier and tracking number (status unchanged). Otherwise it is only recorded in the timeline.',
    },
  },
  'orderly.shipping.ShipmentDispatched.v1': {
    trigger: 'The carrier simulator\'s dispatch step (`CarrierProgressed`, step `dispatch`) reached a CREATED shipment.',
    effects: {
      'orders.saga':
        'CONFIRMED → SHIPPED, emitting `OrderShipped`. SHIPPED, DELIVERED or CANCELLED: only recorded in the timeline. PENDING: a `failed_precondition` error (dead-lettered).',
      'notifications.events': 'Renders `shipment_dispatched` (carrier, tracking number) and emits `NotificationSent`.',
    },
  },
  'orderly.orders.OrderCancellationRequested.v1': {
    trigger:
      'A customer asked to cancel a CONFIRMED order (`POST /v1/orders/{orderId}/cancel`, answered 202), or the order passed its fulfilment deadline (`SagaTimedOut`); the order stays CONFIRMED with `cancellationRequested` until shipping answers. A repeated customer request emits nothing; the deadline asks again on each timer while unanswered.',
    effects: {
      'shipping.events':
        'Not yet left (none, AWAITING_CAPTURE, AWAITING_ORDER, CREATED) → CANCELLED, emitting `ShipmentCancelled`; the carrier never dispatches a cancelled shipment. DISPATCHED or DELIVERED: emits `ShipmentCancellationRefused`.',
    },
  },
  'orderly.shipping.ShipmentDelivered.v1': {
    trigger: 'The carrier simulator\'s deliver step (`CarrierProgressed`, step `deliver`) reached a DISPATCHED shipment.',
    effects: {
      'orders.saga':
        'SHIPPED → DELIVERED, emitting `OrderDelivered`; a still CONFIRMED order (the delivery overtook the dispatch) emits `OrderShipped` then `OrderDelivered`. DELIVERED or CANCELLED: only recorded in the timeline.',
      'notifications.events': 'Renders `shipment_delivered` and emits `NotificationSent`.',
    },
  },
  'orderly.shipping.ShipmentCancelled.v1': {
    trigger:
      'Shipping stopped a shipment that had not left (none yet, awaiting its capture or its order, or CREATED), in reply to `OrderCancellationRequested`; also answered again for a shipment already CANCELLED, so the order can conclude.',
    effects: {
      'orders.saga':
        'CONFIRMED → CANCELLED (reason `customer_request`, or `fulfilment_timeout` when the deadline asked), emitting `OrderCancelled`, which voids or refunds the payment and releases or restocks the items. Any other status: only recorded in the timeline.',
    },
  },
  'orderly.shipping.ShipmentCancellationRefused.v1': {
    trigger:
      'Shipping refused a customer\'s cancellation request because the shipment had left (`shipmentStatus` DISPATCHED or DELIVERED): dispatch is the point of no return.',
    effects: {
      'orders.saga': 'Clears the pending request; the status does not change and the order goes on to DELIVERED.',
    },
  },
  'orderly.shipping.CarrierProgressed.v1': {
    trigger:
      'Scheduled by the shipping service to its own rule `shipping.carrier`: step `dispatch` when the shipment is created, step `deliver` when it is dispatched, each due after the carrier delay (`orderly up --carrier-delay`, default 5 s; on AWS the `shipping.carrier` queue\'s `DeliveryDelay`, 5 s).',
    effects: {
      'shipping.carrier':
        '`dispatch`: CREATED → DISPATCHED, `ShipmentDispatched` emitted, `deliver` scheduled. `deliver`: DISPATCHED → DELIVERED, `ShipmentDelivered` emitted. A CANCELLED shipment ignores both; a repeated step is a no-op.',
    },
  },
  'orderly.notifications.NotificationSent.v1': {
    trigger:
      'The notifications service delivered a message through its channel (locally the mailbox `MAILBOX#<customerId>` in its own store): one per `OrderConfirmed`, `OrderCancelled`, `ShipmentDispatched` and `ShipmentDelivered`. The notification id derives from the triggering event\'s id.',
    effects: {},
  },
  'orderly.orders.CustomerErasureRequested.v1': {
    trigger:
      '`POST /v1/admin/customers/{customerId}/erase` (admin; `orderly customers erase ID` locally) was accepted, or retention found a delivered order past the retention period. Orders first refused (409) if one of the orders was not DELIVERED or CANCELLED, then replaced each order\'s shipping address with `[erased]` (one conditional write per order), purged its store, and wrote in one unit of work the erasure `ERASURE#<erasureId>` (IN_PROGRESS, `answered: {orders: n}`), the listing item `CUSTOMER#<customerId>` / `ERASURE#<erasureId>` and this event. Locally, the bus redacts its copies (archive, queued messages, dead letters) of the customer\'s and the orders\' events when it publishes this one, and checkpoints `bus.db` before any rule receives it.',
    effects: {
      'inventory.events': 'Nothing to redact (stock and reservations hold no personal data); emits `InventoryCustomerErased` with `redacted: 0`.',
      'payments.events': 'Nothing to redact (payments hold ids, amounts and states; never the token); emits `PaymentsCustomerErased` with `redacted: 0`.',
      'shipping.events': 'Replaces the address of each listed order\'s shipment `SHIPMENT#<orderId>` with `[erased]` (the country stays), one conditional write each; emits `ShippingCustomerErased` with how many shipments are erased.',
      'notifications.events': 'Deletes the customer\'s mailbox items `MAILBOX#<customerId>` about the listed orders; emits `NotificationsCustomerErased` with how many it deleted.',
    },
  },
  'orderly.inventory.InventoryCustomerErased.v1': {
    trigger:
      'Inventory handled a `CustomerErasureRequested`; it keeps nothing personal. The inventory service answers in the same unit of work as the request\'s inbox marker, after its writes are purged from its store\'s files (`ItemStore::purge_overwritten`: a truncating WAL checkpoint locally, nothing on DynamoDB).',
    effects: {
      'orders.erasure':
        'Adds `inventory` (with its count) to the erasure item `ERASURE#<erasureId>`\'s `answered`; an answer already there changes nothing. With all five answered, the erasure becomes `COMPLETED` with `completedAt`.',
    },
  },
  'orderly.payments.PaymentsCustomerErased.v1': {
    trigger:
      'Payments handled a `CustomerErasureRequested`; it keeps nothing personal. The payments service answers in the same unit of work as the request\'s inbox marker, after its writes are purged from its store\'s files (`ItemStore::purge_overwritten`: a truncating WAL checkpoint locally, nothing on DynamoDB).',
    effects: {
      'orders.erasure':
        'Adds `payments` (with its count) to the erasure item `ERASURE#<erasureId>`\'s `answered`; an answer already there changes nothing. With all five answered, the erasure becomes `COMPLETED` with `completedAt`.',
    },
  },
  'orderly.shipping.ShippingCustomerErased.v1': {
    trigger:
      'Shipping erased the addresses of the erasure\'s shipments. The shipping service answers in the same unit of work as the request\'s inbox marker, after its writes are purged from its store\'s files (`ItemStore::purge_overwritten`: a truncating WAL checkpoint locally, nothing on DynamoDB).',
    effects: {
      'orders.erasure':
        'Adds `shipping` (with its count) to the erasure item `ERASURE#<erasureId>`\'s `answered`; an answer already there changes nothing. With all five answered, the erasure becomes `COMPLETED` with `completedAt`.',
    },
  },
  'orderly.notifications.NotificationsCustomerErased.v1': {
    trigger:
      'Notifications deleted the mailbox messages of the erasure\'s orders. The notifications service answers in the same unit of work as the request\'s inbox marker, after its writes are purged from its store\'s files (`ItemStore::purge_overwritten`: a truncating WAL checkpoint locally, nothing on DynamoDB).',
    effects: {
      'orders.erasure':
        'Adds `notifications` (with its count) to the erasure item `ERASURE#<erasureId>`\'s `answered`; an answer already there changes nothing. With all five answered, the erasure becomes `COMPLETED` with `completedAt`.',
    },
  },
};

// What Orderly puts in each envelope attribute; the constraints come from
// asyncapi.yaml's CloudEventEnvelope. Attributes the parser rejects are listed too.
export const ENVELOPE_NOTES = {
  specversion: 'Always `1.0`; anything else is rejected.',
  id: 'A UUIDv7 minted when the event is created (`make_event`, platform/src/event.cpp), before it is written to the outbox. The deduplication key: consumers record `INBOX#<id>` / `<rule>`. Not the EventBridge event id, which differs.',
  source: '`orderly.<service>` of the producer. On AWS the pipe copies it to the EventBridge `source` (it must not start with `aws.`).',
  type: '`orderly.<service>.<Name>.v<N>`: names the version. Rules match on it; on AWS it becomes the EventBridge `detail-type`.',
  subject: 'What the event is about: the order id, the SKU for `ProductUpdated`, or the erasure id for `CustomerErasureRequested` and its answers.',
  time: 'When the fact happened: RFC 3339 in UTC with milliseconds (`format_rfc3339`).',
  datacontenttype: 'Always `application/json`; anything else is rejected.',
  traceparent:
    'W3C Trace Context of the span that emitted the event: the HTTP request\'s server span, or the consumer span that handled the cause (platform/include/orderly/platform/trace.hpp). The consumer opens a child span of it, so one trace id runs through the whole order.',
  partitionkey: 'Accepted by the parser (CloudEvents partitioning extension), but no Orderly producer sets it today; the buses give no ordering anyway.',
  correlationid: 'The id of the event that started the chain: for an order, its `OrderPlaced` (the `SagaTimedOut` timer gets it too). An event that starts a chain carries its own id.',
  causationid: 'The id of the event whose handling produced this one (`caused_by`). Absent on events no event caused: those of an API call (`OrderPlaced`, a customer\'s `OrderCancelled`, `ProductUpdated` from `PUT /v1/products/{sku}`), the catalogue seeding\'s `ProductUpdated`, and the `SagaTimedOut` timer.',
  data: 'The payload: a JSON object, decoded strictly per type (below). Unknown fields, wrong types and out-of-range values fail the delivery permanently (dead letter with the JSON path).',
  dataschema: 'Not used. The strict parser rejects any attribute it does not know, `dataschema` included: the schema is implied by `type`.',
};

// ---- rendering helpers -------------------------------------------------------------------

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

function cell(s) {
  return String(s ?? '').replace(/\|/g, '\\|').replace(/\n+/g, ' ').trim();
}

function code(s) {
  return `\`${s}\``;
}

const SHARED_SHAPES = ['Money', 'OrderLine', 'StockLine', 'Address'];
const SHARED_SCALARS = {
  Uuid: 'string (UUID)',
  Sku: 'string (SKU)',
  CustomerId: 'string, 1–128 chars',
  Quantity: 'integer, 1–1000',
};

function refName(ref) {
  const m = /^common\.schema\.json#\/\$defs\/(\w+)$/.exec(ref ?? '');
  if (!m) throw new Error(`unsupported $ref ${ref}: only common.schema.json#/$defs/<Name>`);
  return m[1];
}

function describeType(node) {
  if (node.$ref) {
    const name = refName(node.$ref);
    if (SHARED_SCALARS[name]) return SHARED_SCALARS[name];
    if (SHARED_SHAPES.includes(name)) return `[${name}](#${name.toLowerCase()})`;
    throw new Error(`no rendering for shared shape ${name}`);
  }
  const t = Array.isArray(node.type) ? node.type.join(' or ') : node.type;
  if (t === 'array') {
    const items = node.items ?? {};
    const inner = items.$ref ? describeType(items) : items.type === 'object' ? 'object' : describeType(items);
    const bounds = node.minItems !== undefined || node.maxItems !== undefined ? `, ${node.minItems ?? 0}–${node.maxItems ?? '∞'} items` : '';
    return `array of ${inner}${bounds}`;
  }
  const parts = [t];
  if (node.enum) parts.push(`one of ${node.enum.map(code).join(', ')}`);
  if (node.const !== undefined) parts.push(`always ${code(node.const)}`);
  if (node.format) parts.push(`format ${node.format}`);
  if (node.pattern) parts.push(`pattern ${code(node.pattern)}`);
  if (node.minLength !== undefined || node.maxLength !== undefined) parts.push(`${node.minLength ?? 0}–${node.maxLength ?? '∞'} chars`);
  if (node.minimum !== undefined || node.maximum !== undefined) parts.push(`${node.minimum ?? '−∞'}–${node.maximum ?? '∞'}`);
  return parts.join(', ');
}

// Field rows of an object schema; nested inline objects (and arrays of them) are
// expanded with dotted paths, shared shapes link to their section.
function fieldRows(schema, prefix = '') {
  const rows = [];
  const required = new Set(schema.required ?? []);
  for (const [name, node] of Object.entries(schema.properties ?? {})) {
    const path = `${prefix}${name}`;
    rows.push([code(path), describeType(node), required.has(name) ? 'yes' : 'no', node.description ?? '']);
    if (node.type === 'object' && node.properties) rows.push(...fieldRows(node, `${path}.`));
    if (node.type === 'array' && node.items?.type === 'object' && node.items.properties) rows.push(...fieldRows(node.items, `${path}[].`));
  }
  return rows;
}

function table(header, rows) {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

function withoutKey(o, key) {
  const { [key]: _, ...rest } = o;
  return rest;
}

function shortName(type) {
  return type.split('.')[2];
}

// ---- the inputs --------------------------------------------------------------------------

export function loadInputs() {
  const schemas = readdirSync(EVENTS_DIR)
    .filter((f) => f.endsWith('.schema.json') && f !== COMMON)
    .sort()
    .map((file) => {
      const schema = readJson(join(EVENTS_DIR, file));
      return { file, name: file.replace(/\.schema\.json$/, ''), type: schema['x-orderly-type'], schema };
    });
  const common = readJson(join(EVENTS_DIR, COMMON));
  const asyncapi = yaml.load(readFileSync(join(REPO_ROOT, 'schemas', 'asyncapi.yaml'), 'utf8'));
  const topology = readJson(join(REPO_ROOT, 'infra', 'topology.json'));
  return { schemas, common, asyncapi, topology };
}

// type -> { producer, timer, consumers: [{rule, service, timerDelaySeconds}] }
export function routing(topology) {
  const out = new Map();
  const entry = (t) => {
    if (!out.has(t)) out.set(t, { producer: undefined, consumers: [] });
    return out.get(t);
  };
  for (const svc of topology.services) for (const t of svc.produces) entry(t).producer = svc.name;
  for (const svc of topology.services)
    for (const rule of svc.rules)
      for (const t of rule.types) entry(t).consumers.push({ rule: rule.name, service: svc.name, timerDelaySeconds: rule.timerDelaySeconds });
  return out;
}

// ---- the document ------------------------------------------------------------------------

export function generate(inputs = loadInputs()) {
  const { schemas, common, asyncapi, topology } = inputs;
  const routes = routing(topology);
  const byType = new Map(schemas.map((s) => [s.type, s]));
  // Catalogue order: the topology's services, then each one's `produces` order;
  // then any schema no service produces (the tests flag those).
  const ordered = [];
  for (const svc of topology.services) for (const t of svc.produces) if (byType.has(t) && !ordered.includes(t)) ordered.push(t);
  for (const s of schemas) if (!ordered.includes(s.type)) ordered.push(s.type);

  const out = [];
  const p = (...lines) => out.push(...lines);

  p(
    '# Events',
    '',
    '<!-- Generated by tests/docs/gen-events.mjs from schemas/events/*.schema.json, schemas/asyncapi.yaml and infra/topology.json. Do not edit: run `npm run docs:events`. tests/docs/events.test.mjs fails when this file is stale. -->',
    '',
    'Every event exchanged by the five Orderly services, as the code defines it. The contracts are',
    '[`schemas/events/`](../schemas/events/) (one JSON Schema 2020-12 file per type), [`schemas/asyncapi.yaml`](../schemas/asyncapi.yaml)',
    '(AsyncAPI 3.0: channels, envelope, who sends and receives what) and [`infra/topology.json`](../infra/topology.json)',
    '(the rules, generated from the C++ subscription tables). In code each type is a struct with a strict decoder in',
    '[`services/contracts/`](../services/contracts/include/orderly/services/contracts/events.hpp).',
    '',
    '- [The envelope](#the-envelope)',
    '- [Catalogue](#catalogue)',
    '- [Delivery semantics](#delivery-semantics)',
    '- [Versioning and evolution](#versioning-and-evolution)',
    '- [Event types](#event-types)',
    '- [Shared shapes](#shared-shapes)',
    '',
  );

  // Envelope.
  const env = asyncapi.components.schemas.CloudEventEnvelope;
  const envRequired = new Set(env.required ?? []);
  const attrs = [...Object.keys(env.properties), 'dataschema'];
  const extensions = new Set(['traceparent', 'partitionkey', 'correlationid', 'causationid']);
  p(
    '## The envelope',
    '',
    'Every event is a [CloudEvents 1.0](https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md) event in',
    'JSON structured mode (`application/cloudevents+json`): the attributes and the payload in one JSON object.',
    '[`platform/include/orderly/platform/event.hpp`](../platform/include/orderly/platform/event.hpp) builds and strictly parses',
    'it: exactly the attributes below, nothing else, at most 256 KB (the EventBridge limit). On AWS the outbox pipe wraps the',
    'event text unchanged in the EventBridge `detail` as `{"event":{"S":"<CloudEvent JSON>"}}`',
    '([ADR 0005](adr/0005-outbox-to-eventbridge-with-pipes.md)); the SQS mapper unwraps it. The limit is checked at commit on',
    "that entry, where the event is an escaped string (every quote and backslash doubles), not on the event's own JSON",
    '(`pipe_entry_bytes`): an event that commits also fits the pipe.',
    '',
    table(
      ['attribute', 'kind', 'required', 'constraint', 'what Orderly puts in it'],
      attrs.map((a) => {
        const node = env.properties[a];
        const kind = a === 'data' ? 'payload' : extensions.has(a) ? 'extension' : 'core';
        if (!node) return [code(a), 'core (optional in CloudEvents)', 'rejected', '—', ENVELOPE_NOTES[a]];
        return [code(a), kind, envRequired.has(a) ? 'yes' : 'no', describeType(node), ENVELOPE_NOTES[a] ?? node.description];
      }),
    ),
    '',
    'An example, as the orders service writes it (from `schemas/asyncapi.yaml`):',
    '',
    '```json',
    JSON.stringify(withoutKey(asyncapi.components.messages.OrderPlaced.examples[0].payload, 'partitionkey'), null, 2),
    '```',
    '',
  );

  // Catalogue table and a diagram of who talks to whom.
  p('## Catalogue', '', 'Producer and consuming rules per type (a rule is one subscription: its own queue, retries and DLQ).', '');
  p(
    table(
      ['type', 'producer', 'consumed by (rule → service)'],
      ordered.map((t) => {
        const r = routes.get(t) ?? { consumers: [] };
        const consumers = r.consumers.length
          ? r.consumers.map((c) => `${code(c.rule)} → ${c.service}${c.timerDelaySeconds !== undefined ? ` (timer, ${c.timerDelaySeconds} s on AWS)` : ''}`).join('<br>')
          : 'none: terminal, kept for audit and analytics';
        return [`[${code(t)}](#${shortName(t).toLowerCase()})`, r.producer ?? '—', consumers];
      }),
    ),
    '',
  );
  const edges = new Map();
  for (const t of ordered) {
    const r = routes.get(t);
    if (!r?.producer) continue;
    for (const c of r.consumers) {
      const key = `${r.producer}->${c.service}`;
      if (!edges.has(key)) edges.set(key, []);
      edges.get(key).push(shortName(t));
    }
  }
  p('```mermaid', 'flowchart LR');
  for (const svc of topology.services) p(`  ${svc.name}[${svc.name}]`);
  for (const [key, names] of edges) {
    const [from, to] = key.split('->');
    p(`  ${from} -->|"${names.join('<br/>')}"| ${to}`);
  }
  p('```', '');

  // Delivery semantics.
  p(
    '## Delivery semantics',
    '',
    'The same on both runtimes, by design (the embedded bus copies what AWS gives rather than anything stronger):',
    '',
    '- **Transactional outbox.** A producer writes its events as items `OUTBOX` / `<event id>` in the same transaction as its',
    '  state (`UnitOfWork::emit`, [`platform/src/unit_of_work.cpp`](../platform/src/unit_of_work.cpp)). Locally a relay moves',
    '  committed items to the bus, idempotent on the event id; on AWS the table\'s stream feeds an EventBridge pipe. An event is',
    '  never published for state that was not committed, and never lost for state that was.',
    '- **At least once.** Every hop may repeat a delivery: the relay after a crash, the pipe (retries, bisection), EventBridge',
    '  (retries to SQS), SQS, and the consumer\'s own retries.',
    '- **Idempotent consumers.** `handle_once` records `INBOX#<event id>` / `<rule name>` (TTL 30 days) in the same transaction',
    '  as the handler\'s effects and checks it first, so a duplicate has no second effect. Provider calls (authorise, capture,',
    '  void, refund) are keyed by the payment id, so a retry after a failed commit charges nothing twice.',
    '- **No ordering.** Events of one order can arrive in any order (standard SQS queues; the embedded bus does not order',
    '  either). Handlers accept facts in any order: tombstones for cancels that overtake, either-order joins (reservation and',
    '  authorisation; confirmation and capture), and late facts that only reach the timeline.',
    '- **Retries and dead letters.** A handler answers each message ok, retry (`transient`, `conflict`) or fail (every other',
    '  error kind); one bad message never fails its batch.',
    '  - Embedded ([`adapters/embedded/src/durable_bus.cpp`](../adapters/embedded/src/durable_bus.cpp)): a retry becomes visible',
    '    after full-jitter backoff (base 200 ms, cap 3 s); after 10 receives, or at once on fail, the message moves to the DLQ with',
    '    its last error; `orderly dlq list` / `orderly dlq redrive RULE` inspect and redrive.',
    '  - AWS: a failed item is reported in `batchItemFailures`, and the events handler sets its visibility with',
    '    `ChangeMessageVisibilityBatch`: a retry reappears after the same full-jitter backoff (in whole seconds), a permanent',
    '    failure at once (SQS has no "fail now"), so it reaches `orderly-<stage>-<rule>-dlq` (14 days) after 10 quick receives;',
    '    redrive with `aws sqs start-message-move-task`. Only an invocation that crashes or times out leaves its batch to the',
    '    queue\'s visibility timeout (180 s). The error is in the function\'s log, not on the message.',
    '  - EventBridge retries delivery to a rule queue for 24 hours (185 attempts), then sends it to `orderly-<stage>-event-delivery-dlq`; the',
    '    pipe retries a stream batch 10 times (bisecting), then sends the record\'s metadata to `orderly-<stage>-<service>-outbox-pipe-dlq`.',
    '- **Delayed delivery.** Timers (`SagaTimedOut`, `CarrierProgressed`) are outbox items addressed to one rule with a due time',
    '  (`UnitOfWork::schedule`). Locally the due time is the message\'s `visible_at`; on AWS the timer rule\'s queue has a fixed',
    '  `DeliveryDelay` (`timerDelaySeconds` in `infra/topology.json`, at most 900 s).',
    '- **Archive and replay.** Locally every event is kept in the bus archive (7 days; `DurableBus::replay` re-enqueues a rule\'s',
    '  events of a time window, with no CLI command yet);',
    '  on AWS the `orderly-<stage>-all` EventBridge archive keeps every `orderly.*` event for 30 days (`aws events start-replay`). A replay',
    '  is safe within the inboxes\' 30 days: they drop what was already handled.',
    '',
  );

  // Versioning.
  p(
    '## Versioning and evolution',
    '',
    'The version is part of the type (`.v1`), and each schema says it in `x-orderly-version`. The decoders are strict',
    '(`additionalProperties: false` in the schemas, unknown fields rejected in C++; [ADR 0004](adr/0004-json-cloudevents-and-json-schema.md)),',
    'which decides the policy:',
    '',
    '- **Compatible change, same type:** a new optional field, a wider range, a new enum value that every consumer handles. Add it',
    '  to the schema and to the decoder in the same commit, deploy the consumers first and the producer last: a producer must never',
    '  send a field a deployed consumer does not know, because that consumer would dead-letter the event. On AWS that means the',
    '  consuming functions are updated before the producing one; locally all services ship in one binary.',
    '- **Breaking change, new type:** removing or renaming a field, changing a type or meaning, a required new field. Publish',
    '  `orderly.<service>.<Name>.v2` with its own schema file, next to `.v1`: the producer emits both from the same unit of work',
    '  (two outbox items, different ids). Each consumer moves its rule from `.v1` to `.v2` (a topology change, so the AWS rules',
    '  follow on the next deploy). When no rule lists `.v1` any more and the DLQs and the replay window (the 30-day archive) no',
    '  longer need it, the producer stops emitting `.v1` and its schema is deleted.',
    '- **Checks:** `tests/contract` validates every schema example against the C++ decoders, every emitted sample against its',
    '  schema, and the AsyncAPI document against the code\'s subscriptions; this file is regenerated from the same sources.',
    '- **Compatibility test:** `tests/contract/compat.test.mjs` compares every schema with its last release, a committed',
    '  snapshot in `schemas/released/events/`, and fails on a change that is incompatible inside one version: a property',
    '  removed, a field newly required, a type narrowed, an enum value dropped, a bound tightened, a pattern, format or `$ref`',
    '  changed, `additionalProperties` closed, a released type deleted (the rules: `tests/contract/compat.mjs`). A new type',
    '  version (a new file) has no release to compare. After both deploy steps below, refresh the snapshot',
    '  (`cp schemas/events/*.schema.json schemas/released/events/`).',
    '',
    '### Deploying a schema change',
    '',
    'One `cdk deploy` updates every function at once, so a change that consumers must know first is deployed in two steps.',
    'The producer is held back on its previous release\'s code (`-c holdBack`, with the previous zips in',
    '`-c previousLambdaDir`; `infra/test/deploy-order.test.ts` checks that only its functions keep their code):',
    '',
    '```sh',
    '# the release running now, kept from its build (its <service>.zip files)',
    'cp -r build/lambda release/previous',
    '# build the new release (consumers decode the new field or accept .v2; the producer sends it)',
    'make lambda',
    '# step 1: every consumer gets the new code; the producer (here payments) keeps the old',
    'cd infra && npx cdk deploy -c stage=prod -c lambdaDir=../build/lambda \\',
    '  -c holdBack=payments -c previousLambdaDir=../release/previous',
    '# wait until the consumers run the new version (no function errors, DLQs empty), then',
    '# step 2: the producer starts sending',
    'npx cdk deploy -c stage=prod -c lambdaDir=../build/lambda',
    '```',
    '',
    'A rollback goes in the reverse order: the producer first (step 2 with the previous zips as `lambdaDir` and the',
    'consumers held back on the new ones), then the consumers. For a new type version (`.v2`) step 1 also carries the rule',
    'changes that subscribe the consumers to `.v2`; the producer emits both versions from step 2 until `.v1` is retired.',
    'Locally every service ships in one binary, so `orderly up` needs none of this.',
    '',
  );

  // Per type.
  p('## Event types', '');
  for (const t of ordered) {
    const s = byType.get(t);
    const r = routes.get(t) ?? { consumers: [] };
    const notes = EVENT_NOTES[t];
    if (!notes) throw new Error(`EVENT_NOTES has no entry for ${t}`);
    const channel = Object.values(asyncapi.channels ?? {}).find((c) => c.address === t);
    p(`### ${s.name}`, '');
    p(s.schema.description, '');
    p(
      table(
        ['property', 'value'],
        [
          ['type', code(t)],
          ['source', code(`orderly.${t.split('.')[1]}`)],
          ['subject', t === 'orderly.inventory.ProductUpdated.v1' ? 'the SKU' : 'the order id'],
          ['version', String(s.schema['x-orderly-version'])],
          ['schema', `[schemas/events/${s.file}](../schemas/events/${s.file})`],
          ['AsyncAPI channel', channel ? code(Object.entries(asyncapi.channels).find(([, c]) => c === channel)[0]) : 'none'],
          ['producer', r.producer ?? '—'],
          [
            'consumers',
            r.consumers.length ? r.consumers.map((c) => `${c.service} (rule ${code(c.rule)})`).join(', ') : 'none (terminal: audit and analytics)',
          ],
        ],
      ),
      '',
    );
    p(`**Trigger.** ${notes.trigger}`, '');
    p('**Payload** (`data`):', '');
    p(table(['field', 'type', 'required', 'meaning'], fieldRows(s.schema)), '');
    p('**State changes it causes.**', '');
    if (r.consumers.length === 0) p('None: no service consumes it.', '');
    for (const c of r.consumers) p(`- ${c.service} (${code(c.rule)}): ${notes.effects[c.rule]}`);
    if (r.consumers.length) p('');
    p('**Example** (`data`, from the schema):', '', '```json', JSON.stringify(s.schema.examples?.[0] ?? {}, null, 2), '```', '');
  }

  // Shared shapes.
  p('## Shared shapes', '', `Defined once in [schemas/events/${COMMON}](../schemas/events/${COMMON}) and referenced by the payloads.`, '');
  for (const name of SHARED_SHAPES) {
    const def = common.$defs[name];
    p(`### ${name}`, '', def.description, '', table(['field', 'type', 'required', 'meaning'], fieldRows(def)), '');
  }
  p(
    'Scalars: `Uuid` is the canonical 8-4-4-4-12 hex form (Orderly mints UUIDv7, or UUIDv8 for ids derived from another id);',
    '`Sku` is 1 to 32 upper-case letters, digits and hyphens, not starting with a hyphen; `CustomerId` is the JWT subject,',
    'opaque, 1 to 128 characters; `Quantity` is an integer from 1 to 1000.',
    '',
  );
  return out.join('\n');
}

// ---- command line ------------------------------------------------------------------------

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = generate();
  const target = join(REPO_ROOT, OUTPUT);
  if (process.argv.includes('--write')) {
    writeFileSync(target, text);
    console.error(`wrote ${OUTPUT}`);
  } else if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(target, 'utf8');
    } catch {}
    if (current !== text) {
      console.error(`${OUTPUT} is stale: run npm run docs:events`);
      process.exit(1);
    }
  } else {
    process.stdout.write(text);
  }
}
