// A minimal client of DynamoDB Local: the DynamoDB and DynamoDB Streams JSON 1.0 APIs on
// one endpoint. Requests carry a syntactically valid (unchecked) SigV4 header, which is all
// DynamoDB Local asks for.
import http from 'node:http';

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

export class DdbError extends Error {
  constructor(type, message, status) {
    super(`${type}: ${message}`);
    this.type = type;
    this.status = status;
  }
}

export class Ddb {
  constructor(endpoint, region = 'us-east-1') {
    this.url = new URL(endpoint);
    this.region = region;
  }

  call(target, op, body) {
    const payload = Buffer.from(JSON.stringify(body ?? {}));
    const day = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          agent,
          host: this.url.hostname,
          port: this.url.port,
          method: 'POST',
          path: '/',
          headers: {
            'content-type': 'application/x-amz-json-1.0',
            'x-amz-target': `${target}.${op}`,
            'content-length': payload.length,
            authorization: `AWS4-HMAC-SHA256 Credential=local/${day}/${this.region}/dynamodb/aws4_request, SignedHeaders=host, Signature=0`,
          },
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json;
            try {
              json = text ? JSON.parse(text) : {};
            } catch {
              reject(new DdbError('Unreadable', text.slice(0, 200), res.statusCode));
              return;
            }
            if (res.statusCode === 200) resolve(json);
            else reject(new DdbError(String(json.__type ?? 'Error').split('#').pop(), `${op}: ${json.message ?? json.Message ?? text}`, res.statusCode));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.setTimeout(30_000, () => req.destroy(new Error(`dynamodb ${op}: no answer in 30 s`)));
      req.end(payload);
    });
  }

  db(op, body) {
    return this.call('DynamoDB_20120810', op, body);
  }

  streams(op, body) {
    return this.call('DynamoDBStreams_20120810', op, body);
  }

  /** Every item of a table (Scan, all pages). */
  async scanAll(table) {
    const items = [];
    let start;
    do {
      const r = await this.db('Scan', { TableName: table, ...(start ? { ExclusiveStartKey: start } : {}) });
      items.push(...(r.Items ?? []));
      start = r.LastEvaluatedKey;
    } while (start);
    return items;
  }
}

/** DynamoDB JSON ({"S": "x"}, {"N": "1"}, {"M": {...}}) to plain JSON. */
export function unmarshal(av) {
  if (av === null || typeof av !== 'object') return av;
  const [[t, v]] = Object.entries(av);
  switch (t) {
    case 'S':
      return v;
    case 'N':
      return Number(v);
    case 'BOOL':
      return v;
    case 'NULL':
      return null;
    case 'M':
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unmarshal(x)]));
    case 'L':
      return v.map(unmarshal);
    case 'SS':
      return [...v];
    case 'NS':
      return v.map(Number);
    case 'B':
    case 'BS':
      return v;
    default:
      return v;
  }
}

export function unmarshalItem(item) {
  return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, unmarshal(v)]));
}

/** Creates one table of the model (stream and TTL as the template says); waits until ACTIVE. */
export async function createTable(ddb, t) {
  const req = {
    TableName: t.name,
    KeySchema: t.keySchema,
    AttributeDefinitions: t.attributeDefinitions,
  };
  if (t.billingMode === 'PAY_PER_REQUEST') req.BillingMode = 'PAY_PER_REQUEST';
  else req.ProvisionedThroughput = { ReadCapacityUnits: 5, WriteCapacityUnits: 5 };
  if (t.streamViewType) req.StreamSpecification = { StreamEnabled: true, StreamViewType: t.streamViewType };
  const gsi = (t.globalSecondaryIndexes ?? []).map((g) => ({
    IndexName: g.IndexName,
    KeySchema: g.KeySchema,
    Projection: g.Projection,
    ...(req.ProvisionedThroughput ? { ProvisionedThroughput: req.ProvisionedThroughput } : {}),
  }));
  if (gsi.length) req.GlobalSecondaryIndexes = gsi;
  if (t.localSecondaryIndexes?.length) req.LocalSecondaryIndexes = t.localSecondaryIndexes.map((l) => ({ IndexName: l.IndexName, KeySchema: l.KeySchema, Projection: l.Projection }));
  try {
    await ddb.db('CreateTable', req);
  } catch (e) {
    if (e.type !== 'ResourceInUseException') throw e;
  }
  for (let i = 0; ; i++) {
    const d = await ddb.db('DescribeTable', { TableName: t.name });
    if (d.Table.TableStatus === 'ACTIVE') {
      if (t.ttlAttribute) {
        try {
          await ddb.db('UpdateTimeToLive', { TableName: t.name, TimeToLiveSpecification: { Enabled: true, AttributeName: t.ttlAttribute } });
        } catch (e) {
          if (!/already enabled/i.test(e.message)) throw e;
        }
      }
      return d.Table;
    }
    if (i > 200) throw new Error(`table ${t.name} is not ACTIVE after 20 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
