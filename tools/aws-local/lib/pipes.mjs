// EventBridge Pipes with a DynamoDB stream source and an event bus target: read the table's
// stream from DynamoDB Local (DynamoDBStreams_20120810: DescribeTable's LatestStreamArn,
// DescribeStream, GetShardIterator, GetRecords; shards followed parent before child), keep
// the records that match the pipe's FilterCriteria, apply the InputTemplate and the
// detail-type/source paths, and PutEvents in batches of BatchSize. Entries the bus refuses
// are retried up to MaximumRetryAttempts, then sent to the pipe's DLQ.
import { fillTemplate, jsonPath, matches } from './events.mjs';

const POLL_MS = 250; // Pipes polls a DynamoDB stream shard about four times a second

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done);
  });

/** A dynamic parameter: a JSON path (`$.a.b`) is looked up in the record, else a literal. */
function dynamic(value, record) {
  if (typeof value === 'string' && value.startsWith('$.')) {
    const v = jsonPath(record, value);
    return v === undefined ? undefined : typeof v === 'string' ? v : JSON.stringify(v);
  }
  return value;
}

export class DynamoDbStreamPipe {
  constructor({ pipe, ddb, bus, sqs, region, account, log = () => {} }) {
    this.p = pipe;
    this.ddb = ddb;
    this.bus = bus;
    this.sqs = sqs;
    this.region = region;
    this.account = account;
    this.log = log;
    this.abort = new AbortController();
    this.shards = new Map(); // shardId -> { parent, iterator, done }
    this.stats = { records: 0, filteredOut: 0, put: 0, failedEntries: 0, retries: 0, deadLettered: 0, errors: 0, iteratorRenewals: 0 };
    this.streamArn = null;
  }

  start() {
    if (this.p.desiredState !== 'RUNNING') return;
    this.running = this.run().catch((err) => this.log(`pipe ${this.p.name}: stopped: ${err.stack ?? err}`));
  }

  async stop() {
    this.abort.abort();
    await this.running;
  }

  async discover(initial) {
    let start;
    do {
      const d = await this.ddb.streams('DescribeStream', { StreamArn: this.streamArn, ...(start ? { ExclusiveStartShardId: start } : {}) });
      for (const s of d.StreamDescription.Shards ?? []) {
        if (this.shards.has(s.ShardId)) continue;
        // Initial shards start where the pipe says; shards that appear later from their start.
        const type = initial && this.p.startingPosition === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON';
        this.shards.set(s.ShardId, { parent: s.ParentShardId, type, iterator: null, done: false });
      }
      start = d.StreamDescription.LastEvaluatedShardId;
    } while (start);
  }

  async run() {
    const signal = this.abort.signal;
    const t = await this.ddb.db('DescribeTable', { TableName: this.p.table });
    this.streamArn = t.Table.LatestStreamArn;
    if (!this.streamArn) throw new Error(`table ${this.p.table} has no stream`);
    await this.discover(true);
    let lastDiscover = Date.now();
    while (!signal.aborted) {
      let got = 0;
      try {
        if (Date.now() - lastDiscover > 5000) {
          await this.discover(false);
          lastDiscover = Date.now();
        }
        for (const [id, s] of this.shards) {
          if (s.done || signal.aborted) continue;
          const parent = s.parent && this.shards.get(s.parent);
          if (parent && !parent.done) continue; // a child waits for its parent's records
          let r;
          for (let attempt = 0; ; attempt++) {
            if (!s.iterator) {
              const it = await this.ddb.streams('GetShardIterator', {
                StreamArn: this.streamArn,
                ShardId: id,
                ...(s.lastSeq ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: s.lastSeq } : { ShardIteratorType: s.type }),
              });
              s.iterator = it.ShardIterator;
            }
            try {
              r = await this.ddb.streams('GetRecords', { ShardIterator: s.iterator, Limit: 1000 });
              break;
            } catch (err) {
              // DynamoDB Local numbers stream records across all tables of its shared
              // database, and refuses an iterator taken on an empty shard once the shard's
              // first record has a later number (TrimmedDataAccessException). A fresh
              // iterator (after the last record read, else at the trim horizon) reads on.
              if (attempt > 0 || !/TrimmedDataAccess|ExpiredIterator/.test(err.type ?? err.message)) throw err;
              this.stats.iteratorRenewals++;
              s.iterator = null;
            }
          }
          s.iterator = r.NextShardIterator;
          if (!s.iterator) {
            s.done = true;
            lastDiscover = 0; // look for its children now
          }
          const records = r.Records ?? [];
          got += records.length;
          for (let i = 0; i < records.length; i += this.p.batchSize) {
            const batch = records.slice(i, i + this.p.batchSize);
            await this.processBatch(batch);
            s.lastSeq = batch[batch.length - 1].dynamodb?.SequenceNumber ?? s.lastSeq;
          }
        }
      } catch (err) {
        this.stats.errors++;
        this.log(`pipe ${this.p.name}: ${err.message}`);
        for (const s of this.shards.values()) s.iterator = null; // renewed from each shard's last record
        await sleep(1000, signal);
      }
      if (!got) await sleep(POLL_MS, signal);
    }
  }

  /** The record as Pipes hands it to filters and transformers. */
  sourceEvent(r) {
    return {
      eventID: r.eventID,
      eventName: r.eventName,
      eventVersion: r.eventVersion,
      eventSource: 'aws:dynamodb',
      awsRegion: this.region,
      dynamodb: r.dynamodb,
      eventSourceARN: this.streamArn,
    };
  }

  async processBatch(raw) {
    this.stats.records += raw.length;
    const events = raw.map((r) => this.sourceEvent(r));
    const kept = this.p.filters.length ? events.filter((e) => this.p.filters.some((f) => matches(f, e))) : events;
    this.stats.filteredOut += events.length - kept.length;
    if (!kept.length) return;
    const ingestion = new Date().toISOString();
    const reserved = {
      'aws.pipes.pipe-arn': this.p.arn,
      'aws.pipes.pipe-name': this.p.name,
      'aws.pipes.source-arn': this.streamArn,
      'aws.pipes.target-arn': this.p.targetArn,
      'aws.pipes.event.ingestion-time': ingestion,
    };
    let pending = kept.map((e) => ({ source: e, entry: this.entry(e, reserved) }));
    const max = this.p.maximumRetryAttempts < 0 ? 185 : this.p.maximumRetryAttempts;
    for (let attempt = 0; pending.length; attempt++) {
      const res = this.bus.putEvents(pending.map((x) => x.entry));
      const failed = [];
      res.Entries.forEach((r, i) => {
        if (r.ErrorCode) failed.push({ ...pending[i], error: `${r.ErrorCode}: ${r.ErrorMessage}` });
        else this.stats.put++;
      });
      if (!failed.length) return;
      this.stats.failedEntries += failed.length;
      if (attempt >= max) {
        for (const f of failed) this.deadLetter(f, attempt + 1);
        return;
      }
      this.stats.retries++;
      pending = failed;
      await sleep(Math.min(100 * 2 ** attempt, 2000), this.abort.signal);
      if (this.abort.signal.aborted) return;
    }
  }

  entry(e, reserved) {
    const detail = this.p.inputTemplate === undefined ? JSON.stringify(e) : fillTemplate(this.p.inputTemplate, (name) => (name.startsWith('$') ? { value: jsonPath(e, name) } : name in reserved ? { value: reserved[name] } : { found: false }));
    return {
      EventBusName: this.p.bus,
      Source: dynamic(this.p.source, e) ?? `Pipe ${this.p.name}`,
      DetailType: dynamic(this.p.detailType, e) ?? 'Event from aws:dynamodb',
      Detail: detail,
      Resources: this.p.resources,
      ...(this.p.time ? { Time: dynamic(this.p.time, e) } : {}),
    };
  }

  deadLetter(f, attempts) {
    this.stats.deadLettered++;
    this.log(`pipe ${this.p.name}: record ${f.source.eventID} dead-lettered after ${attempts} attempts: ${f.error}`);
    if (!this.p.deadLetterQueue) return;
    const seq = f.source.dynamodb?.SequenceNumber;
    // The shape Pipes (like Lambda's stream event source mappings) writes for a DynamoDB
    // stream: where the records are, not the records themselves.
    const body = {
      requestContext: { requestId: f.source.eventID, pipeArn: this.p.arn, condition: 'RetryAttemptsExhausted', approximateInvokeCount: attempts },
      responseContext: { statusCode: 400, executedVersion: null, functionError: f.error },
      version: '1.0',
      timestamp: new Date().toISOString(),
      DDBStreamBatchInfo: {
        shardId: null,
        startSequenceNumber: seq,
        endSequenceNumber: seq,
        approximateArrivalOfFirstRecord: null,
        approximateArrivalOfLastRecord: null,
        batchSize: 1,
        streamArn: this.streamArn,
      },
    };
    try {
      this.sqs.send(this.p.deadLetterQueue, JSON.stringify(body));
    } catch (err) {
      this.log(`pipe ${this.p.name}: DLQ ${this.p.deadLetterQueue}: ${err.message}`);
    }
  }
}
