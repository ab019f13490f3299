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

// The one list of event types (ORDERLY_EVENT_TYPES in events.hpp) feeds the
// codecs, validate_data and all_event_types(); it must name exactly the schemas.
test('the one list of event types in services/contracts names exactly the schema types', () => {
  const list = /#define ORDERLY_EVENT_TYPES\(X\)((?:[^\n]*\\\n)*[^\n]*)/.exec(header);
  assert.ok(list, 'could not find #define ORDERLY_EVENT_TYPES(X) in events.hpp');
  const names = [...list[1].matchAll(/\bX\(([A-Z][A-Za-z]+)\)/g)].map((m) => m[1]);
  assert.ok(names.length > 0, 'ORDERLY_EVENT_TYPES names no type');
  assert.equal(new Set(names).size, names.length, 'ORDERLY_EVENT_TYPES lists a type twice');
  assert.match(source, /all_event_types\(\)\s*\{[\s\S]*?ORDERLY_EVENT_TYPES\(/, 'all_event_types() is generated from the list');
  assert.match(source, /validate_data\([\s\S]*?ORDERLY_EVENT_TYPES\(/, 'validate_data() is generated from the list');
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
