// Schema evolution: every event schema stays compatible with its released
// snapshot (schemas/released/events) inside one type version, and the checker
// (compat.mjs) does catch each kind of incompatible change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { EVENTS_DIR, REPO_ROOT, readJson } from './lib.mjs';
import { incompatibilities } from './compat.mjs';

const RELEASED_DIR = join(REPO_ROOT, 'schemas', 'released', 'events');
const files = (dir) => readdirSync(dir).filter((f) => f.endsWith('.schema.json')).sort();

// Every released schema against its current file: the list of problems.
export function compareTrees(releasedDir, currentDir) {
  const problems = [];
  const current = new Set(files(currentDir));
  for (const f of files(releasedDir)) {
    if (!current.has(f)) {
      problems.push(`${f}: released, now gone (retire a version by deleting its snapshot too)`);
      continue;
    }
    for (const p of incompatibilities(readJson(join(releasedDir, f)), readJson(join(currentDir, f))))
      problems.push(`${f} ${p}`);
  }
  return problems;
}

test('the snapshot covers every released type version and the shared shapes', () => {
  const released = files(RELEASED_DIR);
  assert.ok(released.includes('common.schema.json'));
  assert.ok(released.length >= 20, `${released.length} released schemas`);
  for (const f of released) {
    if (f === 'common.schema.json') continue;
    const s = readJson(join(RELEASED_DIR, f));
    assert.match(s['x-orderly-type'], /\.v\d+$/, `${f}: a versioned type`);
  }
});

test('every schema is compatible with its release inside its version', () => {
  assert.deepEqual(compareTrees(RELEASED_DIR, EVENTS_DIR), []);
});

// The checker on real schemas with one change each: it must fail on every
// incompatible change and pass the compatible ones.
const declined = () => structuredClone(readJson(join(RELEASED_DIR, 'PaymentDeclined.schema.json')));
const cancelled = () => structuredClone(readJson(join(RELEASED_DIR, 'OrderCancelled.schema.json')));
const common = () => structuredClone(readJson(join(RELEASED_DIR, 'common.schema.json')));

test('incompatible changes are caught, each with its path', () => {
  const cases = [
    ['a new required field', declined, (s) => { s.properties.retryable = { type: 'boolean' }; s.required.push('retryable'); }, /retryable is newly required/],
    ['a property removed', declined, (s) => { delete s.properties.reason; s.required = s.required.filter((r) => r !== 'reason'); }, /property reason removed/],
    ['a type changed', declined, (s) => { s.properties.reason = { type: 'integer' }; }, /\$\.reason: type string no longer accepted/],
    ['a bound tightened', declined, (s) => { s.properties.reason.maxLength = 20; }, /maxLength lowered from 200 to 20/],
    ['a minimum raised', declined, (s) => { s.properties.reason.minLength = 3; }, /minLength raised from 1 to 3/],
    ['a pattern added', declined, (s) => { s.properties.reason.pattern = '^[a-z_]+$'; }, /pattern changed/],
    ['a $ref swapped', declined, (s) => { s.properties.orderId.$ref = 'common.schema.json#/$defs/Sku'; }, /\$ref changed/],
    ['additionalProperties closed', declined, (s) => { s.additionalProperties = true; }, null],
  ];
  for (const [what, make, mutate, expect] of cases) {
    const before = make();
    const after = make();
    mutate(after);
    const found = incompatibilities(before, after);
    if (expect) assert.ok(found.some((p) => expect.test(p)), `${what}: not caught (${JSON.stringify(found)})`);
    else assert.deepEqual(found, [], `${what}: opening a schema is compatible`);
  }
  // An optional field (none is released today: one is added to both sides) made required.
  const withNote = () => {
    const s = declined();
    s.properties.note = { type: 'string' };
    return s;
  };
  const required = withNote();
  required.required.push('note');
  assert.deepEqual(incompatibilities(declined(), withNote()), [], 'adding an optional field is compatible');
  assert.ok(incompatibilities(withNote(), required).some((p) => /\$: note is newly required/.test(p)));
  // The reverse of the opening: closing an open schema is not.
  const open = declined();
  open.additionalProperties = true;
  assert.ok(incompatibilities(open, declined()).some((p) => /additionalProperties closed/.test(p)));
  // An enum value dropped (the cancellation reasons).
  const c = cancelled();
  assert.ok(Array.isArray(c.properties.reason.enum) && c.properties.reason.enum.length > 1, 'OrderCancelled.reason is an enum');
  const narrowed = cancelled();
  narrowed.properties.reason.enum = c.properties.reason.enum.slice(1);
  assert.ok(incompatibilities(c, narrowed).some((p) => /\$\.reason: enum lost/.test(p)));
  // The shared shapes: a $defs entry narrowed breaks every event using it.
  const cm = common();
  const name = Object.keys(cm.$defs).find((k) => cm.$defs[k].maxLength !== undefined || cm.$defs[k].properties);
  const narrowedCommon = common();
  if (narrowedCommon.$defs[name].maxLength !== undefined) narrowedCommon.$defs[name].maxLength -= 1;
  else narrowedCommon.$defs[name].required = [...(narrowedCommon.$defs[name].required ?? []), 'extra'];
  assert.ok(incompatibilities(cm, narrowedCommon).length > 0, `$defs.${name} narrowed: not caught`);
});

test('compatible changes pass: an optional field, new enum values, looser bounds, new words', () => {
  const s = declined();
  s.properties.provider = { type: 'string', maxLength: 40, description: 'new, optional' };
  s.properties.reason.maxLength = 500;
  s.properties.reason.description = 'reworded';
  s.examples = [];
  assert.deepEqual(incompatibilities(declined(), s), []);
  const wider = cancelled();
  wider.properties.reason.enum = [...wider.properties.reason.enum, 'fraud_suspected'];
  assert.deepEqual(incompatibilities(cancelled(), wider), []);
});

test('the tree comparison fails when a file in schemas/events changes incompatibly', async () => {
  const { mkdtempSync, cpSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'orderly-compat-'));
  try {
    cpSync(EVENTS_DIR, dir, { recursive: true });
    assert.deepEqual(compareTrees(RELEASED_DIR, dir), [], 'a copy of today\'s schemas is compatible');
    const s = readJson(join(dir, 'PaymentDeclined.schema.json'));
    s.required.push('provider');
    s.properties.provider = { type: 'string' };
    writeFileSync(join(dir, 'PaymentDeclined.schema.json'), JSON.stringify(s));
    rmSync(join(dir, 'NotificationSent.schema.json'));
    const problems = compareTrees(RELEASED_DIR, dir);
    assert.ok(problems.some((p) => /^PaymentDeclined\.schema\.json \$: provider is newly required/.test(p)), problems.join('\n'));
    assert.ok(problems.some((p) => /^NotificationSent\.schema\.json: released, now gone/.test(p)), problems.join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
