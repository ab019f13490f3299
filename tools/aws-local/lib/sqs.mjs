// SQS standard queues in memory, with the semantics Lambda and the services rely on:
// visibility timeout, receive counts, redrive to a DLQ after maxReceiveCount receives,
// DeliveryDelay, retention, receipt handles (a new one per receive; stale ones are
// refused by ChangeMessageVisibility), and the JSON 1.0 API (AmazonSQS.<Op>).
import { createHash, randomBytes, randomUUID } from 'node:crypto';

export class SqsError extends Error {
  constructor(code, message, { queryCode, status = 400, sender = true } = {}) {
    super(message);
    this.code = code;
    this.queryCode = queryCode ?? `AWS.SimpleQueueService.${code}`;
    this.status = status;
    this.sender = sender;
  }
}

const md5 = (s) => createHash('md5').update(s, 'utf8').digest('hex');

// MD5 of message attributes, as SQS computes it (the SendMessage response's
// MD5OfMessageAttributes and the record's md5OfMessageAttributes).
function md5OfAttributes(attrs) {
  const names = Object.keys(attrs ?? {}).sort();
  if (!names.length) return undefined;
  const parts = [];
  const lenPrefixed = (buf) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(buf.length);
    parts.push(len, buf);
  };
  for (const n of names) {
    const a = attrs[n];
    lenPrefixed(Buffer.from(n, 'utf8'));
    lenPrefixed(Buffer.from(a.DataType, 'utf8'));
    if (a.StringValue !== undefined) {
      parts.push(Buffer.from([1]));
      lenPrefixed(Buffer.from(String(a.StringValue), 'utf8'));
    } else {
      parts.push(Buffer.from([2]));
      lenPrefixed(Buffer.from(a.BinaryValue ?? '', 'base64'));
    }
  }
  return createHash('md5').update(Buffer.concat(parts)).digest('hex');
}

export class Queue {
  constructor(def, service) {
    this.def = def; // the model's queue: name, url, arn, visibilityTimeout, delaySeconds, ...
    this.service = service;
    this.name = def.name;
    this.messages = new Map(); // messageId -> message, in send order
    this.handles = new Map(); // every receipt handle issued -> messageId
    this.waiters = new Set();
    this.timer = null;
    this.timerAt = Infinity;
    this.stats = { sent: 0, received: 0, deleted: 0, deadLettered: 0, expired: 0 };
  }

  now() {
    return Date.now();
  }

  capVisibility(seconds) {
    const cap = this.service.visibilityTimeoutCap;
    return cap === undefined ? seconds : Math.min(seconds, cap);
  }

  send(body, { delaySeconds, attributes, systemAttributes, messageId, sentTimestamp, receiveCount = 0 } = {}) {
    if (typeof body !== 'string' || body.length === 0) throw new SqsError('MissingParameter', 'The request must contain the parameter MessageBody.');
    const size = Buffer.byteLength(body) + Object.entries(attributes ?? {}).reduce((n, [k, a]) => n + Buffer.byteLength(k) + Buffer.byteLength(a.DataType) + Buffer.byteLength(String(a.StringValue ?? a.BinaryValue ?? '')), 0);
    if (size > this.def.maximumMessageSize)
      throw new SqsError('InvalidParameterValue', `One or more parameters are invalid. Reason: Message must be shorter than ${this.def.maximumMessageSize} bytes.`);
    const delay = delaySeconds ?? this.def.delaySeconds;
    if (delay < 0 || delay > 900) throw new SqsError('InvalidParameterValue', 'Value for parameter DelaySeconds is invalid. Reason: must be between 0 and 900.');
    const now = this.now();
    const m = {
      messageId: messageId ?? randomUUID(),
      body,
      md5OfBody: md5(body),
      attributes: attributes ?? {},
      md5OfMessageAttributes: md5OfAttributes(attributes),
      systemAttributes: systemAttributes ?? {},
      sentTimestamp: sentTimestamp ?? now,
      firstReceiveTimestamp: undefined,
      receiveCount,
      visibleAt: now + delay * 1000,
      receiptHandle: undefined,
      inFlight: false,
    };
    this.messages.set(m.messageId, m);
    this.stats.sent++;
    this.schedule(m.visibleAt);
    this.wake();
    return m;
  }

  /** Drops messages past the retention period (counted from the first send, as SQS does). */
  expire(now) {
    const limit = this.def.messageRetentionPeriod * 1000;
    for (const [id, m] of this.messages) {
      if (now - m.sentTimestamp >= limit) {
        this.messages.delete(id);
        this.stats.expired++;
      }
    }
  }

  /** Up to `max` visible messages, now in flight for `visibilitySeconds`; redrives as SQS does. */
  receive(max = 1, visibilitySeconds) {
    const now = this.now();
    this.expire(now);
    const out = [];
    const redrive = this.def.redrive;
    for (const m of this.messages.values()) {
      if (out.length >= max) break;
      if (m.visibleAt > now) continue;
      // After maxReceiveCount receives, the next receive moves it to the DLQ instead.
      if (redrive && m.receiveCount >= redrive.maxReceiveCount) {
        this.moveToDeadLetterQueue(m);
        continue;
      }
      m.receiveCount++;
      m.firstReceiveTimestamp ??= now;
      m.receiptHandle = `${Buffer.from(m.messageId).toString('base64url')}.${randomBytes(24).toString('base64url')}`;
      this.handles.set(m.receiptHandle, m.messageId);
      m.inFlight = true;
      m.visibleAt = now + this.capVisibility(visibilitySeconds ?? this.def.visibilityTimeout) * 1000;
      this.schedule(m.visibleAt);
      this.stats.received++;
      out.push(m);
    }
    return out;
  }

  moveToDeadLetterQueue(m) {
    const dlq = this.service.queue(this.def.redrive.deadLetterQueue);
    this.messages.delete(m.messageId);
    this.stats.deadLettered++;
    if (!dlq) {
      this.service.log(`sqs: ${this.name}: DLQ ${this.def.redrive.deadLetterQueue} does not exist; message ${m.messageId} dropped`);
      return;
    }
    // The message keeps its id, body, attributes and first send time (retention counts from it).
    dlq.send(m.body, {
      messageId: m.messageId,
      attributes: m.attributes,
      systemAttributes: { ...m.systemAttributes, DeadLetterQueueSourceArn: this.def.arn },
      sentTimestamp: m.sentTimestamp,
      delaySeconds: 0,
    });
    this.service.log(`sqs: ${this.name}: message ${m.messageId} moved to ${dlq.name} after ${m.receiveCount} receives`);
  }

  messageOf(handle) {
    const id = this.handles.get(handle);
    if (id === undefined) return { issued: false };
    const m = this.messages.get(id);
    return { issued: true, message: m && m.receiptHandle === handle ? m : undefined, exists: Boolean(m) };
  }

  /** DeleteMessage: a stale handle succeeds without deleting (SQS: "the request succeeds, but the message will not be deleted"). */
  delete(handle) {
    const r = this.messageOf(handle);
    if (!r.issued) throw new SqsError('ReceiptHandleIsInvalid', `The input receipt handle "${handle}" is not a valid receipt handle.`);
    if (r.message) {
      this.messages.delete(r.message.messageId);
      this.stats.deleted++;
    }
  }

  changeVisibility(handle, seconds) {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 43200)
      throw new SqsError('InvalidParameterValue', `Value ${seconds} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.`);
    const r = this.messageOf(handle);
    if (!r.issued || !r.message) throw new SqsError('ReceiptHandleIsInvalid', `The input receipt handle "${handle}" is not a valid receipt handle.`);
    const now = this.now();
    const m = r.message;
    if (!m.inFlight || m.visibleAt <= now) throw new SqsError('MessageNotInflight', 'The message referred to is not in flight.');
    m.visibleAt = now + this.capVisibility(seconds) * 1000;
    this.schedule(m.visibleAt);
    if (seconds === 0) this.wake();
  }

  /** Counts as GetQueueAttributes reports them. */
  counts() {
    const now = this.now();
    let visible = 0;
    let inFlight = 0;
    let delayed = 0;
    for (const m of this.messages.values()) {
      if (m.visibleAt <= now) visible++;
      else if (m.inFlight) inFlight++;
      else delayed++;
    }
    return { visible, inFlight, delayed, total: this.messages.size };
  }

  // ---- waiting for messages

  schedule(at) {
    const now = this.now();
    if (at <= now || at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.wake();
      // Re-arm for the next message that becomes visible later.
      const later = [...this.messages.values()].map((m) => m.visibleAt).filter((t) => t > this.now());
      if (later.length) this.schedule(Math.min(...later));
    }, Math.max(1, at - now + 1));
    this.timer.unref?.();
  }

  wake() {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves once a message may be visible, or after `ms`, or on abort. */
  waitForMessages(ms, signal) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.waiters.add(done);
      signal?.addEventListener('abort', done);
    });
  }

  hasVisible() {
    const now = this.now();
    for (const m of this.messages.values()) if (m.visibleAt <= now) return true;
    return false;
  }

  close() {
    if (this.timer) clearTimeout(this.timer);
    this.wake();
  }
}

export class SqsService {
  constructor({ model, log = () => {}, visibilityTimeoutCap }) {
    this.model = model;
    this.log = log;
    this.visibilityTimeoutCap = visibilityTimeoutCap;
    this.queues = new Map(model.queues.map((q) => [q.name, new Queue(q, this)]));
    this.stats = { apiCalls: {}, failedBatchEntries: {} };
  }

  queue(name) {
    return this.queues.get(name);
  }

  need(name) {
    const q = this.queues.get(name);
    if (!q) throw new SqsError('QueueDoesNotExist', 'The specified queue does not exist.', { queryCode: 'AWS.SimpleQueueService.NonExistentQueue' });
    return q;
  }

  /** SendMessage as EventBridge or a DLQ redrive does it. */
  send(name, body, attributes) {
    return this.need(name).send(body, { attributes });
  }

  queueOfUrl(url) {
    if (typeof url !== 'string' || !url) throw new SqsError('MissingParameter', 'The request must contain the parameter QueueUrl.');
    return this.need(url.replace(/\/+$/, '').split('/').pop());
  }

  close() {
    for (const q of this.queues.values()) q.close();
  }

  // ---- the JSON 1.0 API

  /** Handles one AmazonSQS.<op> call; returns the response object or throws SqsError. */
  api(op, req) {
    this.stats.apiCalls[op] = (this.stats.apiCalls[op] ?? 0) + 1;
    switch (op) {
      case 'ChangeMessageVisibility': {
        const q = this.queueOfUrl(req.QueueUrl);
        q.changeVisibility(req.ReceiptHandle, req.VisibilityTimeout);
        return {};
      }
      case 'ChangeMessageVisibilityBatch': {
        const q = this.queueOfUrl(req.QueueUrl);
        const entries = this.batchEntries(req.Entries);
        const out = { Successful: [], Failed: [] };
        for (const e of entries) {
          try {
            q.changeVisibility(e.ReceiptHandle, e.VisibilityTimeout);
            out.Successful.push({ Id: e.Id });
          } catch (err) {
            if (!(err instanceof SqsError)) throw err;
            out.Failed.push({ Id: e.Id, Code: err.code, Message: err.message, SenderFault: true });
            this.stats.failedBatchEntries[err.code] = (this.stats.failedBatchEntries[err.code] ?? 0) + 1;
          }
        }
        return out;
      }
      case 'DeleteMessage': {
        this.queueOfUrl(req.QueueUrl).delete(req.ReceiptHandle);
        return {};
      }
      case 'DeleteMessageBatch': {
        const q = this.queueOfUrl(req.QueueUrl);
        const out = { Successful: [], Failed: [] };
        for (const e of this.batchEntries(req.Entries)) {
          try {
            q.delete(e.ReceiptHandle);
            out.Successful.push({ Id: e.Id });
          } catch (err) {
            if (!(err instanceof SqsError)) throw err;
            out.Failed.push({ Id: e.Id, Code: err.code, Message: err.message, SenderFault: true });
          }
        }
        return out;
      }
      case 'SendMessage': {
        const q = this.queueOfUrl(req.QueueUrl);
        const m = q.send(req.MessageBody, { delaySeconds: req.DelaySeconds, attributes: req.MessageAttributes });
        return { MessageId: m.messageId, MD5OfMessageBody: m.md5OfBody, ...(m.md5OfMessageAttributes ? { MD5OfMessageAttributes: m.md5OfMessageAttributes } : {}) };
      }
      case 'SendMessageBatch': {
        const q = this.queueOfUrl(req.QueueUrl);
        const out = { Successful: [], Failed: [] };
        for (const e of this.batchEntries(req.Entries)) {
          try {
            const m = q.send(e.MessageBody, { delaySeconds: e.DelaySeconds, attributes: e.MessageAttributes });
            out.Successful.push({ Id: e.Id, MessageId: m.messageId, MD5OfMessageBody: m.md5OfBody });
          } catch (err) {
            if (!(err instanceof SqsError)) throw err;
            out.Failed.push({ Id: e.Id, Code: err.code, Message: err.message, SenderFault: true });
          }
        }
        return out;
      }
      case 'ReceiveMessage': {
        // Short poll only (WaitTimeSeconds is answered at once): the twin's own pollers
        // wait in-process; an external client polls.
        const q = this.queueOfUrl(req.QueueUrl);
        const max = req.MaxNumberOfMessages ?? 1;
        if (max < 1 || max > 10) throw new SqsError('InvalidParameterValue', 'Value for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10.');
        const msgs = q.receive(max, req.VisibilityTimeout);
        return {
          Messages: msgs.map((m) => ({
            MessageId: m.messageId,
            ReceiptHandle: m.receiptHandle,
            MD5OfBody: m.md5OfBody,
            Body: m.body,
            Attributes: recordAttributes(m),
            ...(Object.keys(m.attributes).length ? { MessageAttributes: m.attributes, MD5OfMessageAttributes: m.md5OfMessageAttributes } : {}),
          })),
        };
      }
      case 'GetQueueUrl': {
        const q = this.need(req.QueueName);
        return { QueueUrl: q.def.url };
      }
      case 'ListQueues': {
        const prefix = req.QueueNamePrefix ?? '';
        return { QueueUrls: [...this.queues.values()].filter((q) => q.name.startsWith(prefix)).map((q) => q.def.url) };
      }
      case 'GetQueueAttributes': {
        const q = this.queueOfUrl(req.QueueUrl);
        const c = q.counts();
        const all = {
          QueueArn: q.def.arn,
          ApproximateNumberOfMessages: String(c.visible),
          ApproximateNumberOfMessagesNotVisible: String(c.inFlight),
          ApproximateNumberOfMessagesDelayed: String(c.delayed),
          VisibilityTimeout: String(q.def.visibilityTimeout),
          DelaySeconds: String(q.def.delaySeconds),
          MessageRetentionPeriod: String(q.def.messageRetentionPeriod),
          MaximumMessageSize: String(q.def.maximumMessageSize),
          ReceiveMessageWaitTimeSeconds: String(q.def.receiveMessageWaitTimeSeconds),
          ...(q.def.redrive ? { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: q.def.redrive.deadLetterTargetArn, maxReceiveCount: q.def.redrive.maxReceiveCount }) } : {}),
        };
        const names = req.AttributeNames ?? ['All'];
        return { Attributes: names.includes('All') ? all : Object.fromEntries(names.filter((n) => n in all).map((n) => [n, all[n]])) };
      }
      case 'PurgeQueue': {
        const q = this.queueOfUrl(req.QueueUrl);
        q.messages.clear();
        return {};
      }
      default:
        throw new SqsError('UnsupportedOperation', `The twin does not implement ${op}.`, { queryCode: 'AWS.SimpleQueueService.UnsupportedOperation' });
    }
  }

  batchEntries(entries) {
    if (!Array.isArray(entries) || entries.length === 0) throw new SqsError('EmptyBatchRequest', 'There should be at least one SendMessageBatchRequestEntry in the request.');
    if (entries.length > 10) throw new SqsError('TooManyEntriesInBatchRequest', `Maximum number of entries per request are 10. You have sent ${entries.length}.`);
    const ids = new Set();
    for (const e of entries) {
      if (typeof e.Id !== 'string' || !/^[A-Za-z0-9_-]{1,80}$/.test(e.Id)) throw new SqsError('InvalidBatchEntryId', 'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.');
      if (ids.has(e.Id)) throw new SqsError('BatchEntryIdsNotDistinct', `Id ${e.Id} repeated.`);
      ids.add(e.Id);
    }
    return entries;
  }

  /** The HTTP handler of the SQS endpoint (AWS JSON 1.0; the query protocol is refused). */
  handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const reply = (status, obj, extra = {}) => {
        const body = JSON.stringify(obj);
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID(), 'content-length': Buffer.byteLength(body), ...extra });
        res.end(body);
      };
      if (req.method !== 'POST' || !target.startsWith('AmazonSQS.')) {
        reply(400, { __type: 'com.amazonaws.sqs#InvalidAction', message: 'The twin speaks the SQS JSON protocol only (POST / with X-Amz-Target: AmazonSQS.<Op>).' });
        return;
      }
      let body;
      try {
        const text = Buffer.concat(chunks).toString('utf8');
        body = text ? JSON.parse(text) : {};
      } catch {
        reply(400, { __type: 'com.amazonaws.sqs#InvalidParameterValue', message: 'The request body is not JSON.' });
        return;
      }
      try {
        reply(200, this.api(target.slice('AmazonSQS.'.length), body));
      } catch (err) {
        if (!(err instanceof SqsError)) {
          reply(500, { __type: 'com.amazonaws.sqs#InternalError', message: err.message }, { 'x-amzn-query-error': 'InternalError;Receiver' });
          return;
        }
        reply(err.status, { __type: `com.amazonaws.sqs#${err.code}`, message: err.message }, { 'x-amzn-query-error': `${err.queryCode};${err.sender ? 'Sender' : 'Receiver'}` });
      }
    });
  }
}

export function recordAttributes(m) {
  return {
    ApproximateReceiveCount: String(m.receiveCount),
    SentTimestamp: String(m.sentTimestamp),
    SenderId: 'AROAAWSLOCALTWIN00000:aws-local',
    ApproximateFirstReceiveTimestamp: String(m.firstReceiveTimestamp ?? m.sentTimestamp),
    ...m.systemAttributes,
  };
}

/** An SQS record exactly as Lambda's event source mapping delivers it. */
export function lambdaRecord(q, m, region) {
  return {
    messageId: m.messageId,
    receiptHandle: m.receiptHandle,
    body: m.body,
    attributes: recordAttributes(m),
    messageAttributes: Object.fromEntries(
      Object.entries(m.attributes).map(([k, a]) => [
        k,
        { stringValue: a.StringValue, binaryValue: a.BinaryValue, stringListValues: [], binaryListValues: [], dataType: a.DataType },
      ]),
    ),
    md5OfBody: m.md5OfBody,
    ...(m.md5OfMessageAttributes ? { md5OfMessageAttributes: m.md5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: q.def.arn,
    awsRegion: region,
  };
}
