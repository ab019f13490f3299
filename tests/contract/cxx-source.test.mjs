// (d, without a build) The event types declared in the C++ contracts
// (services/contracts) are exactly the types with a schema in schemas/events.
// Reads the source, so it runs even before contract_dump is built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, loadEventSchemas } from './lib.mjs';

const CONTRACTS = join(REPO_ROOT, 'services', 'contracts');
const header = readFileSync(join(CONTRACTS, 'include', 'orderly', 'services', 'contracts', 'events.hpp'), 'utf8');
const source = readFileSync(join(CONTRACTS, 'src', 'events.cpp'), 'utf8');
const schemas = loadEventSchemas();

test('all_event_types() in services/contracts lists exactly the schema types', () => {
  const body = /all_event_types\(\)\s*\{([\s\S]*?)\n\}/.exec(source);
  assert.ok(body, 'could not find the definition of all_event_types() in services/contracts/src/events.cpp');
  const names = [...body[1].matchAll(/\b([A-Z][A-Za-z]+)::kType\b/g)].map((m) => m[1]);
  assert.ok(names.length > 0, 'all_event_types() names no Type::kType');
  assert.equal(new Set(names).size, names.length, 'all_event_types() lists a type twice');
  const schemaNames = schemas.map((s) => s.name);
  assert.deepEqual(names.filter((n) => !schemaNames.includes(n)), [], 'C++ event types without a schema');
  assert.deepEqual(schemaNames.filter((n) => !names.includes(n)), [], 'schemas without a C++ event type');
});

test('every event struct\'s kType in events.hpp is the x-orderly-type of its schema', () => {
  const byName = new Map(schemas.map((s) => [s.name, s.type]));
  const declared = new Map();
  // struct OrderPlaced { static constexpr std::string_view kType = "orderly.orders.OrderPlaced.v1"; ...
  for (const [, name, type] of header.matchAll(/struct\s+([A-Z][A-Za-z]+)\s*\{[^}]*?kType\s*=\s*"([^"]+)";/g)) declared.set(name, type);
  // Types declared through a macro such as ORDERLY_PAYMENT_EVENT(Name): kType = "prefix" #Name "suffix".
  for (const [, macro, prefix, suffix] of header.matchAll(/#define\s+(ORDERLY_\w+_EVENT)\(Name\)[^\n]*\\\n(?:[^\n]*\\\n)*?[^\n]*kType\s*=\s*"([^"]*)"\s*#Name\s*"([^"]*)"/g)) {
    for (const [, name] of header.matchAll(new RegExp(`^${macro}\\(([A-Z][A-Za-z]+)\\)`, 'gm'))) declared.set(name, `${prefix}${name}${suffix}`);
  }
  for (const [name, type] of declared) assert.equal(type, byName.get(name), `${name}::kType vs schemas/events/${name}.schema.json`);
  assert.deepEqual([...byName.keys()].filter((n) => !declared.has(n)), [], 'schemas whose C++ struct kType was not found in events.hpp');
});
