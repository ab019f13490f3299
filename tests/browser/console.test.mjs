// The web console (/console) in a real browser: Debian's chromium, driven by
// Playwright (playwright-core, which downloads no browser) against a real
// `orderly up`. Accessibility by axe-core (@axe-core/playwright). Screenshots
// go to $ORDERLY_BROWSER_ARTIFACTS (default build/browser-artifacts).
//
// Scenarios: orders placed through the API appear; one order followed to
// DELIVERED on its swimlane; a declined order shows its refusal and
// compensation; a poison message shows in its order's swimlane and in the DLQ
// view, and is redriven from the page; a customer's token cannot open the ops
// views; no token in any URL or log; no CSP violation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';
import {
  REPO_ROOT, getOrder, placeOrder, removeDir, req, sqlite, startServer, tempDir, token, uniq, waitForOrder,
} from '../e2e/lib.mjs';

const CHROMIUM = process.env.ORDERLY_CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = resolve(process.env.ORDERLY_BROWSER_ARTIFACTS || join(REPO_ROOT, 'build', 'browser-artifacts'));
// Flags for a closed network and a root user (see the machine's notes): no
// sandbox as root, nothing that phones home.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage'];
const CANCELLED = 'orderly.orders.OrderCancelled.v1';
const UI_WAIT = 20_000;

let dataDir, srv, browser, adminToken, customerToken, customer, delivered;
const cspViolations = [];
const pageErrors = [];
const requestedUrls = [];

async function newPage(tok) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  page.on('request', (r) => requestedUrls.push(r.url()));
  await page.goto(`${srv.url}/console`);
  if (tok) {
    await page.getByLabel('Access token (a JWT)').fill(tok);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#who-name').filter({ hasNotText: 'Not signed in' }).waitFor();
  }
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function axe(page, what) {
  const r = await new AxeBuilder({ page }).analyze();
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [],
    `${what}: serious or critical accessibility violations`);
  assert.ok(r.passes.length > 10, `${what}: axe ran (${r.passes.length} rules passed)`);
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: make deps installs Debian's chromium`);
  mkdirSync(ARTIFACTS, { recursive: true });
  dataDir = tempDir('orderly-browser-');
  // A first run: one order delivered, to carry a poison message later.
  let first = await startServer({ dataDir });
  customer = uniq('cust-browser');
  customerToken = await token({ dataDir, customer });
  const placed = await placeOrder(first.url, customerToken);
  assert.equal(placed.status, 202, placed.text);
  delivered = await waitForOrder(first.url, customerToken, placed.json.orderId, (o) => o.status === 'DELIVERED', 30_000);
  assert.equal((await first.stop()).code, 0, 'the first server did not stop cleanly');
  first = null;
  // Poison, planted as a buggy producer would leave it in the orders outbox
  // (as in tests/e2e/dlq.test.mjs): an OrderCancelled of that order with a
  // reason outside the contract. Every consumer dead-letters its copy at once.
  const poisonId = randomUUID();
  const poison = {
    specversion: '1.0', id: poisonId, source: 'orderly.orders', type: CANCELLED, subject: delivered.orderId,
    time: new Date().toISOString(), datacontenttype: 'application/json',
    correlationid: delivered.timeline[0].eventId, causationid: delivered.timeline[0].eventId,
    data: { orderId: delivered.orderId, customerId: customer, reason: 'lost_in_the_post', total: delivered.total },
  };
  await sqlite(join(dataDir, 'orders.db'), [
    ["INSERT INTO items(pk, sk, version, attrs, ttl) VALUES ('OUTBOX', ?, 1, ?, NULL)",
      [poisonId, JSON.stringify({ event: JSON.stringify(poison), type: poison.type, source: poison.source })]],
  ]);
  srv = await startServer({ dataDir, keepAllOutput: true });
  adminToken = await token({ dataDir, customer: uniq('ops'), admin: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
});

after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
  removeDir(dataDir);
});

describe('the console in headless chromium', () => {
  test('serves its page with a strict CSP and no inline script', async () => {
    const r = await req(srv.url, { path: '/console' });
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/html/);
    const csp = r.headers['content-security-policy'];
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /form-action 'none'/);
    assert.doesNotMatch(csp, /unsafe/);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    const again = await req(srv.url, { path: '/console/app.js', headers: { 'If-None-Match': (await req(srv.url, { path: '/console/app.js' })).headers.etag } });
    assert.equal(again.status, 304, 'the assets revalidate with ETags');
    assert.equal((await req(srv.url, { path: '/console/nope.js' })).status, 404);
  });

  test('orders placed through the API appear in the list', async () => {
    const page = await newPage(adminToken);
    await page.goto(`${srv.url}/console#/orders`);
    await page.locator('#orders').waitFor();
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const r = await placeOrder(srv.url, customerToken);
      assert.equal(r.status, 202, r.text);
      ids.push(r.json.orderId);
    }
    for (const id of ids) await page.locator(`tr[data-order="${id}"]`).waitFor({ timeout: UI_WAIT });
    // Filtered by customer and status, the delivered one is there and a pending one is not.
    await page.goto(`${srv.url}/console#/orders?status=DELIVERED&customer=${encodeURIComponent(customer)}`);
    await page.locator(`tr[data-order="${delivered.orderId}"]`).waitFor({ timeout: UI_WAIT });
    for (const row of await page.locator('#orders tbody tr[data-order]').all())
      assert.match(await row.textContent(), /DELIVERED/);
    await axe(page, 'orders view');
    await shot(page, 'console-orders');
    await page.context().close();
  });

  test('one order followed to DELIVERED on its swimlane', async () => {
    const page = await newPage(adminToken);
    const r = await placeOrder(srv.url, customerToken);
    assert.equal(r.status, 202);
    await page.goto(`${srv.url}/console#/orders`);
    await page.locator(`tr[data-order="${r.json.orderId}"] a`).click({ timeout: UI_WAIT });
    await page.locator('#order-status', { hasText: 'DELIVERED' }).waitFor({ timeout: 30_000 });
    await page.locator('svg.swimlane g.event[data-type="OrderDelivered"]').waitFor({ timeout: UI_WAIT });
    const types = await page.locator('svg.swimlane g.event').evaluateAll((gs) => gs.map((g) => g.dataset.type));
    for (const t of ['OrderPlaced', 'InventoryReserved', 'PaymentAuthorized', 'OrderConfirmed', 'ShipmentCreated', 'OrderShipped', 'OrderDelivered'])
      assert.ok(types.includes(t), `${t} on the swimlane: ${types.join(', ')}`);
    // Every event but the first has an arrow from its cause, labelled with the hop's time.
    const hops = await page.locator('svg.swimlane path.hop').count();
    assert.ok(hops >= types.length - 2, `${hops} arrows for ${types.length} events`);
    assert.match(await page.locator('svg.swimlane text.hop-time').first().textContent(), /^\+\d+ ms$/);
    // Each service has its lane; the events sit in their own service's lane.
    assert.deepEqual(await page.locator('svg.swimlane text.lane-name').allTextContents(),
      ['orders', 'inventory', 'payments', 'shipping', 'notifications']);
    assert.equal(await page.locator('svg.swimlane g.event.compensation, svg.swimlane g.event.refusal').count(), 0,
      'a delivered order has no refusal or compensation');
    await axe(page, 'order view');
    await shot(page, 'console-saga-delivered');
    await page.context().close();
  });

  test('a declined order shows its refusal and its compensation', async () => {
    const r = await placeOrder(srv.url, customerToken, { paymentToken: 'tok_decline' });
    assert.equal(r.status, 202);
    const page = await newPage(customerToken); // the owner may look too
    await page.goto(`${srv.url}/console#/order/${r.json.orderId}`);
    await page.locator('#order-status', { hasText: 'CANCELLED' }).waitFor({ timeout: 30_000 });
    await page.locator('svg.swimlane g.event.refusal[data-type="PaymentDeclined"]').waitFor({ timeout: UI_WAIT });
    await page.locator('svg.swimlane g.event.compensation[data-type="OrderCancelled"]').waitFor({ timeout: UI_WAIT });
    await page.locator('svg.swimlane g.event.compensation[data-type="InventoryReleased"]').waitFor({ timeout: UI_WAIT });
    assert.match(await page.locator('#order-events tr.refusal').first().textContent(), /refusal/);
    // A customer sees the events, not the operators' delivery details.
    assert.equal(await page.locator('#order-deliveries table').count(), 0);
    await shot(page, 'console-saga-declined');
    await page.context().close();
  });

  test('a poison message shows on its order, in the DLQ view, and is redriven from the page', async () => {
    const page = await newPage(adminToken);
    // On its order's swimlane: one dead letter per consuming rule, in that rule's lane.
    await page.goto(`${srv.url}/console#/order/${delivered.orderId}`);
    await page.locator('svg.swimlane g.dead-mark').first().waitFor({ timeout: UI_WAIT });
    const deadRules = await page.locator('svg.swimlane g.dead-mark').evaluateAll((gs) => gs.map((g) => g.dataset.rule).sort());
    assert.deepEqual(deadRules, ['inventory.events', 'notifications.events', 'payments.events', 'shipping.events']);
    assert.equal(await page.locator('#order-deliveries tr.dead-row').count(), 4);
    await shot(page, 'console-saga-dead-letters');

    await page.goto(`${srv.url}/console#/queues`);
    await page.locator('tr[data-rule="payments.events"]').waitFor({ timeout: UI_WAIT });
    const before = (await req(srv.url, { path: '/v1/admin/dlq?rule=payments.events', token: adminToken })).json.items;
    assert.equal(before.length, 1);
    const letter = before[0];
    const row = page.locator(`tr[data-dead="${letter.id}"]`);
    await row.waitFor({ timeout: UI_WAIT });
    assert.match(await row.textContent(), /invalid_input/);
    await axe(page, 'queues view');
    await shot(page, 'console-queues');
    await row.getByRole('button', { name: 'Redrive' }).click();
    await page.locator('#status', { hasText: 'Redrove 1 message of payments.events' }).waitFor({ timeout: UI_WAIT });
    // Redriven, delivered again, and (still poison) dead again under a new id;
    // the other rules' copies were not touched.
    const after = await waitForDlq(adminToken, 'payments.events', (items) => items.length === 1 && items[0].id !== letter.id);
    assert.equal(after[0].eventId, letter.eventId);
    await row.waitFor({ state: 'detached', timeout: UI_WAIT });
    const all = (await req(srv.url, { path: '/v1/admin/dlq', token: adminToken })).json.items;
    assert.equal(all.filter((d) => d.eventId === letter.eventId).length, 4);
    await page.context().close();
  });

  test('health and products views draw from the same metrics and catalogue as the API', async () => {
    const page = await newPage(adminToken);
    await page.goto(`${srv.url}/console#/health`);
    await page.locator('#h-orders .big').waitFor({ timeout: UI_WAIT });
    assert.match(await page.locator('#h-latency .big').textContent(), /ms|n\/a/);
    await axe(page, 'health view');
    await shot(page, 'console-health');
    await page.goto(`${srv.url}/console#/products`);
    await page.locator('tr[data-sku="KB-MECH-01"]').waitFor({ timeout: UI_WAIT });
    const api = (await req(srv.url, { path: '/v1/products/KB-MECH-01', token: adminToken })).json;
    assert.equal(typeof api.onHand, 'number', 'an admin gets the stock figures');
    const cells = await page.locator('tr[data-sku="KB-MECH-01"] td').allTextContents();
    assert.equal(cells[3], String(api.onHand));
    assert.equal(cells[4], String(api.reserved));
    assert.equal(cells[5], String(api.available));
    const anonymous = (await req(srv.url, { path: '/v1/products/KB-MECH-01' })).json;
    assert.equal('onHand' in anonymous || 'reserved' in anonymous, false, 'stock figures are for admins');
    await axe(page, 'products view');
    await page.context().close();
  });

  test('a customer token cannot open the ops views', async () => {
    const page = await newPage(customerToken);
    assert.equal(await page.locator('nav a[href="#/queues"]').isVisible(), false, 'no Queues link for a customer');
    for (const v of ['queues', 'health']) {
      await page.goto(`${srv.url}/console#/${v}`);
      await page.locator('.refused', { hasText: 'Not allowed' }).waitFor({ timeout: UI_WAIT });
      assert.equal(await page.locator('#queues table, #dlq table, #health .card').count(), 0, `${v}: no data shown`);
    }
    await shot(page, 'console-customer-refused');
    // Their own orders only: another customer's order is not found.
    const other = await token({ dataDir, customer: uniq('cust-other') });
    const theirs = await placeOrder(srv.url, other);
    await page.goto(`${srv.url}/console#/order/${theirs.json.orderId}`);
    await page.locator('#status', { hasText: '404' }).waitFor({ timeout: UI_WAIT });
    assert.equal(await page.locator('svg.swimlane').count(), 0);
    const saga = await req(srv.url, { path: `/v1/orders/${theirs.json.orderId}/saga`, token: customerToken });
    assert.equal(saga.status, 404);
    await page.context().close();
  });

  test('no token in any URL or log, no CSP violation, no script error', async () => {
    await getOrder(srv.url, adminToken, delivered.orderId);
    assert.ok(requestedUrls.length > 20, `the browser made ${requestedUrls.length} requests`);
    for (const t of [adminToken, customerToken]) {
      const sig = t.split('.')[2];
      assert.ok(!requestedUrls.some((u) => u.includes(sig)), 'a token in a URL');
      const { stdout, stderr } = srv.output();
      assert.ok(!stdout.includes(sig) && !stderr.includes(sig), 'a token in the server log');
    }
    assert.deepEqual(cspViolations, []);
    assert.deepEqual(pageErrors, []);
  });
});

async function waitForDlq(tok, rule, pred, timeoutMs = UI_WAIT) {
  const end = Date.now() + timeoutMs;
  let items;
  while (Date.now() < end) {
    items = (await req(srv.url, { path: `/v1/admin/dlq?rule=${rule}`, token: tok })).json.items;
    if (pred(items)) return items;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`DLQ of ${rule} never matched: ${JSON.stringify(items)}`);
}
