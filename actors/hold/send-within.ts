// A send to a shard writer that gives up after `ms` (on the injected clock) instead of waiting for mailbox space
// without end: the ingest and the re-feeder use it so that no Kafka batch waits past its budget (issue 17, item 4).
import type { Clock } from '../../lib/clock.ts';
import type { ActorHandle } from '../runtime/system.ts';
import type { ShardWriterMsg } from '../shard-writer/messages.ts';

/**
 * True once the writer took `msg`; false if `ms` passed first (nothing was sent). An abort of `signal` (shutdown)
 * or any other failure of the send is thrown.
 */
export async function sendWithin(writer: ActorHandle<ShardWriterMsg>, msg: ShardWriterMsg, ms: number, clock: Clock, signal: AbortSignal): Promise<boolean> {
  const timeout = new AbortController();
  const t = clock.setTimeout(() => timeout.abort(), ms);
  try {
    await writer.send(msg, AbortSignal.any([signal, timeout.signal]));
    return true;
  } catch (err) {
    if (timeout.signal.aborted && !signal.aborted) return false;
    throw err;
  } finally {
    clock.clearTimeout(t);
  }
}
