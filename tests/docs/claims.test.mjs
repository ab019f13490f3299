// Numbers the documents state that the code defines: each is read from the
// source and must appear, in the documents' words, where the documents say it.
// A change to one side without the other fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { read } from './lib.mjs';

// One number from a source file, by a regular expression with one group.
function fromCode(file, re) {
  const m = re.exec(read(file));
  assert.ok(m, `${file}: ${re} not found: did the code change shape?`);
  return Number(m[1].replace(/['_]/g, ''));
}

const DAY_MS = 24 * 3600 * 1000;

test('order lines per order', () => {
  const n = fromCode('services/contracts/include/orderly/services/contracts/events.hpp', /kMaxLines = (\d+);/);
  assert.match(read('docs/protocols-and-security.md'), new RegExp(`1 to ${n} order lines`));
  assert.match(read('docs/protocols-and-security.md'), new RegExp(`1 to ${n} lines`));
});

test('inbox markers, the embedded archive and AWS outbox items: their lifetimes', () => {
  const inbox = fromCode('platform/include/orderly/platform/unit_of_work.hpp', /kInboxRetention\{(\d+)LL \* 24 \* 3600 \* 1000\}/);
  const archive = fromCode('adapters/embedded/include/orderly/adapters/embedded/durable_bus.hpp', /archive_retention\{(\d+)LL \* 24 \* 3600 \* 1000\}/);
  const outbox = fromCode('adapters/aws/include/orderly/adapters/aws/dynamodb_item_store.hpp', /outbox_ttl = platform::Millis\{(\d+)LL \* 24 \* 3600 \* 1000\}/);
  const glossary = read('docs/glossary.md');
  assert.match(glossary, new RegExp(`\\(\`INBOX#<event id>\`, per rule, ${inbox} days\\)`));
  assert.match(glossary, new RegExp(`${archive} days in the embedded bus`));
  assert.match(read('docs/architecture.md'), new RegExp(`outbox items expire after ${outbox} days, inbox markers after ${inbox}`));
  assert.match(read('docs/operations.md'), new RegExp(`Outbox items live ${outbox} days`));
  assert.ok(inbox * DAY_MS > 0 && archive > 0);
});

test('the fulfilment deadline', () => {
  const ms = fromCode('hosts/include/orderly/hosts/service_table.hpp', /fulfilment_timeout\{([\d']+)\}/);
  assert.equal(ms, 3_600_000, 'the documents say "an hour": change them with the code');
  assert.match(read('docs/glossary.md'), /An hour after confirmation/);
});

test('client addresses in logs: the prefix lengths the code keeps', () => {
  const src = read('platform/src/http.cpp');
  assert.match(src, /b\[3\] = 0;/, 'IPv4 keeps three bytes: a /24');
  assert.match(src, /for \(std::size_t i = 6; i < b.size\(\); \+\+i\) b\[i\] = 0;/, 'IPv6 keeps six bytes: a /48');
  const doc = read('docs/protocols-and-security.md');
  assert.match(doc, /IPv4 truncated to its \/24/);
  assert.match(doc, /IPv6 to its\s+\/48/);
});

test('log retention on AWS', () => {
  assert.match(read('infra/lib/orderly-stack.ts'), /LOG_RETENTION = logs\.RetentionDays\.ONE_MONTH/);
  assert.match(read('docs/protocols-and-security.md'), /Log groups keep 30 days on AWS/);
});

test('retention of delivered orders\' personal data: the same default in the code, the stack and the documents', () => {
  const host = fromCode('hosts/include/orderly/hosts/service_table.hpp', /retention\{(\d+)LL \* 24 \* 3600 \* 1000\}/);
  const service = fromCode('services/orders/include/orderly/services/orders/service.hpp', /retention\{(\d+)LL \* 24 \* 3600 \* 1000\}/);
  const stack = fromCode('infra/lib/orderly-stack.ts', /DEFAULT_RETENTION_DAYS = (\d+);/);
  const cli = fromCode('apps/orderly/cmd_up.cpp', /double retention_days = (\d+);/);
  assert.deepEqual([service, stack, cli], [host, host, host]);
  assert.match(read('docs/operations.md'), new RegExp(`erased ${host} days after delivery`));
  assert.match(read('docs/protocols-and-security.md'), new RegExp(`erased ${host} days after\\s+delivery`));
  assert.match(read('docs/adr/0017-customer-erasure-as-an-event-driven-flow.md'), new RegExp(`${host}\\s+days by default`));
  assert.match(read('README.md'), new RegExp(`retention \\(${host} days after\\s+delivery\\)`));
});

test('erasure: the order limit, the redacted value and secure_delete', () => {
  const limit = fromCode('services/contracts/include/orderly/services/contracts/events.hpp', /kMaxErasureOrders = (\d+);/);
  assert.equal(JSON.parse(read('schemas/events/CustomerErasureRequested.schema.json')).properties.orderIds.maxItems, limit);
  assert.match(read('docs/operations.md'), new RegExp(`more than ${limit.toLocaleString('en-GB')} orders`));
  assert.match(read('services/contracts/include/orderly/services/contracts/events.hpp'), /kErased = "\[erased\]"/);
  assert.match(read('docs/operations.md'), /become `\[erased\]`/);
  assert.match(read('adapters/embedded/src/sqlite.cpp'), /"PRAGMA secure_delete=ON"/);
  for (const doc of ['docs/operations.md', 'docs/protocols-and-security.md', 'docs/adr/0017-customer-erasure-as-an-event-driven-flow.md'])
    assert.match(read(doc), /secure_delete=ON/, doc);
});
