// The cost table in docs/architecture.md is the output of tests/docs/cost-model.mjs,
// whose per-order flow matches the deliveries infra/topology.json makes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BEGIN, END, TARGET, block, compute, FLOW, PRICES } from './cost-model.mjs';
import { read } from './lib.mjs';

test('the flow covers every delivery the topology makes for a happy-path order, and nothing else', () => {
  const m = compute(); // throws when FLOW.deliveries and the topology disagree
  assert.equal(m.deliveries, Object.keys(FLOW.deliveries).length + 1, 'CarrierProgressed is delivered twice, every other key once');
  assert.ok(m.perOrder > 0);
});

test('docs/architecture.md holds the generated cost model (run node tests/docs/cost-model.mjs --write)', () => {
  const doc = read(TARGET);
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  assert.ok(a >= 0 && b > a, `${TARGET}: cost-model markers missing`);
  assert.equal(doc.slice(a, b + END.length), block());
});

test('the document states the prices the model uses', () => {
  const doc = read(TARGET);
  for (const [name, perUnit] of [
    ['ddbWrite', '$0.625 per'],
    ['ddbRead', '$0.125 per'],
    ['lambdaGbSecond', '$0.0000166667 per GB-second'],
    ['sqsRequest', '$0.40 per'],
    ['eventBridgeEvent', '$1.00 per'],
    ['pipesRequest', '$0.40 per'],
    ['httpApiRequest', '$1.00 per'],
  ]) {
    assert.ok(PRICES[name] > 0, name);
    assert.ok(doc.includes(perUnit), `${TARGET} does not state ${perUnit} (${name})`);
  }
  assert.match(doc, /list prices as of March 2026/);
});
