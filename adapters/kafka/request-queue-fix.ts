// A fix for kafkajs 2.2.4's request queue (kafkajs issues #1704, #1751; PRs #1755, #1768 unmerged): after every
// check of its pending requests it re-arms a timer even when nothing is pending, with a delay of
// (throttledUntil = -1) - Date.now(), which Node runs after 1 ms (Node ≥ 24 prints TimeoutNegativeWarning). So
// every broker connection of every client spins a 1 ms timer for its whole life — measured here, one idle client
// (admin, consumer, producer): ~2,900 timer callbacks/s and 37 ms of CPU per second; a daemon has a dozen clients.
// The fixed scheduler arms the timer only when something waits for it: a pending request (as before), or a
// throttle that ends in the future. A request pushed later arms it itself (push → scheduleCheckPendingRequests),
// and one that completes checks the queue (fulfillRequest → checkPendingRequests), as in kafkajs.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The part of kafkajs' internal RequestQueue this fix touches (not in kafkajs' typings). */
interface RequestQueueShape {
  throttledUntil: number;
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  pending: unknown[];
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
  destroy(): void;
}

interface RequestQueueClass {
  new (opts: { maxInFlightRequests: number | null; requestTimeout: number; enforceRequestTimeout: boolean; clientId: string; broker: string; logger: object }): RequestQueueShape;
  prototype: RequestQueueShape;
}

/** kafkajs' interval when requests are pending but the queue is not throttled (its CHECK_PENDING_REQUESTS_INTERVAL). */
const CHECK_PENDING_REQUESTS_INTERVAL = 10;

export const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as RequestQueueClass;

function scheduleCheckPendingRequests(this: RequestQueueShape): void {
  if (this.throttleCheckTimeoutId) return;
  let scheduleAt = this.throttledUntil - Date.now();
  if (this.pending.length > 0) scheduleAt = scheduleAt > 0 ? scheduleAt : CHECK_PENDING_REQUESTS_INTERVAL;
  else if (scheduleAt <= 0) return; // nothing waits: no timer (kafkajs re-armed one every 1 ms here)
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, scheduleAt);
}

/** Applies the fix once per process (every kafkajs client shares the class). */
export function fixIdleRequestQueueTimer(): void {
  if (fixIdleRequestQueueTimer.applied) return;
  RequestQueue.prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
  fixIdleRequestQueueTimer.applied = true;
}
fixIdleRequestQueueTimer.applied = false;
