// What each order really caused, read from a stopped server's data directory,
// and a check that every effect happened exactly as often as its end state
// says. Not a test file itself: resilience.test.mjs uses it.
//
// The order's own timeline cannot show a duplicate: the orders state machine
// appends each milestone at most once whatever it is told. These sources can:
//   - bus.db's archive holds every event any service committed, once per event
//     id, and event ids are fresh UUIDs: a handler whose effect is applied twice
//     (two commits) leaves two events there;
//   - the simulated provider's ledger (provider-simulator.db, pk ACCOUNT, sk =
//     payment id) is the money: captured, voided, refunded and their amounts;
//   - inventory's products (pk PRODUCT): onHand and reserved, which a second
//     commit, release or restock would move again;
//   - the services' records (PAYMENT#<orderId>, RESERVATION#<orderId>);
//   - what is left over: queue messages, outbox items, dead letters.
import { join } from 'node:path';
import { sqlite } from './lib.mjs';

const SERVICES = ['orders', 'inventory', 'payments', 'shipping', 'notifications'];
const T = (name) => name.replace(/^orderly\.[a-z]+\.([A-Za-z]+)\.v1$/, '$1');

// Events an order causes at most once, whatever happens. Left out: timers
// (SagaTimedOut re-arms, CarrierProgressed is the carrier's clock), the cancel
// request and its answers (a request may be repeated and answered again), and
// NotificationSent (counted per template below).
export const ONCE = ['OrderPlaced', 'OrderConfirmed', 'OrderCancelled', 'OrderShipped', 'OrderDelivered',
  'InventoryReserved', 'InventoryReservationFailed', 'InventoryCommitted', 'InventoryReleased',
  'PaymentAuthorized', 'PaymentDeclined', 'PaymentCaptured', 'PaymentVoided', 'PaymentRefunded',
  'ShipmentCreated', 'ShipmentDispatched', 'ShipmentDelivered'];

// A DELIVERED order went through every step of the happy path once, and
// nothing was undone.
const DELIVERED_ONE = ['OrderPlaced', 'InventoryReserved', 'PaymentAuthorized', 'OrderConfirmed', 'PaymentCaptured',
  'ShipmentCreated', 'InventoryCommitted', 'ShipmentDispatched', 'OrderShipped', 'ShipmentDelivered', 'OrderDelivered'];
const DELIVERED_NONE = ['OrderCancelled', 'PaymentDeclined', 'PaymentVoided', 'PaymentRefunded', 'InventoryReleased',
  'InventoryReservationFailed', 'ShipmentCancelled'];
// A CANCELLED order never reached the pivot (this is only for runs without
// customer cancels or fulfilment deadlines, where nothing was captured either).
const CANCELLED_NONE = ['OrderConfirmed', 'PaymentCaptured', 'PaymentRefunded', 'ShipmentCreated', 'InventoryCommitted',
  'ShipmentDispatched', 'OrderShipped', 'ShipmentDelivered', 'OrderDelivered'];
const NOTIFIED = {
  DELIVERED: ['order_confirmed', 'shipment_dispatched', 'shipment_delivered'],
  CANCELLED: ['order_cancelled'],
};
const TIMER_RULES = new Set(['orders.timers']);

// Reads what check() needs. The server must be stopped (its last relay pass
// done), though every statement here only reads.
export async function readDataDir(dataDir) {
  const [archive, messages, dlq] = await sqlite(join(dataDir, 'bus.db'), [
    ['SELECT seq, event_id, type, body FROM archive ORDER BY seq'],
    ['SELECT rule, type, event_id, receive_count FROM messages ORDER BY id'],
    ['SELECT rule, event_id, type, last_error FROM dlq ORDER BY id'],
  ]);
  const items = async (name, where) =>
    (await sqlite(join(dataDir, `${name}.db`), [[`SELECT pk, sk, attrs FROM items WHERE ${where}`]]))[0]
      .map((r) => ({ pk: r.pk, sk: r.sk, attrs: JSON.parse(r.attrs) }));
  const outbox = {};
  for (const s of SERVICES) outbox[s] = (await items(s, "pk = 'OUTBOX'")).map((i) => i.attrs.type);
  return {
    archive: archive.map((r) => {
      let body;
      try {
        body = JSON.parse(r.body);
      } catch {
        body = {};
      }
      return { seq: r.seq, eventId: r.event_id, type: T(r.type), subject: body.subject, data: body.data ?? {} };
    }),
    messages,
    dlq,
    outbox,
    products: Object.fromEntries((await items('inventory', "pk = 'PRODUCT'")).map((i) => [i.sk, i.attrs])),
    reservations: Object.fromEntries((await items('inventory', "pk LIKE 'RESERVATION#%'")).map((i) => [i.attrs.orderId, i.attrs])),
    payments: Object.fromEntries((await items('payments', "pk LIKE 'PAYMENT#%'")).map((i) => [i.attrs.orderId, i.attrs])),
    ledger: Object.fromEntries((await items('provider-simulator', "pk = 'ACCOUNT'")).map((i) => [i.sk, i.attrs])),
  };
}

const money = (m) => (m ? `${m.amount} ${m.currency}` : 'none');
const lines = (ls) => (ls ?? []).map((l) => `${l.sku}×${l.quantity}`).sort().join(',');

// Pure. `orders`: the API's orders (GET /v1/orders/{id}) of the run, all
// terminal; `stock`: {sku: onHand before the run} for SKUs only these orders
// used. For runs without cancels after confirmation (no customer cancels, no
// fulfilment deadline), where a CANCELLED order was never captured. Returns
// the violations, one string each (empty: all good).
export function check(data, { orders, stock = {} }) {
  const v = [];
  const byOrder = new Map(orders.map((o) => [o.orderId, []]));
  for (const e of data.archive) {
    const id = e.data.orderId ?? e.subject;
    if (byOrder.has(id)) byOrder.get(id).push(e);
    else if (e.type === 'OrderPlaced') v.push(`${id}: OrderPlaced in the archive, but the order is not among the run's orders`);
  }

  const delivered = {};
  for (const o of orders) {
    const evs = byOrder.get(o.orderId);
    const n = (t) => evs.filter((e) => e.type === t).length;
    const one = (t) => evs.find((e) => e.type === t);
    const bad = (what) => v.push(`${o.orderId} (${o.status}${o.cancellationReason ? `/${o.cancellationReason}` : ''}): ${what}`);

    for (const t of ONCE) if (n(t) > 1) bad(`${t} ×${n(t)}`);
    const templates = {};
    for (const e of evs) if (e.type === 'NotificationSent') templates[e.data.template] = (templates[e.data.template] ?? 0) + 1;
    for (const [t, k] of Object.entries(templates)) if (k > 1) bad(`notification ${t} ×${k}`);
    // A count above 1 is reported just above; below, only what is missing.
    if (n('OrderPlaced') === 0) bad('OrderPlaced missing');

    const pay = data.payments[o.orderId];
    const paymentId = pay?.paymentId ?? evs.find((e) => e.data.paymentId)?.data.paymentId;
    const acct = paymentId ? data.ledger[paymentId] : undefined;
    const res = data.reservations[o.orderId];

    if (o.status === 'DELIVERED') {
      for (const t of DELIVERED_ONE) if (n(t) === 0) bad(`${t} missing`);
      for (const t of DELIVERED_NONE) if (n(t) !== 0) bad(`${t} ×${n(t)}, expected none`);
      for (const t of NOTIFIED.DELIVERED) if (!templates[t]) bad(`notification ${t} missing`);
      const cap = one('PaymentCaptured');
      if (cap && money(cap.data.amount) !== money(o.total)) bad(`captured ${money(cap.data.amount)}, order total ${money(o.total)}`);
      const com = one('InventoryCommitted');
      if (com && lines(com.data.lines) !== lines(o.items)) bad(`committed ${lines(com.data.lines)}, ordered ${lines(o.items)}`);
      if (!acct) bad(`no provider account for payment ${paymentId}`);
      else if (!acct.captured || acct.voided || acct.refunded || money(acct.capturedAmount) !== money(o.total))
        bad(`provider ledger ${JSON.stringify(acct)}, expected captured ${money(o.total)}, not voided or refunded`);
      if (pay?.status !== 'CAPTURED') bad(`payment record ${pay?.status ?? 'missing'}, expected CAPTURED`);
      if (res?.status !== 'COMMITTED') bad(`reservation ${res?.status ?? 'missing'}, expected COMMITTED`);
      for (const l of o.items) delivered[l.sku] = (delivered[l.sku] ?? 0) + l.quantity;
    } else if (o.status === 'CANCELLED') {
      if (n('OrderCancelled') === 0) bad('OrderCancelled missing');
      else if (one('OrderCancelled').data.reason !== o.cancellationReason)
        bad(`OrderCancelled says ${one('OrderCancelled').data.reason}, the order ${o.cancellationReason}`);
      for (const t of CANCELLED_NONE) if (n(t) !== 0) bad(`${t} ×${n(t)}, expected none`);
      for (const t of NOTIFIED.CANCELLED) if (!templates[t]) bad(`notification ${t} missing`);
      // Every compensation done, once: a reservation released, a hold voided.
      if (n('InventoryReserved') !== n('InventoryReleased'))
        bad(`InventoryReserved ×${n('InventoryReserved')} but InventoryReleased ×${n('InventoryReleased')}`);
      if (n('PaymentAuthorized') !== n('PaymentVoided'))
        bad(`PaymentAuthorized ×${n('PaymentAuthorized')} but PaymentVoided ×${n('PaymentVoided')}`);
      if (o.cancellationReason === 'payment_declined' && n('PaymentDeclined') === 0) bad('PaymentDeclined missing');
      if (o.cancellationReason === 'out_of_stock' && n('InventoryReservationFailed') === 0) bad('InventoryReservationFailed missing');
      if (acct && (acct.captured || (acct.authorized && !acct.voided)))
        bad(`provider ledger ${JSON.stringify(acct)}: money captured or a hold left open`);
      if (res && !['FAILED', 'RELEASED', 'CANCELLED_EARLY'].includes(res.status)) bad(`reservation ${res.status}`);
    } else {
      bad('not terminal');
    }
  }

  // Goods: each delivered line left the shelf once, nothing is still reserved.
  for (const [sku, before] of Object.entries(stock)) {
    const p = data.products[sku];
    const want = before - (delivered[sku] ?? 0);
    if (!p) v.push(`${sku}: no product record`);
    else if (p.onHand !== want || p.reserved !== 0)
      v.push(`${sku}: onHand ${p.onHand}, reserved ${p.reserved}; expected onHand ${before} − ${delivered[sku] ?? 0} delivered = ${want}, reserved 0`);
  }

  // At rest: nothing dead-lettered, nothing waiting but timers, nothing unrelayed.
  for (const d of data.dlq) v.push(`dead letter in ${d.rule}: ${d.type} ${d.event_id}: ${d.last_error}`);
  for (const m of data.messages)
    if (!TIMER_RULES.has(m.rule)) v.push(`message left in ${m.rule}: ${m.type} ${m.event_id} (received ${m.receive_count}×)`);
  for (const [s, types] of Object.entries(data.outbox)) if (types.length) v.push(`${s}: ${types.length} outbox items not relayed: ${types.join(', ')}`);
  return v;
}
