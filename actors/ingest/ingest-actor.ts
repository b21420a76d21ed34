// The ingest as a supervised actor (/tagstream/ingest): each delivered batch and each commit tick is a message to
// it. A batch is dispatched in order and routed concurrently with the next ones (kafkajs hands over up to its
// concurrency of partitions at once; each partition's next batch waits for this one, as before); a defect while
// routing it comes back as a message that crashes the actor. Its supervisor restarts it with backoff (readiness
// names it meanwhile; a storm escalates), and the restarted ingest trusts nothing it tracked: every partition is
// read again from its committed offset in a new generation (Ingest.restarted), and batches delivered before that
// are dropped (their records come again). Idempotent writes make the re-delivery safe.
import type { LogBatch } from '../../adapters/kafka/port.ts';
import type { Policy } from '../runtime/policy.ts';
import type { ActorHandle, ActorSystem } from '../runtime/system.ts';
import type { Ingest, IngestMailbox } from './ingest.ts';

export type IngestMsg =
  | { type: 'ingest.batch'; batch: LogBatch; generation: number; done: () => void }
  | { type: 'ingest.commit' }
  /** A defect while routing a batch: the actor crashes on it. */
  | { type: 'ingest.defect'; err: unknown };

/** Room for every partition kafkajs hands over at once, a commit tick and a defect or two. */
const MAILBOX_CAPACITY = 64;

export function spawnIngestActor(system: ActorSystem, ingest: Ingest, parent: ActorHandle<unknown>, opts: { policy: Policy<IngestMsg>; signal?: AbortSignal }): { handle: ActorHandle<IngestMsg>; mailbox: IngestMailbox } {
  let spawned = false;
  const handle: ActorHandle<IngestMsg> = system.spawn<null, IngestMsg>(
    {
      name: 'ingest',
      kind: 'ingest',
      init: () => {
        if (spawned) ingest.restarted(); // a restart (nact re-initialises the state)
        spawned = true;
        return null;
      },
      receive: async (state, msg) => {
        switch (msg.type) {
          case 'ingest.batch':
            ingest.handleBatch(msg.batch, msg.generation).then(msg.done, (err: unknown) => {
              msg.done(); // its records come again after the restart's rewind
              if (!handle.tell({ type: 'ingest.defect', err })) ingest.restarted(); // mailbox full or stopped: rewind anyway
            });
            return state;
          case 'ingest.commit':
            await ingest.commitTick();
            return state;
          case 'ingest.defect':
            throw msg.err;
        }
      },
      policy: opts.policy,
      mailboxCapacity: MAILBOX_CAPACITY,
      // Lost to a crash or a stop: a batch's consumer goes on (the rewind re-reads it); the commit ticks go on.
      onDropped: (msg) => {
        if (msg.type === 'ingest.batch') msg.done();
        else if (msg.type === 'ingest.commit') ingest.scheduleCommit();
      },
    },
    parent,
  );
  const mailbox: IngestMailbox = {
    batch: (batch, generation) =>
      new Promise<void>((resolve, reject) => {
        handle.send({ type: 'ingest.batch', batch, generation, done: resolve }, opts.signal).catch(reject);
      }),
    commit: () => {
      // A full mailbox: the next tick. A stopped actor commits nothing more (its supervisor gave up on it).
      if (!handle.tell({ type: 'ingest.commit' }) && handle.info().status !== 'stopped') ingest.scheduleCommit();
    },
  };
  return { handle, mailbox };
}
