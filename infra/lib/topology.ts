// The service topology: which services exist, which Lambda handlers each one has,
// which event types it produces and which rules (subscriptions) it owns.
//
// Source of truth: infra/topology.json, generated from the C++ subscription tables
// (`contract_dump --topology`); a C++ test keeps it in step. Nothing in the stack
// hard-codes a service, a rule or an event type: everything is derived from here.
import * as fs from 'node:fs';
import * as path from 'node:path';

export type HandlerKind = 'api' | 'events';

export interface RuleSpec {
  /** e.g. `orders.saga`: `<owning service>.<name>` */
  readonly name: string;
  /** CloudEvent types (= EventBridge detail-type) the rule matches. */
  readonly types: readonly string[];
  /** Timer rules only: the fixed delivery delay (SQS DeliveryDelay on AWS). */
  readonly timerDelaySeconds?: number;
  /** Receives before the DLQ: the C++ bus's number, the queue's redrive policy. */
  readonly maxReceiveCount: number;
}

export interface ServiceSpec {
  readonly name: string;
  readonly handlers: readonly HandlerKind[];
  readonly produces: readonly string[];
  readonly rules: readonly RuleSpec[];
  /**
   * The service has periodic work (hosts::ServiceSpec::sweep; orders: retention): a scheduled
   * rule invokes its events function with the topology's `sweepInput`.
   */
  readonly sweep: boolean;
}

export interface Topology {
  readonly services: readonly ServiceSpec[];
  /**
   * After confirmation, how long an order may take to ship before orders asks shipping to
   * cancel it (hosts::Settings::fulfilment_timeout). The queues' retries must end before it.
   */
  readonly fulfilmentTimeoutSeconds: number;
  /** A PENDING order is cancelled after this (hosts::Settings::saga_timeout). */
  readonly sagaTimeoutSeconds: number;
  /**
   * The backoff between receives (platform::RuleOptions), which the Lambda host sets on a failed
   * SQS message with ChangeMessageVisibility, and the longest all retries of one message take.
   */
  readonly retryBackoff: { readonly baseMs: number; readonly capMs: number; readonly budgetSeconds: number };
  /** The payload of the scheduled invocation that runs a service's sweep (hosts::kSweepInput). */
  readonly sweepInput: string;
}

/** SQS caps DelaySeconds / DeliveryDelay at 15 minutes. */
export const SQS_MAX_DELAY_SECONDS = 900;

export const DEFAULT_TOPOLOGY_FILE = path.resolve(__dirname, '..', 'topology.json');

export function loadTopology(file: string = DEFAULT_TOPOLOGY_FILE): Topology {
  const raw: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
  return validateTopology(raw, file);
}

const NAME = /^[a-z][a-z0-9-]*$/;
const RULE_NAME = /^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*$/;
const EVENT_TYPE = /^orderly\.[a-z][a-z0-9-]*\.[A-Za-z0-9]+\.v[0-9]+$/;

/** Structural checks, so a malformed topology fails synth with a clear message. */
export function validateTopology(raw: unknown, origin = 'topology'): Topology {
  const fail = (msg: string): never => {
    throw new Error(`${origin}: ${msg}`);
  };
  if (typeof raw !== 'object' || raw === null || !Array.isArray((raw as { services?: unknown }).services)) {
    fail('expected an object with a "services" array');
  }
  const services = (raw as { services: unknown[] }).services;
  if (services.length === 0) fail('no services');
  const seenServices = new Set<string>();
  const seenRules = new Set<string>();
  const out: ServiceSpec[] = [];
  for (const s of services) {
    const svc = s as Partial<ServiceSpec>;
    if (typeof svc.name !== 'string' || !NAME.test(svc.name)) fail(`bad service name ${JSON.stringify(svc.name)}`);
    const name = svc.name as string;
    if (seenServices.has(name)) fail(`duplicate service ${name}`);
    seenServices.add(name);
    const handlers = svc.handlers;
    if (!Array.isArray(handlers) || handlers.length === 0) fail(`${name}: no handlers`);
    for (const h of handlers as unknown[]) {
      if (h !== 'api' && h !== 'events') fail(`${name}: unknown handler ${JSON.stringify(h)}`);
    }
    if (!(handlers as HandlerKind[]).includes('events')) {
      // Every service has an outbox consumer path and rules; the C++ side always ships one.
      fail(`${name}: every service needs an "events" handler`);
    }
    const produces = svc.produces ?? [];
    if (!Array.isArray(produces)) fail(`${name}: "produces" must be an array`);
    for (const t of produces) if (typeof t !== 'string' || !EVENT_TYPE.test(t)) fail(`${name}: bad event type ${JSON.stringify(t)}`);
    const rules: RuleSpec[] = [];
    for (const r of (svc.rules ?? []) as Partial<RuleSpec>[]) {
      if (typeof r.name !== 'string' || !RULE_NAME.test(r.name)) fail(`${name}: bad rule name ${JSON.stringify(r.name)}`);
      const ruleName = r.name as string;
      if (!ruleName.startsWith(`${name}.`)) fail(`rule ${ruleName} must be named after its owner ${name}`);
      if (seenRules.has(ruleName)) fail(`duplicate rule ${ruleName}`);
      seenRules.add(ruleName);
      if (!Array.isArray(r.types) || r.types.length === 0) fail(`rule ${ruleName}: no types`);
      for (const t of r.types as unknown[]) if (typeof t !== 'string' || !EVENT_TYPE.test(t)) fail(`rule ${ruleName}: bad type ${JSON.stringify(t)}`);
      if (r.timerDelaySeconds !== undefined) {
        const d = r.timerDelaySeconds;
        if (!Number.isInteger(d) || d < 0) fail(`rule ${ruleName}: timerDelaySeconds must be a non-negative integer`);
        if (d > SQS_MAX_DELAY_SECONDS) {
          fail(
            `rule ${ruleName}: timerDelaySeconds ${d} exceeds the SQS maximum of ${SQS_MAX_DELAY_SECONDS} s; ` +
              'longer timers need EventBridge Scheduler (see docs/adr/0001)',
          );
        }
      }
      const mrc = r.maxReceiveCount;
      if (!Number.isInteger(mrc) || (mrc as number) < 1 || (mrc as number) > 1000)
        fail(`rule ${ruleName}: maxReceiveCount must be an integer in 1..1000 (SQS), got ${JSON.stringify(mrc)}`);
      rules.push({
        name: ruleName,
        types: [...(r.types as string[])],
        timerDelaySeconds: r.timerDelaySeconds,
        maxReceiveCount: mrc as number,
      });
    }
    const sweep = svc.sweep ?? false;
    if (typeof sweep !== 'boolean') fail(`${name}: "sweep" must be a boolean`);
    out.push({ name, handlers: [...(handlers as HandlerKind[])], produces: [...(produces as string[])], rules, sweep });
  }

  // A timer rule stands for `UnitOfWork::schedule(event, at, rule)`: delivery to that one
  // rule only. On AWS routing is by detail-type, so a timer's types must not be matched by
  // any other rule, or the delayed event would also reach the other rule immediately.
  const allRules = out.flatMap((s) => s.rules);
  for (const timer of allRules.filter((r) => r.timerDelaySeconds !== undefined)) {
    for (const other of allRules) {
      if (other === timer) continue;
      const shared = timer.types.filter((t) => other.types.includes(t));
      if (shared.length > 0) fail(`timer rule ${timer.name} shares ${shared.join(', ')} with rule ${other.name}`);
    }
  }
  const fts = (raw as { fulfilmentTimeoutSeconds?: unknown }).fulfilmentTimeoutSeconds;
  if (typeof fts !== 'number' || !Number.isInteger(fts) || fts < 1) {
    fail(`fulfilmentTimeoutSeconds must be a positive integer, got ${JSON.stringify(fts)}`);
  }
  const sts = (raw as { sagaTimeoutSeconds?: unknown }).sagaTimeoutSeconds;
  if (typeof sts !== 'number' || !Number.isInteger(sts) || sts < 1) {
    fail(`sagaTimeoutSeconds must be a positive integer, got ${JSON.stringify(sts)}`);
  }
  const rb = (raw as { retryBackoff?: Record<string, unknown> }).retryBackoff;
  const int = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  if (!rb || !int(rb.baseMs) || !int(rb.capMs) || !int(rb.budgetSeconds) || (rb.capMs as number) < (rb.baseMs as number)) {
    fail(`retryBackoff must be {baseMs, capMs >= baseMs, budgetSeconds}, got ${JSON.stringify(rb)}`);
  }
  const retryBackoff = rb as unknown as Topology['retryBackoff'];
  // The saga's deadline outlasts every message's retries (issue 10): a transient fault on the
  // saga path delays an order; it must not cancel it.
  if (retryBackoff.budgetSeconds >= (sts as number)) {
    fail(`retries take up to ${retryBackoff.budgetSeconds} s, not less than the ${sts} s saga timeout`);
  }
  const sweepInput = (raw as { sweepInput?: unknown }).sweepInput;
  if (typeof sweepInput !== 'string' || sweepInput.length === 0) {
    fail(`sweepInput must be a non-empty string, got ${JSON.stringify(sweepInput)}`);
  }
  return {
    services: out,
    fulfilmentTimeoutSeconds: fts as number,
    sagaTimeoutSeconds: sts as number,
    retryBackoff,
    sweepInput: sweepInput as string,
  };
}

/** `orders.saga` -> `orders-saga` (SQS names allow [A-Za-z0-9_-]). */
export function ruleSlug(ruleName: string): string {
  return ruleName.replace(/\./g, '-');
}

/** `orders.saga` -> `OrdersSaga` (construct ids). */
export function pascal(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((p) => p[0].toUpperCase() + p.slice(1))
    .join('');
}
