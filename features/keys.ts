// The key of each feature's API: the name it is provided under and its type. Type-only imports, so a feature
// can name another's key without loading it (the failover feature reads the reads feature's OpenAPI registry).
import type { DashboardApi } from './dashboard/index.ts';
import type { FailoverApi } from './failover/index.ts';
import type { IndexingApi } from './indexing/index.ts';
import type { ReadsApi } from './reads/index.ts';
import { featureKey } from './registry.ts';

export const failoverKey = featureKey<FailoverApi>('failover');
export const readsKey = featureKey<ReadsApi>('reads');
export const indexingKey = featureKey<IndexingApi>('indexing');
export const dashboardKey = featureKey<DashboardApi>('dashboard');
