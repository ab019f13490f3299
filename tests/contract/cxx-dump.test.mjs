// (c, d) The C++ services against the contracts. ORDERLY_CONTRACT_DUMP names
// the contract_dump executable; `$ORDERLY_CONTRACT_DUMP --out <dir>` writes
// <dir>/catalogue.json (who produces and consumes what, and the terminal
// types) and <dir>/samples/<type>.json (one CloudEvent really emitted by the
// C++ code per produced type). Without the variable every test here fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SERVICES, TYPE_RE, compileAll, eventValidators, expectedSubject, formatDiagnostics, formatErrors,
  loadEventSchemas, makeAjv, operationsByService, parseAsyncApi, readJson,
} from './lib.mjs';

const DUMP = process.env.ORDERLY_CONTRACT_DUMP;
const schemas = loadEventSchemas();
const schemaTypes = new Set(schemas.map((s) => s.type));

let cached;
function dump() {
  if (cached) return cached;
  if (!DUMP) {
    throw new Error(
      'ORDERLY_CONTRACT_DUMP is not set. It must name the C++ contract_dump executable, e.g.\n' +
        '  tests/contract/run.sh build/tests/contract_dump\n' +
        'or ORDERLY_CONTRACT_DUMP=build/tests/contract_dump node --test tests/contract/\n' +
        '(ctest runs it with label "contract"). These tests do not skip: without the dump the C++ side is unchecked.',
    );
  }
  assert.ok(existsSync(DUMP) && statSync(DUMP).isFile(), `ORDERLY_CONTRACT_DUMP=${DUMP} is not a file (is the C++ build done?)`);
  const dir = mkdtempSync(join(tmpdir(), 'orderly-contract-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  try {
    execFileSync(DUMP, ['--out', dir, '--topology', join(dir, 'topology.json')], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  } catch (e) {
    throw new Error(`${DUMP} --out ${dir} failed (${e.status ?? e.signal ?? e.code}):\n${e.stderr?.toString() ?? ''}${e.stdout?.toString() ?? ''}`);
  }
  const cataloguePath = join(dir, 'catalogue.json');
  assert.ok(existsSync(cataloguePath), `${DUMP} wrote no catalogue.json`);
  const catalogue = readJson(cataloguePath);
  const samplesDir = join(dir, 'samples');
  assert.ok(existsSync(samplesDir), `${DUMP} wrote no samples/ directory`);
  const samples = new Map();
  for (const f of readdirSync(samplesDir)) {
    assert.match(f, /\.json$/, `unexpected file samples/${f}`);
    samples.set(f.replace(/\.json$/, ''), readJson(join(samplesDir, f)));
  }
  const topology = readJson(join(dir, 'topology.json'));
  cached = { dir, catalogue, samples, topology };
  return cached;
}

function services() {
  const { catalogue } = dump();
  assert.ok(Array.isArray(catalogue.services), 'catalogue.json: services must be an array');
  assert.ok(Array.isArray(catalogue.terminal), 'catalogue.json: terminal must be an array');
  return catalogue.services;
}
const produced = () => new Map(services().flatMap((s) => s.produces.map((t) => [t, s.name])));
const consumed = () => new Set(services().flatMap((s) => s.consumes));

test('ORDERLY_CONTRACT_DUMP runs and writes a well-formed catalogue', () => {
  const list = services();
  assert.deepEqual(list.map((s) => s.name).sort(), [...SERVICES].sort(), 'one entry per service');
  for (const s of list) {
    for (const key of ['produces', 'consumes']) {
      assert.ok(Array.isArray(s[key]) && s[key].every((t) => typeof t === 'string'), `${s.name}.${key}: array of strings`);
      assert.equal(new Set(s[key]).size, s[key].length, `${s.name}.${key}: duplicates`);
      for (const t of s[key]) assert.match(t, TYPE_RE, `${s.name}.${key}: ${t} is not orderly.<service>.<Name>.v<N>`);
    }
  }
});

test('(i) every produced type has a schema and a sample; each type has one producer, its own service', () => {
  const { samples } = dump();
  const seen = new Map();
  for (const s of services()) {
    for (const t of s.produces) {
      assert.ok(!seen.has(t), `${t} is produced by both ${seen.get(t)} and ${s.name}`);
      seen.set(t, s.name);
      assert.equal(TYPE_RE.exec(t)[1], s.name, `${s.name} produces ${t}, which belongs to another service`);
      assert.ok(schemaTypes.has(t), `${s.name} produces ${t} but no schemas/events/*.schema.json has that x-orderly-type`);
      assert.ok(samples.has(t), `no samples/${t}.json for ${s.name}'s ${t}`);
    }
  }
  for (const t of samples.keys()) assert.ok(seen.has(t), `samples/${t}.json is for a type no service produces`);
});

test('(ii) every sample is a valid CloudEvent of its type, with valid data', async () => {
  const { samples } = dump();
  const { document, diagnostics, errors } = await parseAsyncApi();
  assert.equal(errors.length, 0, `asyncapi.yaml does not parse:\n${formatDiagnostics(diagnostics)}`);
  const ajv = makeAjv();
  const byType = compileAll(ajv);
  const events = eventValidators(document, ajv, byType);
  const owner = produced();
  const problems = [];
  for (const [type, env] of samples) {
    if (!byType.has(type)) { problems.push(`${type}: no schema`); continue; }
    if (!env || typeof env !== 'object' || Array.isArray(env)) { problems.push(`${type}: sample is not a JSON object`); continue; }
    const data = byType.get(type).validate;
    if (!data(env.data)) problems.push(`${type}: data invalid against ${byType.get(type).file}:\n${formatErrors(data.errors)}`);
    const whole = events.get(type);
    if (!whole(env)) problems.push(`${type}: envelope invalid against CloudEventEnvelope:\n${formatErrors(whole.errors)}`);
    if (env.type !== type) problems.push(`${type}: sample has type ${env.type}`);
    if (env.source !== `orderly.${owner.get(type)}`) problems.push(`${type}: source ${env.source}, expected orderly.${owner.get(type)}`);
    if (env.data && env.subject !== expectedSubject(type, env.data)) problems.push(`${type}: subject ${env.subject}, expected ${expectedSubject(type, env.data)}`);
  }
  assert.deepEqual(problems, [], `\n${problems.join('\n')}`);
});

test('(iii) every consumed type is produced by some service', () => {
  const owner = produced();
  for (const s of services()) for (const t of s.consumes) assert.ok(owner.has(t), `${s.name} consumes ${t}, which nobody produces`);
});

test('(iv) every produced type is consumed or terminal; terminal types are produced and unconsumed', () => {
  const owner = produced();
  const used = consumed();
  const terminal = new Set(dump().catalogue.terminal);
  for (const t of owner.keys()) assert.ok(used.has(t) || terminal.has(t), `${t} (from ${owner.get(t)}) is consumed by nobody and not listed as terminal`);
  for (const t of terminal) {
    assert.ok(owner.has(t), `terminal type ${t} is not produced by any service`);
    assert.ok(!used.has(t), `terminal type ${t} is consumed by a service`);
  }
});

test('(v) AsyncAPI send/receive operations match the catalogue exactly', async () => {
  const { document, diagnostics, errors } = await parseAsyncApi();
  assert.equal(errors.length, 0, `asyncapi.yaml does not parse:\n${formatDiagnostics(diagnostics)}`);
  const ops = operationsByService(document);
  for (const s of services()) {
    const o = ops[s.name] ?? { produces: new Set(), consumes: new Set() };
    assert.deepEqual([...o.produces].sort(), [...s.produces].sort(), `${s.name}: AsyncAPI send operations vs catalogue produces`);
    assert.deepEqual([...o.consumes].sort(), [...s.consumes].sort(), `${s.name}: AsyncAPI receive operations vs catalogue consumes`);
  }
  const known = new Set(services().map((s) => s.name));
  for (const name of Object.keys(ops)) assert.ok(known.has(name), `AsyncAPI has operations for ${name}, which is not in the catalogue`);
});

test('(d) schemas/events and the C++ catalogue hold the same set of types', () => {
  const owner = produced();
  const withoutProducer = [...schemaTypes].filter((t) => !owner.has(t));
  const withoutSchema = [...owner.keys()].filter((t) => !schemaTypes.has(t));
  assert.deepEqual(withoutProducer, [], `schemas with no producing service: ${withoutProducer.join(', ')}`);
  assert.deepEqual(withoutSchema, [], `produced types with no schema: ${withoutSchema.join(', ')}`);
});

// infra/topology.json drives the CDK app (one rule, queue and event source
// mapping per C++ rule); it is generated, so it must equal what the code says.
test('infra/topology.json is what contract_dump --topology writes now', () => {
  const { topology } = dump();
  const committed = readJson(new URL('../../infra/topology.json', import.meta.url).pathname);
  assert.deepEqual(
    committed,
    topology,
    'infra/topology.json is stale: regenerate it with\n' +
      '  build/tests/contract_dump --out /tmp/cd --topology infra/topology.json && python3 -m json.tool infra/topology.json',
  );
  const rules = topology.services.flatMap((s) => s.rules);
  assert.equal(new Set(rules.map((r) => r.name)).size, rules.length, 'rule names are unique');
  for (const r of rules) {
    assert.ok(r.types.length > 0, `${r.name} receives no event type`);
    if (r.timerDelaySeconds !== undefined)
      assert.ok(r.timerDelaySeconds > 0 && r.timerDelaySeconds <= 900, `${r.name}: SQS delays are 1..900 s`);
  }
});
