// kafkajs 2.2.4's request queue re-arms a timer after every check of its pending requests, even with nothing
// pending: `throttledUntil` starts at -1, so the delay is (-1 - Date.now()), which Node runs after 1 ms (Node ≥ 24
// also prints TimeoutNegativeWarning). Every broker connection of every client therefore spins a 1 ms timer for
// its whole life: measured on this machine, one idle client (admin, consumer, producer) ran ~2,900 checks/s and
// 37 ms of CPU per second; 0 and 4 ms with the fix (kafkajs issues #1704, #1751). The adapter's fix arms the
// timer only when something waits for it: a pending request, or a throttle that ends in the future.
import { describe, expect, it } from 'vitest';
import { RequestQueue, fixIdleRequestQueueTimer } from '../../../../adapters/kafka/request-queue-fix.ts';

const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function queue() {
  return new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 1_000, enforceRequestTimeout: false, clientId: 't', broker: 'b:1', logger });
}

describe('kafkajs request queue: no timer while idle', () => {
  it('the stock queue re-arms a timer with nothing pending (the loop the fix removes)', () => {
    const q = queue();
    // Before the fix is applied: what kafkajs does by itself.
    if (!fixIdleRequestQueueTimer.applied) {
      q.checkPendingRequests();
      expect(q.throttleCheckTimeoutId).not.toBeNull();
      q.destroy();
    }
  });

  it('with the fix: nothing pending and no throttle → no timer; pending behind a throttle → one timer until it ends', () => {
    fixIdleRequestQueueTimer();
    expect(fixIdleRequestQueueTimer.applied).toBe(true);
    const q = queue();
    q.checkPendingRequests();
    expect(q.throttleCheckTimeoutId).toBeNull();
    // A throttle in the future with nothing pending: armed (kafkajs' own behaviour, kept).
    q.throttledUntil = Date.now() + 60_000;
    q.scheduleCheckPendingRequests();
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    q.destroy();
    // Something pending and no throttle (in-flight limit reached): armed, as kafkajs does.
    const r = queue();
    r.pending.push({});
    r.scheduleCheckPendingRequests();
    expect(r.throttleCheckTimeoutId).not.toBeNull();
    r.destroy();
  });
});
