// A feature plugs a slice of the daemon (reads, indexing, failover, dashboard…) into the composition root:
// it receives the shared context, registers routes/actors, and reports its readiness and status.
import type { FastifyInstance } from 'fastify';
import type { CommandLog } from '../adapters/kafka/port.ts';
import type { ShardStore } from '../adapters/pg/port.ts';
import type { CacheStore } from '../adapters/redis/port.ts';
import type { SearchIndex } from '../adapters/search/port.ts';
import type { Leader } from '../actors/leader/leader.ts';
import type { Tree } from '../actors/tree.ts';
import type { Config } from '../config/index.ts';
import type { InspectionBus } from '../machines/index.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import type { Metrics } from '../lib/metrics.ts';
import type { FeatureControls } from './controls.ts';
import type { FeatureRegistry } from './registry.ts';

export interface Adapters {
  log: CommandLog;
  stores: Map<string, ShardStore>;
  caches: Map<string, CacheStore>;
  search: SearchIndex;
}

/** A fault an operator (or a test) can inject in the embedded and local profiles. */
export interface FaultAction {
  name: string;
  description: string;
  inject(): Promise<void>;
  heal?(): Promise<void>;
}

export interface DaemonContext {
  config: Readonly<Config>;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  inspection: InspectionBus;
  adapters: Adapters;
  tree: Tree;
  app: FastifyInstance;
  /** Registered fault injections (embedded/local only; empty in production). */
  faults: Map<string, FaultAction>;
  /** Why the daemon is not ready right now (what /readyz answers); empty when ready. */
  readiness?(): string[];
  /** The attached features and the APIs they provide, looked up by typed key (features/keys.ts). */
  features: FeatureRegistry;
  /** The deployment's failover leader as this daemon sees it (several daemons; absent in tests that attach none). */
  leader?: Leader;
}

/**
 * `T` when JSON.stringify writes it as it is — strings, numbers, booleans, null, arrays and objects of them, an
 * optional field absent — otherwise a type `T` does not satisfy (functions, bigints, symbols, Maps, Sets, class
 * instances with methods, `unknown` or `any` fields). Checked field by field, so interfaces qualify: a JSON type
 * with an index signature would refuse every interface in the status trees.
 */
export type Json<T> = T extends string | number | boolean | null | undefined
  ? T
  : T extends bigint | symbol | ((...args: never[]) => unknown)
    ? never
    : { [K in keyof T]: unknown extends T[K] ? never : Json<T[K]> };

/** A feature; `S` is its section of /status, its own type, which must be JSON as it is (`Json<S>`). */
export interface Feature<S extends object = object> {
  name: string;
  /** After the tree started, before HTTP listens. */
  start?(): Promise<void>;
  /** Before the tree drains. */
  stop?(): Promise<void>;
  /** Empty when ready; otherwise reasons. */
  notReady?(): string[];
  /** This feature's section of /status. */
  status?(): S & Json<S>;
  /** What the operator surface (dashboard, CLI) may drive through this feature: breakers, DLQ replay, switchover. */
  controls?: FeatureControls;
}

export type FeatureFactory<S extends object = object> = (ctx: DaemonContext) => Feature<S> | Promise<Feature<S>>;
