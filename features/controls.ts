// What the operator surface (dashboard, CLI) needs from the other features. A feature offers a control by
// putting it on its `controls` (e.g. `controls: { breakers: myBreakerControl }`); the dashboard finds it at
// request time, so feature order does not matter and a missing control is reported, not fatal.
import type { Feature } from './feature.ts';

export type ForcedBreakerState = 'open' | 'closed' | 'disabled' | 'metrics-only';

/** One breaker as the operator sees it. `state` is the machine state ('closed', 'open', 'half-open', 'forced-open'…). */
export interface BreakerView {
  name: string;
  state: string;
  /** What the breaker protects, for the page: 'redis0', 'pg1 replicas', 'elasticsearch'… */
  guards?: string;
  /** While open: when probes will be let through (ms since epoch). */
  retryAt?: number | null;
  trips?: number;
  rejected?: number;
}

/** `controls.breakers` — typically the reads/cache feature. Machines must be created with id `breaker:<name>`. */
export interface BreakerControl {
  list(): BreakerView[];
  force(name: string, state: ForcedBreakerState): void | Promise<void>;
}

export interface DlqReplayResult {
  /** Records re-driven to the command topic. */
  replayed: number;
  /** Records moved to the parking topic (gave up on them). */
  parked?: number;
  /** Records left in the DLQ (e.g. the limit was reached). */
  remaining?: number;
}

/** `controls.dlq` — the indexing/DLQ feature. */
export interface DlqControl {
  /** Records in the DLQ not yet replayed; when absent the dashboard counts the topic's records itself. */
  depth?(): number | Promise<number>;
  replay(opts: { limit?: number }): Promise<DlqReplayResult>;
}

export interface SwitchoverResult {
  cluster: string;
  from: string;
  to: string;
}

/**
 * `controls.switchover` — the failover feature: a planned promotion of a replica (the most caught-up one unless
 * a target is named). It may resolve to nothing when the promotion completes asynchronously (the failover machine then shows its progress).
 */
export interface SwitchoverControl {
  switchover(cluster: string, opts: { target?: string }): Promise<SwitchoverResult | void>;
}

/** What a feature offers the operator surface (`Feature.controls`); each is optional. */
export interface FeatureControls {
  breakers?: BreakerControl;
  dlq?: DlqControl;
  switchover?: SwitchoverControl;
}

export interface OperatorControls {
  breakers: Array<{ feature: string; control: BreakerControl }>;
  dlq: { feature: string; control: DlqControl } | null;
  switchover: { feature: string; control: SwitchoverControl } | null;
}

/** The controls the attached features offer right now: every breaker provider, the first DLQ and switchover. */
export function findControls(features: Iterable<Feature>): OperatorControls {
  const out: OperatorControls = { breakers: [], dlq: null, switchover: null };
  for (const { name: feature, controls: c } of features) {
    if (c?.breakers) out.breakers.push({ feature, control: c.breakers });
    if (c?.dlq && !out.dlq) out.dlq = { feature, control: c.dlq };
    if (c?.switchover && !out.switchover) out.switchover = { feature, control: c.switchover };
  }
  return out;
}

/** Every breaker of every provider; a provider that throws is skipped (the page must still render). */
export function listBreakers(controls: OperatorControls): Array<BreakerView & { feature: string }> {
  const out: Array<BreakerView & { feature: string }> = [];
  for (const { feature, control } of controls.breakers) {
    try {
      for (const b of control.list()) out.push({ ...b, feature });
    } catch {
      /* shown as missing; the provider's own logs say why */
    }
  }
  return out;
}
