// The daemon's features, attached in this order. One line per feature.
import { failoverFeature } from './failover/index.ts';
import type { FeatureFactory } from './feature.ts';
import { dashboardFeature } from './dashboard/index.ts';
import { indexingFeature } from './indexing/index.ts';
import { readsFeature } from './reads/index.ts';

export const features: FeatureFactory[] = [
  failoverFeature,
  readsFeature,
  indexingFeature,
  dashboardFeature,
];
