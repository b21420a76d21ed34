// The typed registry through which features compose: a feature provides its API under a key that carries the
// API's type (features/keys.ts), and whoever needs it asks with the same key — no lookup by string, no cast.
import type { Feature } from './feature.ts';

/** Names one feature's API and carries its type. One constant per API, in features/keys.ts. */
export class FeatureKey<Api> {
  // The API each registry (one per daemon) was given under this key. Kept on the key rather than in a map of
  // unknowns inside the registry so that reading it back is typed; weak, so a stopped daemon's registry goes.
  readonly #provided = new WeakMap<FeatureRegistry, Api>();

  constructor(readonly name: string) {}

  provideIn(registry: FeatureRegistry, api: Api): void {
    if (this.#provided.has(registry)) throw new Error(`feature API "${this.name}" was provided twice`);
    this.#provided.set(registry, api);
  }

  in(registry: FeatureRegistry): Api | undefined {
    return this.#provided.get(registry);
  }
}

export const featureKey = <Api>(name: string): FeatureKey<Api> => new FeatureKey<Api>(name);

export class FeatureRegistry {
  readonly #attached: Feature[] = [];

  /** A feature gives its API at construction; a later feature may use an earlier one's at once, any at start(). */
  provide<Api>(key: FeatureKey<Api>, api: Api): void {
    key.provideIn(this, api);
  }

  /** The API provided under `key`, or undefined when that feature is not attached (tests attach a few). */
  api<Api>(key: FeatureKey<Api>): Api | undefined {
    return key.in(this);
  }

  attach(feature: Feature): void {
    this.#attached.push(feature);
  }

  /** The attached features, in attach order. */
  values(): readonly Feature[] {
    return this.#attached;
  }
}
