// docs/events.md is the generator's output, names every event schema, and the
// generator's hand-written notes cover exactly the types and consuming rules
// the contracts define.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EVENT_NOTES, ENVELOPE_NOTES, OUTPUT, generate, loadInputs, routing } from './gen-events.mjs';
import { anchorsOf, read } from './lib.mjs';

const inputs = loadInputs();
const doc = read(OUTPUT);

test('docs/events.md equals the output of tests/docs/gen-events.mjs (run npm run docs:events)', () => {
  const expected = generate(inputs);
  if (doc !== expected) {
    const a = doc.split('\n');
    const b = expected.split('\n');
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    assert.fail(`${OUTPUT} is stale from line ${i + 1}:\n  file:      ${a[i] ?? '<end>'}\n  generated: ${b[i] ?? '<end>'}\nrun: npm run docs:events`);
  }
});

test('every event schema appears in docs/events.md: its type, a section, its schema file', () => {
  const anchors = anchorsOf(doc);
  assert.ok(inputs.schemas.length >= 21, `only ${inputs.schemas.length} schemas found`);
  for (const s of inputs.schemas) {
    assert.ok(s.type, `${s.file} has no x-orderly-type`);
    assert.ok(doc.includes(`\`${s.type}\``), `${OUTPUT} does not name ${s.type}`);
    assert.ok(anchors.has(s.name.toLowerCase()), `${OUTPUT} has no section for ${s.name}`);
    assert.ok(doc.includes(`(../schemas/events/${s.file})`), `${OUTPUT} does not link ${s.file}`);
  }
});

test('every payload field of every schema is documented', () => {
  for (const s of inputs.schemas)
    for (const field of Object.keys(s.schema.properties ?? {}))
      assert.ok(doc.includes(`| \`${field}\` |`), `${s.type}: field ${field} is not in ${OUTPUT}`);
});

test('EVENT_NOTES has a trigger for exactly the schema types', () => {
  const types = inputs.schemas.map((s) => s.type).sort();
  assert.deepEqual(Object.keys(EVENT_NOTES).sort(), types, 'EVENT_NOTES keys differ from schemas/events x-orderly-type values');
  for (const t of types) assert.ok(EVENT_NOTES[t].trigger?.trim().length > 20, `${t}: no trigger text`);
});

test('EVENT_NOTES has state changes for exactly the rules that consume each type (infra/topology.json)', () => {
  const routes = routing(inputs.topology);
  for (const s of inputs.schemas) {
    const rules = (routes.get(s.type)?.consumers ?? []).map((c) => c.rule).sort();
    assert.deepEqual(Object.keys(EVENT_NOTES[s.type].effects).sort(), rules, `${s.type}: effects must be keyed by its consuming rules`);
    for (const r of rules) assert.ok(EVENT_NOTES[s.type].effects[r].trim().length > 20, `${s.type} / ${r}: no text`);
  }
});

test('every produced type has a schema, and every schema type has a producer', () => {
  const schemaTypes = new Set(inputs.schemas.map((s) => s.type));
  const routes = routing(inputs.topology);
  for (const [t, r] of routes) {
    assert.ok(schemaTypes.has(t), `${t} (topology) has no schema`);
    assert.ok(r.producer, `${t} is consumed but no service produces it`);
  }
  for (const t of schemaTypes) assert.ok(routes.get(t)?.producer, `${t} has a schema but no producer in infra/topology.json`);
});

test('the envelope section covers every CloudEventEnvelope attribute, and dataschema', () => {
  const props = Object.keys(inputs.asyncapi.components.schemas.CloudEventEnvelope.properties);
  for (const a of [...props, 'dataschema']) {
    assert.ok(ENVELOPE_NOTES[a], `ENVELOPE_NOTES has no entry for ${a}`);
    assert.ok(doc.includes(`| \`${a}\` |`), `${OUTPUT}: envelope attribute ${a} missing`);
  }
  for (const a of Object.keys(ENVELOPE_NOTES)) assert.ok(a === 'dataschema' || props.includes(a), `ENVELOPE_NOTES.${a} is not an envelope attribute`);
});
