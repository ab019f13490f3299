// Shared helpers for the contract tests (not a test file itself: node --test
// only runs *.test.mjs here).
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const EVENTS_DIR = join(REPO_ROOT, 'schemas', 'events');
export const ASYNCAPI_PATH = join(REPO_ROOT, 'schemas', 'asyncapi.yaml');
export const COMMON_FILE = 'common.schema.json';
export const SERVICES = ['orders', 'inventory', 'payments', 'shipping', 'notifications'];
export const TYPE_RE = /^orderly\.([a-z]+)\.([A-Z][A-Za-z]+)\.v([0-9]+)$/;

export function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

// Every event schema in schemas/events: [{file, name, type, schema}], sorted by name.
export function loadEventSchemas() {
  return readdirSync(EVENTS_DIR)
    .filter((f) => f.endsWith('.schema.json') && f !== COMMON_FILE)
    .sort()
    .map((file) => {
      const schema = readJson(join(EVENTS_DIR, file));
      return { file, name: file.replace(/\.schema\.json$/, ''), type: schema['x-orderly-type'], schema };
    });
}

export function loadCommonSchema() {
  return readJson(join(EVENTS_DIR, COMMON_FILE));
}

// Ajv for JSON Schema 2020-12, strict, all errors, with formats, knowing the
// Orderly extension keywords and the shared shapes.
export function makeAjv({ withCommon = true } = {}) {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  ajv.addKeyword({ keyword: 'x-orderly-type', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'x-orderly-version', schemaType: 'number' });
  if (withCommon) ajv.addSchema(loadCommonSchema());
  return ajv;
}

// A validator for every event schema, keyed by full CloudEvents type.
export function compileAll(ajv = makeAjv()) {
  const byType = new Map();
  for (const s of loadEventSchemas()) byType.set(s.type, { ...s, validate: ajv.compile(s.schema) });
  return byType;
}

export function formatErrors(errors) {
  return (errors ?? []).map((e) => `  ${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`).join('\n');
}

export function formatDiagnostics(diagnostics) {
  const sev = Object.fromEntries(Object.entries(DiagnosticSeverity).map(([k, v]) => [v, k]));
  return diagnostics
    .map((d) => `  [${sev[d.severity] ?? d.severity}] ${d.code}: ${d.message} at /${(d.path ?? []).join('/')}${d.source ? ` (${d.source})` : ''}`)
    .join('\n');
}

// Parses schemas/asyncapi.yaml with @asyncapi/parser v3, resolving the
// relative $refs to ./events/*.schema.json from the file's own location.
export async function parseAsyncApi() {
  const parser = new Parser();
  const text = readFileSync(ASYNCAPI_PATH, 'utf8');
  const { document, diagnostics } = await parser.parse(text, { source: ASYNCAPI_PATH });
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  return { document, diagnostics, errors };
}

// The CloudEventEnvelope schema from the AsyncAPI components, as a JSON
// Schema that Ajv 2020-12 can compile (the AsyncAPI file writes it with
// keywords common to draft-07 and 2020-12).
export function envelopeSchemaFrom(document) {
  const raw = document.json().components?.schemas?.CloudEventEnvelope;
  if (!raw) throw new Error('components.schemas.CloudEventEnvelope is missing from asyncapi.yaml');
  const schema = structuredClone(raw);
  // The parser annotates schemas with its own keys; keep only JSON Schema.
  const strip = (node) => {
    if (Array.isArray(node)) return node.forEach(strip);
    if (node && typeof node === 'object') {
      for (const k of Object.keys(node)) if (k.startsWith('x-parser-')) delete node[k];
      Object.values(node).forEach(strip);
    }
  };
  strip(schema);
  return schema;
}

// What subject a CloudEvent of this type must carry (design: the orderId, the
// sku for ProductUpdated, the erasureId for an erasure and its answers).
export function expectedSubject(type, data) {
  if (type === 'orderly.inventory.ProductUpdated.v1') return data.sku;
  if (/Customer(Erased|ErasureRequested)\.v1$/.test(type)) return data.erasureId;
  return data.orderId;
}

// Validators for whole events: CloudEventEnvelope (from the AsyncAPI
// components) combined with that type's constant type/source and its data
// schema, exactly as each AsyncAPI message payload combines them.
// Returns Map<full type, validate>.
export function eventValidators(document, ajv, byType) {
  const envelope = envelopeSchemaFrom(document);
  const envelopeId = 'urn:orderly:asyncapi:CloudEventEnvelope';
  if (!ajv.getSchema(envelopeId)) ajv.addSchema({ ...envelope, $id: envelopeId });
  const out = new Map();
  for (const [type, { schema }] of byType) {
    const service = TYPE_RE.exec(type)[1];
    out.set(type, ajv.compile({
      allOf: [
        { $ref: envelopeId },
        {
          type: 'object',
          properties: {
            type: { const: type },
            source: { const: `orderly.${service}` },
            data: { $ref: schema.$id },
          },
        },
      ],
    }));
  }
  return out;
}

// AsyncAPI operations as {service: {produces: Set(type), consumes: Set(type)}},
// from operation ids <service>.<send|receive>.<Name> and their channels.
export function operationsByService(document) {
  const out = {};
  for (const op of document.operations().all()) {
    const [service, verb] = op.id().split('.');
    const entry = (out[service] ??= { produces: new Set(), consumes: new Set() });
    for (const ch of op.channels().all()) (verb === 'send' ? entry.produces : entry.consumes).add(ch.address());
  }
  return out;
}
