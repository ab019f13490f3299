// EventBridge scheduled rules (rate expressions) with Lambda function targets: once every
// period, the first one period after start, each target function is invoked as EventBridge
// invokes Lambda, asynchronously (no caller waits for the answer; an error is only logged),
// with the target's Input as the event, or the "Scheduled Event" when the target has none.
//
// What differs from AWS: a failed invocation is logged and not retried (Lambda retries an
// asynchronous invocation twice); the next period invokes the function again. A tick that
// comes while the previous one's invocations still run is skipped, so a slow function never
// runs twice at once for the same rule.
import { randomUUID } from 'node:crypto';

// setTimeout holds 2^31-1 ms at most (24.8 days); a longer period is waited out in steps.
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export class ScheduledRule {
  /**
   * schedule: a model schedule; lambda: invoke(name, payload) -> { ok, errorType, ... };
   * scale: the period is multiplied by it (--schedule-scale, a test knob).
   */
  constructor({ schedule, lambda, region, account, scale = 1, log = () => {} }) {
    this.s = schedule;
    this.lambda = lambda;
    this.region = region;
    this.account = account;
    this.log = log;
    this.intervalMs = Math.max(1, Math.round(schedule.periodMs * scale));
    this.timer = null;
    this.running = null; // the tick whose invocations have not all settled
    this.stopped = false;
    this.stats = { ticks: 0, skipped: 0, invocations: 0, errors: 0, intervalMs: this.intervalMs };
  }

  start() {
    if (this.s.state !== 'ENABLED') return;
    this.dueAt = Date.now() + this.intervalMs;
    this.arm();
  }

  arm() {
    this.timer = setTimeout(() => {
      const now = Date.now();
      if (now >= this.dueAt) {
        this.tick();
        // A fixed rate; after a stall of a whole period (a suspended machine) the missed ticks
        // are dropped, not run back to back.
        this.dueAt += this.intervalMs;
        if (this.dueAt <= now) this.dueAt = now + this.intervalMs;
      }
      this.arm();
    }, Math.min(Math.max(0, this.dueAt - Date.now()), MAX_TIMEOUT_MS));
  }

  tick() {
    this.stats.ticks++;
    if (this.running) {
      this.stats.skipped++;
      this.log(`schedule ${this.s.name}: the previous invocation still runs, this one is skipped`);
      return;
    }
    this.running = Promise.all(this.s.targets.map((t) => this.invoke(t))).finally(() => (this.running = null));
  }

  async invoke(target) {
    this.stats.invocations++;
    let result;
    try {
      result = await this.lambda.invoke(target.function, target.input ?? JSON.stringify(this.scheduledEvent()));
    } catch (err) {
      result = { ok: false, errorType: 'Twin.Error', errorMessage: err.stack ?? String(err) };
    }
    if (result.ok || (this.stopped && result.errorType === 'Service.Stopping')) return;
    this.stats.errors++;
    this.log(`schedule ${this.s.name} -> ${target.function}: ${result.errorType}: ${String(result.errorMessage).slice(0, 300)}`);
  }

  /** The event EventBridge sends a scheduled rule's target that has no Input. */
  scheduledEvent() {
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: this.account,
      time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: this.region,
      resources: [this.s.arn],
      detail: {},
    };
  }

  /** No more ticks; resolves when the invocations of the last one have settled. */
  async stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
