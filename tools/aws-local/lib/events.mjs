// EventBridge: event patterns, input transformation, and a bus with PutEvents semantics
// (envelope, rules, targets, archive).
import { randomUUID } from 'node:crypto';

// ---------------------------------------------------------------- event patterns

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The values at key `k` of `obj`, arrays flattened (EventBridge matches any element). */
function valuesAt(obj, k) {
  if (!isObject(obj) || !(k in obj)) return [];
  const v = obj[k];
  return Array.isArray(v) ? v.flat(Infinity) : [v];
}

function wildcardRegex(w) {
  let re = '';
  for (let i = 0; i < w.length; i++) {
    const c = w[i];
    if (c === '\\' && i + 1 < w.length) re += w[++i].replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    else if (c === '*') re += '.*';
    else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

function ipv4ToInt(ip) {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return null;
  return ((p[0] << 24) >>> 0) + (p[1] << 16) + (p[2] << 8) + p[3];
}

function cidrMatch(cidr, v) {
  if (typeof v !== 'string') return false;
  const [net, bits] = cidr.split('/');
  const a = ipv4ToInt(net);
  const b = ipv4ToInt(v);
  if (a === null || b === null) return false;
  const n = Number(bits ?? 32);
  const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
  return (a & mask) === (b & mask);
}

function numericMatch(spec, v) {
  if (typeof v !== 'number') return false;
  for (let i = 0; i < spec.length; i += 2) {
    const op = spec[i];
    const x = Number(spec[i + 1]);
    const ok = op === '=' ? v === x : op === '<' ? v < x : op === '<=' ? v <= x : op === '>' ? v > x : op === '>=' ? v >= x : false;
    if (!ok) return false;
  }
  return true;
}

function stringOp(kind, arg, v) {
  if (typeof v !== 'string') return false;
  if (isObject(arg) && 'equals-ignore-case' in arg) {
    const a = String(arg['equals-ignore-case']).toLowerCase();
    const s = v.toLowerCase();
    return kind === 'prefix' ? s.startsWith(a) : s.endsWith(a);
  }
  return kind === 'prefix' ? v.startsWith(arg) : v.endsWith(arg);
}

/** One matcher of a leaf array against one (present) value. */
function matchOne(m, v) {
  if (!isObject(m)) return m === v || (typeof m === 'number' && typeof v === 'number' && m === v);
  const [[op, arg]] = Object.entries(m);
  switch (op) {
    case 'prefix':
    case 'suffix':
      return stringOp(op, arg, v);
    case 'equals-ignore-case':
      return typeof v === 'string' && v.toLowerCase() === String(arg).toLowerCase();
    case 'wildcard':
      return typeof v === 'string' && wildcardRegex(String(arg)).test(v);
    case 'numeric':
      return numericMatch(arg, v);
    case 'cidr':
      return cidrMatch(arg, v);
    case 'anything-but': {
      if (isObject(arg)) {
        const [[inner, x]] = Object.entries(arg);
        if (inner === 'prefix' || inner === 'suffix') return typeof v === 'string' && !stringOp(inner, x, v);
        if (inner === 'equals-ignore-case') {
          const list = (Array.isArray(x) ? x : [x]).map((s) => String(s).toLowerCase());
          return typeof v === 'string' && !list.includes(v.toLowerCase());
        }
        if (inner === 'wildcard') return typeof v === 'string' && !(Array.isArray(x) ? x : [x]).some((w) => wildcardRegex(w).test(v));
        if (inner === 'numeric') return typeof v === 'number' && !numericMatch(x, v);
        throw new Error(`event pattern: anything-but ${inner} is not supported`);
      }
      const list = Array.isArray(arg) ? arg : [arg];
      return !list.some((x) => x === v);
    }
    case 'exists':
      return arg === true;
    default:
      throw new Error(`event pattern: operator ${op} is not supported`);
  }
}

function matchLeaf(matchers, vals) {
  const present = vals.length > 0;
  return matchers.some((m) => {
    if (isObject(m) && 'exists' in m) return m.exists ? present : !present;
    if (!present) return false;
    return vals.some((v) => matchOne(m, v));
  });
}

/** EventBridge event-pattern matching (the operators of the EventBridge user guide). */
export function matches(pattern, event) {
  if (pattern === null || pattern === undefined) return true;
  for (const [k, sub] of Object.entries(pattern)) {
    if (k === '$or') {
      if (!sub.some((p) => matches(p, event))) return false;
      continue;
    }
    const vals = valuesAt(event, k);
    if (Array.isArray(sub)) {
      if (!matchLeaf(sub, vals)) return false;
    } else if (isObject(sub)) {
      const objs = vals.filter(isObject);
      if (objs.length === 0) {
        if (!matches(sub, {})) return false; // only exists:false leaves match an absent object
      } else if (!objs.some((o) => matches(sub, o))) return false;
    } else {
      throw new Error(`event pattern: ${k} must be an array or an object`);
    }
  }
  return true;
}

// ---------------------------------------------------------------- JSON path (EventBridge subset)

/** `$`, `$.a.b`, `$.a[0].b`, `$['a-b']`: the value, or undefined. */
export function jsonPath(obj, p) {
  if (p === '$') return obj;
  if (!p.startsWith('$')) throw new Error(`JSON path ${p}: must start with $`);
  const parts = [];
  const re = /\.([^.[\]]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]/g;
  let rest = p.slice(1);
  let m;
  let consumed = 0;
  while ((m = re.exec(rest))) {
    if (m.index !== consumed) throw new Error(`JSON path ${p}: unsupported syntax`);
    parts.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : (m[3] ?? m[4])));
    consumed = re.lastIndex;
  }
  if (consumed !== rest.length) throw new Error(`JSON path ${p}: unsupported syntax`);
  let cur = obj;
  for (const k of parts) {
    if (cur === null || typeof cur !== 'object' || !(k in cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

/**
 * Fills an input template: `<$.path>` (Pipes) or `<name>` (rule InputTransformer, with
 * `vars`). Inside a JSON string the value's text is inserted JSON-escaped; outside a string
 * a string value becomes a JSON string and any other value its JSON; a missing value is
 * null outside a string and empty inside one.
 */
export function fillTemplate(template, lookup) {
  let out = '';
  let inString = false;
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === '<') {
      const end = template.indexOf('>', i);
      const name = end > i ? template.slice(i + 1, end) : '';
      if (end > i && /^[$A-Za-z][\w$.\-[\]'"*/]*$/.test(name)) {
        const { found, value } = lookup(name);
        if (found !== false) {
          if (inString) {
            const text = typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);
            out += JSON.stringify(text).slice(1, -1);
          } else {
            out += value === undefined ? 'null' : JSON.stringify(value);
          }
          i = end;
          continue;
        }
      }
    }
    if (c === '\\' && inString && i + 1 < template.length) {
      out += c + template[++i];
      continue;
    }
    if (c === '"') inString = !inString;
    out += c;
  }
  return out;
}

// ---------------------------------------------------------------- the bus

const MAX_ENTRY_BYTES = 256 * 1024;

function isoSeconds(d = new Date()) {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class EventBus {
  /**
   * model: the template model; sqs: the queue service (send); log(line).
   */
  constructor({ model, sqs, log = () => {} }) {
    this.model = model;
    this.sqs = sqs;
    this.log = log;
    this.archive = [];
    this.archiveLimit = 100_000;
    this.stats = { put: 0, failed: 0, matched: 0, delivered: 0, deliveryFailed: 0, unmatched: 0 };
    this.ruleStats = Object.fromEntries(model.rules.map((r) => [r.name, { matched: 0 }]));
  }

  /** PutEvents: entries [{Source, DetailType, Detail, EventBusName, Resources, Time}]. */
  putEvents(entries) {
    const results = [];
    for (const e of entries) {
      const r = this.putOne(e);
      results.push(r);
      if (r.ErrorCode) this.stats.failed++;
      else this.stats.put++;
    }
    return { FailedEntryCount: results.filter((r) => r.ErrorCode).length, Entries: results };
  }

  putOne(e) {
    const busName = String(e.EventBusName ?? 'default').split('event-bus/').pop();
    const bus = this.model.buses.find((b) => b.name === busName);
    if (!bus) return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus ${busName} does not exist.` };
    if (!e.Source || !e.DetailType) return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameters Source and DetailType are required.' };
    let detail;
    try {
      detail = JSON.parse(e.Detail);
    } catch {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    }
    if (!isObject(detail)) return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    const size = Buffer.byteLength(String(e.Source)) + Buffer.byteLength(String(e.DetailType)) + Buffer.byteLength(String(e.Detail)) + (e.Resources ?? []).reduce((n, x) => n + Buffer.byteLength(x), 0) + (e.Time ? 14 : 0);
    if (size > MAX_ENTRY_BYTES) return { ErrorCode: 'EntryTooLarge', ErrorMessage: `Entry of ${size} bytes exceeds 256 KB.` };
    const event = {
      version: '0',
      id: randomUUID(),
      'detail-type': String(e.DetailType),
      source: String(e.Source),
      account: this.model.account,
      time: e.Time ? isoSeconds(new Date(e.Time)) : isoSeconds(),
      region: this.model.region,
      resources: e.Resources ?? [],
      detail,
    };
    for (const a of this.model.archives) {
      if (a.bus !== bus.name || !matches(a.pattern, event)) continue;
      this.archive.push({ archive: a.name, event });
      if (this.archive.length > this.archiveLimit) this.archive.shift();
    }
    let matched = 0;
    for (const rule of this.model.rules) {
      if (rule.bus !== bus.name || rule.state !== 'ENABLED' || !rule.pattern) continue;
      if (!matches(rule.pattern, event)) continue;
      matched++;
      this.ruleStats[rule.name].matched++;
      for (const t of rule.targets) this.deliver(rule, t, event);
    }
    if (matched) this.stats.matched++;
    else this.stats.unmatched++;
    return { EventId: event.id };
  }

  deliver(rule, target, event) {
    let body;
    try {
      if (target.input !== undefined) body = String(target.input);
      else if (target.inputPath !== undefined) body = JSON.stringify(jsonPath(event, target.inputPath) ?? null);
      else if (target.inputTransformer) {
        const vars = {};
        for (const [k, p] of Object.entries(target.inputTransformer.InputPathsMap ?? {})) vars[k] = jsonPath(event, p);
        const reserved = {
          'aws.events.rule-arn': rule.arn,
          'aws.events.rule-name': rule.name,
          'aws.events.event.ingestion-time': event.time,
          'aws.events.event': event,
          'aws.events.event.json': event,
        };
        body = fillTemplate(target.inputTransformer.InputTemplate, (name) => (name in vars ? { value: vars[name] } : name in reserved ? { value: reserved[name] } : { found: false }));
      } else body = JSON.stringify(event);
    } catch (err) {
      this.deadLetter(rule, target, event, 'INVALID_PARAMETER', err.message);
      return;
    }
    if (!target.queue) {
      this.deadLetter(rule, target, event, 'SDK_CLIENT_ERROR', `the twin does not deliver to ${target.arn}`);
      return;
    }
    try {
      this.sqs.send(target.queue, body);
      this.stats.delivered++;
    } catch (err) {
      this.deadLetter(rule, target, event, err.code ?? 'SDK_CLIENT_ERROR', err.message);
    }
  }

  // EventBridge gives up on a target after its retry policy and sends the event to the
  // target's DLQ with these attributes. Failures here are not transient (a missing queue, an
  // oversized message), so the twin does not wait out the retries.
  deadLetter(rule, target, event, code, message) {
    this.stats.deliveryFailed++;
    this.log(`bus: rule ${rule.name} target ${target.id}: ${code}: ${message}`);
    if (!target.deadLetterQueue) return;
    try {
      this.sqs.send(target.deadLetterQueue, JSON.stringify(event), {
        RULE_ARN: { DataType: 'String', StringValue: rule.arn },
        TARGET_ARN: { DataType: 'String', StringValue: target.arn },
        ERROR_CODE: { DataType: 'String', StringValue: code },
        ERROR_MESSAGE: { DataType: 'String', StringValue: String(message).slice(0, 256) },
      });
    } catch (err) {
      this.log(`bus: the DLQ ${target.deadLetterQueue} refused the event: ${err.message}`);
    }
  }
}
