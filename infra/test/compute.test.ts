// Lambda functions, DynamoDB tables and the payment provider secret.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ITEM_STORE_ACTIONS, SERVICE_SECRETS } from '../lib/orderly-stack';
import { allStatements, asArray, build, P, refId, resourcesOfType, synthesized, TEST_STAGE } from './support/synth';

const { json, topology } = synthesized();
const R = json.Resources;
const functions = resourcesOfType(json, 'AWS::Lambda::Function');
const fnByName = new Map(functions.map(([id, f]) => [f.Properties!.FunctionName as string, { id, p: f.Properties! }]));
const tables = resourcesOfType(json, 'AWS::DynamoDB::Table');

function rolePolicyStatements(roleId: string): any[] {
  return resourcesOfType(json, 'AWS::IAM::Policy')
    .filter(([, p]) => asArray<any>(p.Properties!.Roles).some((r) => refId(r) === roleId))
    .flatMap(([, p]) => asArray<any>(p.Properties!.PolicyDocument.Statement));
}

describe('Lambda functions', () => {
  const expected = topology.services.flatMap((s) => s.handlers.map((h) => ({ svc: s.name, handler: h })));

  it('one function per (service, handler) of topology.json, and no other', () => {
    assert.deepEqual(
      [...fnByName.keys()].sort(),
      expected.map((e) => `${P}-${e.svc}-${e.handler}`).sort(),
    );
  });

  for (const { svc, handler } of expected) {
    it(`${P}-${svc}-${handler}`, () => {
      const { p } = fnByName.get(`${P}-${svc}-${handler}`)!;
      assert.equal(p.Runtime, 'provided.al2023');
      assert.deepEqual(p.Architectures, ['x86_64']);
      assert.equal(p.Handler, handler, 'Lambda sets _HANDLER from Handler');
      assert.deepEqual(p.TracingConfig, { Mode: 'Active' });
      assert.equal(p.MemorySize, 256);
      assert.equal(p.Timeout, handler === 'api' ? 10 : 30);
      assert.equal(p.LoggingConfig.LogFormat, 'JSON');
      assert.equal(p.LoggingConfig.ApplicationLogLevel, 'INFO');
      assert.equal(p.LoggingConfig.SystemLogLevel, 'INFO');
      const logGroup = R[refId(p.LoggingConfig.LogGroup)!];
      assert.equal(logGroup.Type, 'AWS::Logs::LogGroup');
      assert.ok(logGroup.Properties!.RetentionInDays > 0, 'log group retention');
      assert.equal(logGroup.Properties!.LogGroupName, `/aws/lambda/${P}-${svc}-${handler}`);

      const env = p.Environment.Variables;
      assert.equal(env.ORDERLY_SERVICE, svc);
      const tableId = refId(env.ORDERLY_TABLE)!;
      assert.equal(R[tableId].Type, 'AWS::DynamoDB::Table');
      assert.equal(env.ORDERLY_LOG_LEVEL, 'info');
      // Per stage, so two stages in one account never add to each other's metrics.
      assert.equal(env.ORDERLY_METRICS_NAMESPACE, `Orderly/${TEST_STAGE}`);
      // Debian's OpenSSL in the bootstraps knows only /usr/lib/ssl: AL2023 keeps its CAs here.
      assert.equal(env.SSL_CERT_FILE, '/etc/pki/tls/certs/ca-bundle.crt');
      assert.equal(env._HANDLER, undefined, '_HANDLER is reserved: Lambda sets it');
      // Retention of delivered orders' personal data (ADR 0017): orders only, 90 days by default.
      assert.equal(env.ORDERLY_RETENTION_DAYS, svc === 'orders' ? '90' : undefined);

      // Its role: no managed policy; DynamoDB only on its own table; logs only to its group.
      const roleId = refId(p.Role)!;
      assert.equal(R[roleId].Properties!.ManagedPolicyArns, undefined);
      const stmts = rolePolicyStatements(roleId);
      const ddb = stmts.filter((s) => asArray<string>(s.Action).some((a) => a.startsWith('dynamodb:')));
      assert.equal(ddb.length, 1);
      assert.deepEqual([...asArray(ddb[0].Action)].sort(), [...ITEM_STORE_ACTIONS].sort());
      assert.deepEqual(ddb[0].Resource, { 'Fn::GetAtt': [tableId, 'Arn'] });
      const logs = stmts.filter((s) => asArray<string>(s.Action).some((a) => a.startsWith('logs:')));
      assert.equal(logs.length, 1);
      assert.equal(refId(logs[0].Resource), refId(p.LoggingConfig.LogGroup));
      // The table key only through DynamoDB.
      const tableKey = refId(R[tableId].Properties!.SSESpecification.KMSMasterKeyId);
      const keyStmt = stmts.find((s) => refId(s.Resource) === tableKey);
      assert.ok(keyStmt, 'table key statement');
      assert.ok(JSON.stringify(keyStmt.Condition.StringEquals['kms:ViaService']).includes('dynamodb.'));
    });
  }
});

describe('DynamoDB tables', () => {
  it('one table per service', () => {
    assert.equal(tables.length, topology.services.length);
    const named = new Set(functions.map(([, f]) => refId(f.Properties!.Environment.Variables.ORDERLY_TABLE)));
    assert.equal(named.size, topology.services.length, 'each service has its own table');
  });

  for (const [id, t] of tables) {
    it(`${id}: pk/sk, on-demand, PITR, CMK, TTL _ttl, NEW_IMAGE stream, retained`, () => {
      const p = t.Properties!;
      assert.deepEqual(p.KeySchema, [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ]);
      assert.deepEqual(p.AttributeDefinitions, [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ]);
      assert.equal(p.BillingMode, 'PAY_PER_REQUEST');
      assert.equal(p.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled, true);
      assert.equal(p.SSESpecification.SSEEnabled, true);
      assert.equal(p.SSESpecification.SSEType, 'KMS');
      const key = R[refId(p.SSESpecification.KMSMasterKeyId)!];
      assert.equal(key.Type, 'AWS::KMS::Key', 'customer managed key of this stack');
      assert.equal(key.Properties!.EnableKeyRotation, true);
      assert.deepEqual(p.TimeToLiveSpecification, { AttributeName: '_ttl', Enabled: true });
      assert.equal(p.StreamSpecification.StreamViewType, 'NEW_IMAGE');
      assert.equal(t.DeletionPolicy, 'Retain');
      assert.equal(t.UpdateReplacePolicy, 'Retain');
    });
  }

  it('every table has its own key', () => {
    const keys = tables.map(([, t]) => refId(t.Properties!.SSESpecification.KMSMasterKeyId));
    assert.equal(new Set(keys).size, tables.length);
  });
});

describe('payment provider secret', () => {
  const [svc, spec] = Object.entries(SERVICE_SECRETS)[0];
  const secrets = resourcesOfType(json, 'AWS::SecretsManager::Secret');

  const secretName = `orderly/${TEST_STAGE}/${spec.path}`;
  it(`${secretName} exists, encrypted with a customer managed key`, () => {
    assert.equal(secrets.length, 1);
    const p = secrets[0][1].Properties!;
    assert.equal(p.Name, secretName);
    assert.equal(R[refId(p.KmsKeyId)!].Type, 'AWS::KMS::Key');
  });

  it(`only ${P}-${svc}-${spec.handler} can read it, and it gets the ARN and the extension layer`, () => {
    const secretId = secrets[0][0];
    const readers = allStatements(json).filter(
      ({ statement: s }) =>
        s.Effect === 'Allow' &&
        asArray<string>(s.Action).includes('secretsmanager:GetSecretValue') &&
        JSON.stringify(s.Resource ?? '').includes(secretId),
    );
    assert.equal(readers.length, 1);
    const reader = fnByName.get(`${P}-${svc}-${spec.handler}`)!;
    const roleId = refId(reader.p.Role)!;
    const policy = R[readers[0].where];
    assert.deepEqual(asArray<any>(policy.Properties!.Roles).map(refId), [roleId]);
    // The secret's key names no other principal than the account (delegation to IAM) and this role.
    const keyId = refId(secrets[0][1].Properties!.KmsKeyId)!;
    const principals = asArray<any>(R[keyId].Properties!.KeyPolicy.Statement).map((st) => st.Principal.AWS);
    const others = principals.filter((pr) => !JSON.stringify(pr).includes(':root'));
    assert.deepEqual(others.map(refId), [roleId]);
    assert.equal(refId(reader.p.Environment.Variables[spec.envVar]), secretId);
    for (const [name, f] of fnByName) {
      const layers = JSON.stringify(f.p.Layers ?? []);
      if (name === `${P}-${svc}-${spec.handler}`) assert.ok(layers.includes('Paramsandsecrets'), 'extension layer');
      else {
        assert.equal(f.p.Layers, undefined, `${name} has no layer`);
        assert.equal(f.p.Environment.Variables[spec.envVar], undefined);
      }
    }
  });
});

describe('retention (-c retentionDays)', () => {
  it('reaches the orders functions as ORDERLY_RETENTION_DAYS, and a bad value fails the synth', () => {
    const json = build({ retentionDays: 7.5 }).app.synth().getStackArtifact(`Orderly-${TEST_STAGE}`).template;
    const fns = Object.values<any>(json.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    const orders = fns.filter((f) => f.Properties.Environment.Variables.ORDERLY_SERVICE === 'orders');
    assert.equal(orders.length, 2);
    for (const f of orders) assert.equal(f.Properties.Environment.Variables.ORDERLY_RETENTION_DAYS, '7.5');
    for (const bad of [-1, Number.NaN, 40000]) assert.throws(() => build({ retentionDays: bad }), /retentionDays/);
  });
});
