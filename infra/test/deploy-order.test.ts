// Schema changes deploy consumers before producers (docs/events.md#deploying-a-schema-change):
// step 1 synthesizes with `heldBack` (the producer's functions keep the previous release's
// code), step 2 without. Two stub packages that differ stand in for the two releases.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { loadTopology } from '../lib/topology';
import { makeStubLambdaDir } from './support/stub-lambdas';
import { build, CfnTemplate, P, resourcesOfType } from './support/synth';

/** Each function's code asset (its S3 key, a hash of the package), by function name. */
function codeByFunction(heldBack?: { services: string[]; lambdaDir: string }, lambdaDir?: string): Map<string, string> {
  const { stack } = build({ heldBack, lambdaDir });
  const json = Template.fromStack(stack).toJSON() as CfnTemplate;
  return new Map(
    resourcesOfType(json, 'AWS::Lambda::Function').map(([, f]) => [
      f.Properties!.FunctionName as string,
      JSON.stringify(f.Properties!.Code),
    ]),
  );
}

describe('the two-step deploy of a schema change', () => {
  const topology = loadTopology();
  const previous = makeStubLambdaDir(topology);
  const next = makeStubLambdaDir(topology);
  for (const s of topology.services) fs.appendFileSync(path.join(next, s.name, 'bootstrap'), '# the next release\n');
  const before = codeByFunction(undefined, previous);
  const after = codeByFunction(undefined, next);

  it('the two releases differ in every function (else the test proves nothing)', () => {
    for (const [name, code] of before) assert.notEqual(after.get(name), code, name);
  });

  it('step 1: the held-back producer keeps its code, every consumer gets the new release', () => {
    const step1 = codeByFunction({ services: ['payments'], lambdaDir: previous }, next);
    for (const [name, code] of step1) {
      if (name.startsWith(`${P}-payments-`)) assert.equal(code, before.get(name), `${name} held back`);
      else assert.equal(code, after.get(name), `${name} updated`);
    }
    assert.ok([...step1.keys()].some((n) => n.startsWith(`${P}-payments-`)));
  });

  it('the app refuses an unknown service or a missing previous release', () => {
    const app = path.resolve(__dirname, '..', 'bin', 'orderly.ts');
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', app], {
        cwd: path.resolve(__dirname, '..'),
        encoding: 'utf8',
        env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify(Object.fromEntries(args.map((a) => a.split('=')))) },
      });
    const unknown = run(`lambdaDir=${next}`, 'holdBack=billing', `previousLambdaDir=${previous}`);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /-c holdBack: no service billing/);
    const missing = run(`lambdaDir=${next}`, 'holdBack=payments');
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /needs -c previousLambdaDir/);
  });
});
