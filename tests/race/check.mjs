// Checks a kept race run again, offline (the server must not be running on it):
//
//   node tests/race/check.mjs RUN_DIR                    # RUN_DIR/facts.json + RUN_DIR/data
//   node tests/race/check.mjs RUN_DIR --data-dir OTHER   # the same facts against another copy of the stores
//   node tests/race/check.mjs RUN_DIR --order ORDER_ID   # print one order's rows
//
// Exits 1 when an invariant is broken. A race run keeps RUN_DIR when it fails,
// or always with RACE_KEEP=1.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { check, formatViolations, orderRows } from './invariants.mjs';
import { dumpStores } from './stores.mjs';

const args = process.argv.slice(2);
const runDir = args[0];
if (!runDir || runDir.startsWith('-')) {
  process.stderr.write('usage: node tests/race/check.mjs RUN_DIR [--data-dir DIR] [--order ORDER_ID]\n');
  process.exit(2);
}
const opt = (name) => {
  const i = args.indexOf(name);
  return i > 0 ? args[i + 1] : undefined;
};
const facts = JSON.parse(readFileSync(join(runDir, 'facts.json'), 'utf8'));
const dataDir = opt('--data-dir') ?? join(runDir, 'data');
const dump = await dumpStores(dataDir);
const result = check(dump, facts);
const order = opt('--order');
if (order) process.stdout.write(`${JSON.stringify(orderRowsOf(dump, facts, order), null, 1)}\n`);
process.stdout.write(`seed ${facts.params?.seed}: ${JSON.stringify(result.stats)}\n`);
if (result.violations.length === 0) {
  process.stdout.write(`no violations (${dataDir})\n`);
} else {
  process.stdout.write(`${result.violations.length} violation(s) (${dataDir}):\n${formatViolations(result.violations, 1000)}\n`);
  process.exitCode = 1;
}

function orderRowsOf(d, f, id) {
  const byPk = (items, pk, sk) => items.find((it) => it.pk === pk && it.sk === sk)?.attrs;
  const ctx = {
    orders: new Map([[id, byPk(d.stores.orders, `ORDER#${id}`, 'ORDER')]]),
    payments: new Map([[id, byPk(d.stores.payments, `PAYMENT#${id}`, 'PAYMENT')]]),
    shipments: new Map([[id, byPk(d.stores.shipping, `SHIPMENT#${id}`, 'SHIPMENT')]]),
    reservations: new Map([[id, byPk(d.stores.inventory, `RESERVATION#${id}`, 'RESERVATION')]]),
    accounts: new Map(d.stores['provider-simulator'].map((it) => [it.sk, it.attrs])),
    client: new Map((f.orders ?? []).filter((c) => c.orderId === id).map((c) => [id, c])),
  };
  return orderRows(id, ctx);
}
