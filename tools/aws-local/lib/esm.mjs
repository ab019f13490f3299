// Lambda's SQS event source mapping: pollers that gather a batch (BatchSize, within
// MaximumBatchingWindowInSeconds), invoke the function synchronously with the records as
// Lambda builds them, then delete what succeeded. With ReportBatchItemFailures only the
// listed messages stay (they come back after their visibility timeout); a function error
// leaves the whole batch.
import { matches } from './events.mjs';
import { lambdaRecord } from './sqs.mjs';

const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

/**
 * The function's answer, read the way Lambda documents it: 'all' (every record succeeded),
 * 'none' (the whole batch failed) or a Set of failed message ids.
 */
export function batchOutcome(payload, ids) {
  let resp;
  try {
    resp = JSON.parse(payload);
  } catch {
    return 'none';
  }
  if (resp === null || resp === undefined || typeof resp !== 'object' || Array.isArray(resp)) return resp === null ? 'all' : 'none';
  const list = resp.batchItemFailures;
  if (list === undefined || list === null) return 'all';
  if (!Array.isArray(list)) return 'none';
  if (list.length === 0) return 'all';
  const failed = new Set();
  for (const f of list) {
    const id = f && typeof f === 'object' ? f.itemIdentifier : undefined;
    if (typeof id !== 'string' || id === '' || !ids.has(id)) return 'none';
    failed.add(id);
  }
  return failed;
}

export class SqsEventSourceMapping {
  constructor({ mapping, sqs, lambda, region, log = () => {}, pollers = 2 }) {
    this.m = mapping;
    this.sqs = sqs;
    this.lambda = lambda;
    this.region = region;
    this.log = log;
    this.pollers = Math.max(1, Math.min(mapping.maximumConcurrency ?? pollers, pollers));
    this.abort = new AbortController();
    this.loops = [];
    this.stats = { batches: 0, records: 0, succeeded: 0, failedItems: 0, functionErrors: 0, filteredOut: 0 };
  }

  start() {
    if (!this.m.enabled) return;
    for (let i = 0; i < this.pollers; i++) this.loops.push(this.loop());
  }

  async stop() {
    this.abort.abort();
    await Promise.allSettled(this.loops);
  }

  async gather(q) {
    const signal = this.abort.signal;
    while (!signal.aborted && !q.hasVisible()) await q.waitForMessages(1000, signal);
    if (signal.aborted) return [];
    const batch = q.receive(this.m.batchSize);
    if (!batch.length) return batch;
    const until = Date.now() + this.m.maximumBatchingWindowInSeconds * 1000;
    let bytes = batch.reduce((n, m) => n + m.body.length, 0);
    while (batch.length < this.m.batchSize && Date.now() < until && !signal.aborted && bytes < MAX_PAYLOAD_BYTES / 2) {
      if (!q.hasVisible()) await q.waitForMessages(until - Date.now(), signal);
      const more = q.receive(this.m.batchSize - batch.length);
      for (const m of more) bytes += m.body.length;
      batch.push(...more);
    }
    return batch;
  }

  async loop() {
    const q = this.sqs.queue(this.m.queue);
    if (!q) {
      this.log(`esm ${this.m.logicalId}: queue ${this.m.queue} does not exist`);
      return;
    }
    const signal = this.abort.signal;
    while (!signal.aborted) {
      let batch = await this.gather(q);
      if (!batch.length) continue;
      // Filter criteria: SQS messages that match no filter are deleted, never delivered.
      if (this.m.filters.length) {
        const keep = [];
        for (const msg of batch) {
          let body = msg.body;
          try {
            body = JSON.parse(msg.body);
          } catch {
            /* plain text body */
          }
          const rec = { ...lambdaRecord(q, msg, this.region), body };
          if (this.m.filters.some((f) => matches(f, rec))) keep.push(msg);
          else {
            q.delete(msg.receiptHandle);
            this.stats.filteredOut++;
          }
        }
        batch = keep;
        if (!batch.length) continue;
      }
      this.stats.batches++;
      this.stats.records += batch.length;
      const event = { Records: batch.map((msg) => lambdaRecord(q, msg, this.region)) };
      const result = await this.lambda.invoke(this.m.function, JSON.stringify(event));
      if (signal.aborted && result.errorType === 'Service.Stopping') break;
      if (!result.ok) {
        this.stats.functionErrors++;
        this.log(`esm ${this.m.queue} -> ${this.m.function}: ${result.errorType}: ${String(result.errorMessage).slice(0, 300)} (${batch.length} records return after their visibility timeout)`);
        continue;
      }
      const ids = new Set(batch.map((b) => b.messageId));
      const outcome = this.m.reportBatchItemFailures ? batchOutcome(result.payload, ids) : 'all';
      if (outcome === 'none') {
        this.stats.failedItems += batch.length;
        this.log(`esm ${this.m.queue} -> ${this.m.function}: the answer fails the whole batch: ${String(result.payload).slice(0, 300)}`);
        continue;
      }
      for (const msg of batch) {
        if (outcome !== 'all' && outcome.has(msg.messageId)) {
          this.stats.failedItems++;
          continue;
        }
        try {
          q.delete(msg.receiptHandle);
          this.stats.succeeded++;
        } catch (err) {
          this.log(`esm ${this.m.queue}: delete failed: ${err.message}`);
        }
      }
    }
  }
}
