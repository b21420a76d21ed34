// Readiness from the actor tree: any stopped actor, and a failover monitor that is not running, make the daemon
// not ready; a restarting shard writer does not (the breaker and the hold cover it).
import { describe, expect, it } from 'vitest';
import { actorsNotReady } from '../../../actors/runtime/readiness.ts';
import type { ActorInfo } from '../../../actors/runtime/system.ts';

const actor = (path: string, kind: string, status: ActorInfo['status'], lastError?: string): ActorInfo => ({
  path,
  kind,
  status,
  restarts: 0,
  mailboxDepth: 0,
  mailboxCapacity: 100,
  children: [],
  ...(lastError ? { lastError } : {}),
});

describe('actorsNotReady', () => {
  it('is empty while every actor runs', () => {
    expect(actorsNotReady([actor('/tagstream/ingest', 'ingest', 'running'), actor('/tagstream/monitors/pg', 'cluster-monitor', 'running')])).toEqual([]);
  });

  it('names a stopped actor of any kind, with its last error', () => {
    expect(actorsNotReady([actor('/tagstream/shards/shard-0', 'shard-writer', 'stopped', 'gave up')])).toEqual(['actor /tagstream/shards/shard-0 is stopped (gave up)']);
  });

  it('names a failover monitor that is restarting or parked', () => {
    expect(
      actorsNotReady([actor('/tagstream/monitors/a', 'cluster-monitor', 'restarting', 'boom'), actor('/tagstream/monitors/b', 'cluster-monitor', 'parked')]),
    ).toEqual(['actor /tagstream/monitors/a is restarting (boom)', 'actor /tagstream/monitors/b is parked']);
  });

  it('does not name a restarting shard writer', () => {
    expect(actorsNotReady([actor('/tagstream/shards/shard-1', 'shard-writer', 'restarting', 'pg down')])).toEqual([]);
  });
});
