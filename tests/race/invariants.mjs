// The race client's invariants, checked on the stores read directly (see
// stores.mjs) after the server has stopped, plus what the client saw.
//
// Money facts come from the simulated provider's ledger (provider-simulator.db,
// pk ACCOUNT, sk = payment id: authorized, captured, voided, refunded, captureCalls,
// refundCalls, capturedAmount, refundedAmount), which the provider persists on every
// call (services/payments/src/simulated_provider.cpp), cross-checked with the
// payments store's PAYMENT#<orderId> records and with the event log (bus.db's
// archive: every committed event, once per id). The invariants are those of the
// deterministic simulator (tests/simulation/simulator.cpp, check()), plus the
// client's: nothing acknowledged is lost and nothing is placed twice.
//
// check(dump, facts) is pure: dump from dumpStores(), facts =
//   {seeded: {sku: onHand at the first start},
//    orders: [client record per planned order: {index, key, customer, orderIds: [..],
//             accepted, orderId, cancel: {answered, status, bodyStatus,
//             cancellationRequested}, ...}],
//    clientErrors: [{what, ...}], unexpectedExits: [...], stop: {code, signal, killed}}
// Returns {violations: [{order, kind, what, details}], stats}.

export const TERMINAL = new Set(['DELIVERED', 'CANCELLED']);
const LEFT = new Set(['DISPATCHED', 'DELIVERED']); // the shipment is with the carrier
const CANCELLED_PAYMENT_OK = new Set(['DECLINED', 'VOIDED', 'REFUNDED', 'CANCELLED_EARLY']);
const CANCELLED_RESERVATION_OK = new Set(['FAILED', 'RELEASED', 'RESTOCKED', 'CANCELLED_EARLY']);
// Events an order can cause at most once each (bus.db's archive holds every
// committed event once, by id): a second one is an effect applied twice.
const ONCE = ['OrderPlaced', 'OrderConfirmed', 'OrderCancelled', 'OrderShipped', 'OrderDelivered',
  'InventoryReserved', 'InventoryCommitted', 'InventoryReleased',
  'PaymentAuthorized', 'PaymentCaptured', 'PaymentVoided', 'PaymentRefunded',
  'ShipmentCreated', 'ShipmentDispatched', 'ShipmentDelivered'];
// Timer messages left in the queue at rest are harmless: a SagaTimedOut for
// a terminal order only joins its timeline.
const TIMER_RULES = new Set(['orders.timers']);

// ---- platform::derived_uuid (platform/src/id.cpp), to find an order's ledger account

const M64 = (1n << 64n) - 1n;
function fnv1a(a, b, seed) {
  let h = seed;
  const mix = (bytes) => {
    for (const c of bytes) {
      h ^= BigInt(c);
      h = (h * 1099511628211n) & M64;
    }
  };
  mix(Buffer.from(a, 'utf8'));
  mix([0x1f]);
  mix(Buffer.from(b, 'utf8'));
  h = (h + 0x9e3779b97f4a7c15n) & M64;
  h = ((h ^ (h >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  h = ((h ^ (h >> 27n)) * 0x94d049bb133111ebn) & M64;
  return h ^ (h >> 31n);
}

export function derivedUuid(space, name) {
  const hi = fnv1a(space, name, 14695981039346656037n);
  const lo = fnv1a(space, name, 0x84222325cbf29ce4n);
  const b = [];
  for (let i = 0; i < 8; i++) b.push(Number((hi >> BigInt(56 - 8 * i)) & 0xffn));
  for (let i = 0; i < 8; i++) b.push(Number((lo >> BigInt(56 - 8 * i)) & 0xffn));
  b[6] = 0x80 | (b[6] & 0x0f);
  b[8] = 0x80 | (b[8] & 0x3f);
  const h = b.map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const paymentIdFor = (orderId) => derivedUuid('orderly.payments', orderId);

// ---- helpers

function byKey(items, pkPrefix, sk) {
  const m = new Map();
  for (const it of items) if (it.pk.startsWith(pkPrefix) && (sk === undefined || it.sk === sk)) m.set(it.pk.slice(pkPrefix.length), it.attrs);
  return m;
}

const amount = (m) => (m && Number.isFinite(m.amount) ? m.amount : 0);

// Event types are `orderly.<service>.<Name>.v<n>` (services/contracts/.../events.hpp).
export function shortType(type) {
  const m = /^orderly\.[a-z]+\.([A-Za-z]+)\.v\d+$/.exec(type ?? '');
  return m ? m[1] : type;
}

function count(timeline, name) {
  return (timeline ?? []).filter((t) => shortType(t.type) === name).length;
}

// A compact view of an order's rows, for a violation report.
export function orderRows(id, ctx) {
  const o = ctx.orders.get(id);
  const payment = ctx.payments.get(id);
  const account = ctx.accounts.get(paymentIdFor(id));
  return {
    order: o && {
      status: o.status,
      total: o.total,
      items: o.items?.map((l) => `${l.sku}x${l.quantity}`).join(' '),
      saga: o.saga,
      cancellationReason: o.cancellationReason,
      timeline: (o.timeline ?? []).map((t) => `${t.time} ${shortType(t.type)}`),
    },
    payment: payment ?? null,
    ledger: account ?? null,
    shipment: ctx.shipments.get(id) ? { status: ctx.shipments.get(id).status, shipmentId: ctx.shipments.get(id).shipmentId } : null,
    reservation: ctx.reservations.get(id) ?? null,
    client: ctx.client.get(id) ?? null,
  };
}

// ---- the check

export function check(dump, facts) {
  const s = dump.stores;
  const ctx = {
    orders: byKey(s.orders, 'ORDER#', 'ORDER'),
    payments: byKey(s.payments, 'PAYMENT#', 'PAYMENT'),
    shipments: byKey(s.shipping, 'SHIPMENT#', 'SHIPMENT'),
    reservations: byKey(s.inventory, 'RESERVATION#', 'RESERVATION'),
    products: new Map(s.inventory.filter((it) => it.pk === 'PRODUCT').map((it) => [it.sk, it.attrs])),
    accounts: new Map(s['provider-simulator'].filter((it) => it.pk === 'ACCOUNT').map((it) => [it.sk, it.attrs])),
    client: new Map(),
  };
  for (const c of facts.orders ?? []) for (const id of c.orderIds ?? []) ctx.client.set(id, c);

  const violations = [];
  const violate = (order, kind, what, extra) => {
    const v = { order: order ?? null, kind, what };
    if (order) v.details = orderRows(order, ctx);
    if (extra !== undefined) v.extra = extra;
    violations.push(v);
  };

  // The event log, per order: {short type: count}.
  const events = new Map();
  for (const e of dump.bus.archive ?? []) {
    if (!e.subject) continue;
    const m = events.get(e.subject) ?? {};
    const k = shortType(e.type);
    m[k] = (m[k] ?? 0) + 1;
    events.set(e.subject, m);
  }
  const stats = { ordersInStore: ctx.orders.size, status: {}, reasons: {}, cancelRequests: 0, refused: 0, shipmentCancelled: 0, dispatchedUnits: 0 };
  const shipped = {};
  const knownPaymentIds = new Set();

  for (const [id, o] of ctx.orders) {
    stats.status[o.status] = (stats.status[o.status] ?? 0) + 1;
    if (o.status === 'CANCELLED') stats.reasons[o.cancellationReason] = (stats.reasons[o.cancellationReason] ?? 0) + 1;

    // Liveness and the customer's requests.
    if (!TERMINAL.has(o.status)) violate(id, 'liveness', `still ${o.status} at rest`);
    if (o.saga?.cancellationRequested) violate(id, 'liveness', 'a cancellation request is still open at rest');
    const requested = count(o.timeline, 'OrderCancellationRequested');
    const answered = count(o.timeline, 'ShipmentCancelled') + count(o.timeline, 'ShipmentCancellationRefused');
    stats.cancelRequests += requested;
    stats.refused += count(o.timeline, 'ShipmentCancellationRefused');
    stats.shipmentCancelled += count(o.timeline, 'ShipmentCancelled');
    if (requested !== answered)
      violate(id, 'liveness', `${requested} cancellation request(s) but ${answered} answer(s) from shipping`);

    // Effects: no event applied twice to the order.
    const seen = new Set();
    for (const t of o.timeline ?? []) {
      if (seen.has(t.eventId)) violate(id, 'effects', `${t.type} ${t.eventId} applied twice to the order`);
      seen.add(t.eventId);
    }

    // Effects, from the event log: each step at most once; money and goods as the events say.
    const ev = events.get(id) ?? {};
    for (const name of ONCE) if ((ev[name] ?? 0) > 1) violate(id, 'effects', `${ev[name]} ${name} events in the event log`);
    if (o.status === 'CANCELLED') {
      if ((ev.PaymentCaptured ?? 0) !== (ev.PaymentRefunded ?? 0))
        violate(id, 'money', `cancelled, but the event log has ${ev.PaymentCaptured ?? 0} PaymentCaptured and ${ev.PaymentRefunded ?? 0} PaymentRefunded`);
      if ((ev.ShipmentDispatched ?? 0) + (ev.ShipmentDelivered ?? 0) > 0)
        violate(id, 'goods', `cancelled, but the event log has ShipmentDispatched ${ev.ShipmentDispatched ?? 0}, ShipmentDelivered ${ev.ShipmentDelivered ?? 0}`);
    }
    if (o.status === 'DELIVERED') {
      if ((ev.PaymentCaptured ?? 0) !== 1 || (ev.PaymentRefunded ?? 0) !== 0 || (ev.PaymentVoided ?? 0) !== 0)
        violate(id, 'money', `delivered, but the event log has PaymentCaptured ${ev.PaymentCaptured ?? 0}, PaymentRefunded ${ev.PaymentRefunded ?? 0}, PaymentVoided ${ev.PaymentVoided ?? 0}`);
      if ((ev.ShipmentDispatched ?? 0) !== 1 || (ev.ShipmentDelivered ?? 0) !== 1)
        violate(id, 'goods', `delivered, but the event log has ShipmentDispatched ${ev.ShipmentDispatched ?? 0}, ShipmentDelivered ${ev.ShipmentDelivered ?? 0}`);
    }

    const payment = ctx.payments.get(id);
    const pid = paymentIdFor(id);
    knownPaymentIds.add(pid);
    if (payment && payment.paymentId !== pid)
      violate(id, 'checker', `payment id ${payment.paymentId} is not derived_uuid("orderly.payments", order id) = ${pid}`);
    const acct = ctx.accounts.get(pid) ?? {};
    const net = (acct.captured ? amount(acct.capturedAmount) : 0) - (acct.refunded ? amount(acct.refundedAmount) : 0);
    const ship = ctx.shipments.get(id);
    const left = !!ship && LEFT.has(ship.status);
    const res = ctx.reservations.get(id);

    // Money, whatever the outcome.
    if (acct.authorized && !acct.captured && !acct.voided) violate(id, 'money', 'an authorisation hold is left open at the provider');
    // (No count of captures per account: the provider answers a replay under the
    // same key with the first outcome, so one could never exceed 1. Money moved
    // twice shows as a second key: an account that belongs to no order, below.)

    if (o.status === 'CANCELLED') {
      if (net !== 0) violate(id, 'money', `cancelled but ${net} kept (captured ${acct.captured ? amount(acct.capturedAmount) : 0}, refunded ${acct.refunded ? amount(acct.refundedAmount) : 0})`);
      if (acct.captured && !acct.refunded) violate(id, 'money', 'cancelled but CAPTURED without a refund at the provider');
      if (!payment) violate(id, 'money', 'cancelled, but payments never recorded the cancellation');
      else if (!CANCELLED_PAYMENT_OK.has(payment.status)) violate(id, 'money', `cancelled but the payment is ${payment.status}`);
      // The issue 9 race as the orders store saw it: ShipmentDispatched then OrderCancelled.
      for (const name of ['ShipmentDispatched', 'ShipmentDelivered'])
        if (count(o.timeline, name) > 0) violate(id, 'goods', `cancelled, yet ${name} is in the order's timeline`);
      if (left) violate(id, 'goods', `cancelled but the shipment is ${ship.status}: goods left for an order whose money was returned`);
      else if (!ship) violate(id, 'goods', 'cancelled, but shipping never recorded the cancellation');
      else if (ship.status !== 'CANCELLED') violate(id, 'goods', `cancelled but the shipment is ${ship.status} at rest`);
      if (!res) violate(id, 'goods', 'cancelled, but inventory never recorded the cancellation');
      else if (!CANCELLED_RESERVATION_OK.has(res.status)) violate(id, 'goods', `cancelled but the reservation is ${res.status} (not released)`);
    }
    if (o.status === 'DELIVERED') {
      if (!acct.captured) violate(id, 'money', 'delivered but never captured at the provider');
      else if (amount(acct.capturedAmount) !== amount(o.total) || acct.capturedAmount?.currency !== o.total?.currency)
        violate(id, 'money', `delivered; captured ${JSON.stringify(acct.capturedAmount)} != total ${JSON.stringify(o.total)}`);
      if (acct.refunded) violate(id, 'money', 'delivered and refunded');
      if (acct.voided) violate(id, 'money', 'delivered but the payment id is voided at the provider');
      if (!payment || payment.status !== 'CAPTURED') violate(id, 'money', `delivered but the payment is ${payment?.status ?? 'missing'}`);
      if (!left) violate(id, 'goods', `delivered but the shipment is ${ship?.status ?? 'missing'}`);
      else if (ship.status !== 'DELIVERED') violate(id, 'goods', `delivered but the shipment is ${ship.status}`);
      if (!res || res.status !== 'COMMITTED') violate(id, 'goods', `delivered but the reservation is ${res?.status ?? 'missing'}`);
    }
    if (left) for (const l of o.items ?? []) {
      shipped[l.sku] = (shipped[l.sku] ?? 0) + l.quantity;
      stats.dispatchedUnits += l.quantity;
    }
  }

  // Money at the provider for no known order.
  for (const [pid, a] of ctx.accounts)
    if (!knownPaymentIds.has(pid) && (a.authorized || a.captured))
      violate(null, 'money', `ledger account ${pid} (authorized ${a.authorized}, captured ${a.captured}) belongs to no order`, a);

  // Goods: on hand = seeded - shipped, nothing reserved at rest.
  for (const [sku, seededOnHand] of Object.entries(facts.seeded ?? {})) {
    const p = ctx.products.get(sku);
    if (!p) {
      violate(null, 'goods', `product ${sku} missing from the inventory store`);
      continue;
    }
    if (p.reserved !== 0) violate(null, 'goods', `${sku} has ${p.reserved} reserved at rest`, p);
    const want = seededOnHand - (shipped[sku] ?? 0);
    if (p.onHand !== want) violate(null, 'goods', `${sku} on hand ${p.onHand} != seeded ${seededOnHand} - shipped ${shipped[sku] ?? 0} = ${want}`, p);
  }

  // The bus: no dead letters; nothing but harmless timers left undelivered.
  for (const d of dump.bus.dlq) {
    let subject = null;
    try {
      subject = JSON.parse(d.body).subject ?? null;
    } catch {
      /* not JSON */
    }
    violate(subject && ctx.orders.has(subject) ? subject : null, 'dlq',
      `${d.rule} ${d.type} dead after ${d.receive_count} receives: ${d.last_error}`, { eventId: d.event_id, subject });
  }
  const pending = dump.bus.messages.filter((m) => !TIMER_RULES.has(m.rule));
  if (pending.length > 0)
    violate(null, 'rest', `${pending.length} message(s) still queued outside the timer rules after the stop`,
      pending.slice(0, 20).map(({ body, ...m }) => m));
  for (const [svc, rows] of Object.entries(dump.outbox))
    if (rows.length > 0) violate(null, 'rest', `${rows.length} unrelayed outbox item(s) in ${svc}`, rows.slice(0, 20));

  // What the client saw.
  const items = new Map(s.orders.map((it) => [`${it.pk}\u0000${it.sk}`, it.attrs]));
  for (const [id, o] of ctx.orders)
    if (!items.has(`CUSTOMER#${o.customerId}\u0000ORDER#${id}`)) violate(id, 'durability', `the customer's list entry CUSTOMER#${o.customerId} / ORDER#${id} is missing`);
  const acceptedIds = new Set();
  for (const c of facts.orders ?? []) {
    const ids = [...new Set(c.orderIds ?? [])];
    if (ids.length > 1) for (const id of ids) violate(ctx.orders.has(id) ? id : null, 'client', `Idempotency-Key ${c.key} answered with ${ids.length} different orders: ${ids.join(', ')}`);
    if (!c.accepted) continue;
    acceptedIds.add(c.orderId);
    if (!ctx.orders.has(c.orderId)) {
      violate(null, 'durability', `order ${c.orderId} (key ${c.key}) was answered 202 but is not in the orders store`, c);
      continue;
    }
    const o = ctx.orders.get(c.orderId);
    // The Idempotency-Key's record (orders store, 24 h) names the order, so a
    // retry after a crash finds it instead of placing another.
    if (c.customer) {
      const rec = items.get(`IDEMPOTENCY#${c.customer.length}:${c.customer}#${c.key}\u0000KEY`);
      if (!rec) violate(c.orderId, 'durability', `the idempotency record of key ${c.key} is missing`);
      else if (rec.orderId !== c.orderId) violate(c.orderId, 'client', `the idempotency record of key ${c.key} names ${rec.orderId}`);
    }
    const cancel = c.cancel;
    if (!cancel || !cancel.answered) {
      violate(c.orderId, 'client', 'the cancel request never got an answer');
      continue;
    }
    if (cancel.status === 202) {
      if (cancel.bodyStatus === 'CANCELLED' && o.status !== 'CANCELLED')
        violate(c.orderId, 'client', `cancel answered 202 CANCELLED but the order is ${o.status}`);
      else if (cancel.bodyStatus === 'CONFIRMED' && cancel.cancellationRequested) {
        if (count(o.timeline, 'OrderCancellationRequested') === 0)
          violate(c.orderId, 'client', 'cancel answered 202 (requested) but no OrderCancellationRequested is in the timeline');
        if (!(o.status === 'CANCELLED' || count(o.timeline, 'ShipmentCancellationRefused') > 0))
          violate(c.orderId, 'client', `cancel answered 202 (requested) but the order is ${o.status} with no refusal recorded`);
      } else if (cancel.bodyStatus !== 'CANCELLED')
        violate(c.orderId, 'client', `cancel answered 202 with an unexpected body: ${cancel.bodyStatus}, cancellationRequested ${cancel.cancellationRequested}`);
    } else if (cancel.status !== 409 && cancel.status !== 200) {
      violate(c.orderId, 'client', `cancel answered ${cancel.status}`);
    }
  }
  for (const id of ctx.orders.keys())
    if (!acceptedIds.has(id)) violate(id, 'client', 'an order in the store that the client never saw accepted (placed twice?)');
  for (const e of facts.clientErrors ?? []) violate(e.orderId ?? null, 'client', e.what, e);
  for (const x of facts.unexpectedExits ?? []) violate(null, 'server', `generation ${x.generation} exited by itself (code ${x.code}, signal ${x.signal})`, x);
  if (facts.stop && (facts.stop.killed || facts.stop.code !== 0))
    violate(null, 'server', `the final SIGTERM did not stop the server cleanly: ${JSON.stringify(facts.stop)}`);

  return { violations, stats };
}

// One human-readable block per violation.
export function formatViolations(violations, max = 30) {
  const lines = [];
  for (const v of violations.slice(0, max)) {
    lines.push(`- [${v.kind}] ${v.order ? `order ${v.order}: ` : ''}${v.what}`);
    if (v.details) lines.push(`    rows: ${JSON.stringify(v.details)}`);
    if (v.extra !== undefined) lines.push(`    extra: ${JSON.stringify(v.extra)}`);
  }
  if (violations.length > max) lines.push(`... and ${violations.length - max} more`);
  return lines.join('\n');
}
