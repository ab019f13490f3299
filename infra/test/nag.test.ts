// cdk-nag (v3, a CDK policy-validation plugin): zero unsuppressed findings, and every
// acknowledgement is specific, justified and still needed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { build, synthesized } from './support/synth';

interface Ack {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

function acknowledgements(root: IConstruct): Ack[] {
  const out: Ack[] = [];
  for (const c of root.node.findAll()) {
    for (const m of c.node.metadata) {
      if (m.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY || !m.data) continue;
      for (const [id, reason] of Object.entries(m.data as Record<string, unknown>)) {
        out.push({ path: c.node.path, id: id.replace(/^annotation::/i, ''), reason: String(reason) });
      }
    }
  }
  return out;
}

function violations(scope: IConstruct) {
  const report = new AwsSolutionsChecks(scope, { verbose: true }).validateScope(scope);
  return report.violations.flatMap((v) =>
    v.violatingResources.map((r) => ({ rule: v.ruleName, severity: v.severity, path: r.constructPath ?? '' })),
  );
}

describe('cdk-nag AwsSolutionsChecks', () => {
  const { stack } = synthesized();

  it('synth with the plugin registered succeeds (a finding would throw ValidationFailed)', () => {
    const b = build();
    Validations.of(b.app).addPlugins(new AwsSolutionsChecks(b.app, { verbose: true }));
    assert.doesNotThrow(() => b.app.synth());
  });

  it('reports zero unacknowledged errors and zero unacknowledged warnings', (t) => {
    const found = violations(stack);
    const errors = found.filter((v) => v.severity === 'error');
    const warnings = found.filter((v) => v.severity !== 'error');
    t.diagnostic(`errors: ${errors.length}, warnings: ${warnings.length}`);
    assert.deepEqual(errors, []);
    assert.deepEqual(warnings, []);
  });

  it('every acknowledgement names one rule (finding-level for IAM5) and gives a specific reason', (t) => {
    const acks = acknowledgements(stack);
    assert.ok(acks.length > 0);
    for (const a of acks) {
      t.diagnostic(`${a.path}: ${a.id}: ${a.reason}`);
      assert.match(a.id, /^AwsSolutions-[A-Z]+[0-9]+(\[[^\]]+\])?$/, a.id);
      if (a.id.startsWith('AwsSolutions-IAM5')) assert.match(a.id, /\[(Resource|Action)::.+\]$/, 'IAM5 must be acknowledged per finding');
      assert.ok(a.reason.trim().length >= 40, `${a.path} ${a.id}: reason too short`);
    }
    // Acknowledgements sit on the resource (or its policy), never on the stack or app.
    for (const a of acks) assert.notEqual(a.path, stack.node.path);
  });

  it('every acknowledgement is still needed (each one silences a real finding)', () => {
    const acks = acknowledgements(stack);
    // Build the same stack again with acknowledgements switched off.
    const proto = Validations.prototype as unknown as { acknowledge: (...a: unknown[]) => void };
    const original = proto.acknowledge;
    proto.acknowledge = () => {};
    let raw: ReturnType<typeof violations>;
    try {
      raw = violations(build().stack);
    } finally {
      proto.acknowledge = original;
    }
    for (const a of acks) {
      const silenced = raw.filter((v) => v.rule === a.id && (v.path === a.path || v.path.startsWith(`${a.path}/`)));
      assert.ok(silenced.length > 0, `acknowledgement ${a.id} on ${a.path} silences nothing: remove it`);
    }
  });

  it('CDK itself reports no errors or warnings', () => {
    const annotations = Annotations.fromStack(stack);
    assert.deepEqual(annotations.findError('*', Match.anyValue()), []);
    assert.deepEqual(annotations.findWarning('*', Match.anyValue()), []);
  });
});
