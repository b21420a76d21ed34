// The DLQ replayer as an actor: its mailbox serializes passes (the schedule's ticks and operators' requests),
// so two passes never race on the replayer's consumer group. A pass that throws crashes the actor; its
// supervisor restarts it and the requester gets the error.
import type { Policy } from '../runtime/policy.ts';
import type { ActorSpec } from '../runtime/system.ts';
import type { DlqReplayer, PassOptions, PassResult } from './replayer.ts';

export type ReplayerMsg =
  | { type: 'dlq.tick' }
  | { type: 'dlq.pass'; opts: PassOptions; reply: (r: PassResult) => void; reject: (err: unknown) => void };

export function replayerSpec(replayer: DlqReplayer, opts: { policy?: Policy<ReplayerMsg>; onTickError?: (err: unknown) => void }): ActorSpec<null, ReplayerMsg> {
  return {
    name: 'dlq-replayer',
    kind: 'dlq-replayer',
    init: () => null,
    receive: async (state, msg) => {
      if (msg.type === 'dlq.tick') {
        try {
          if ((await replayer.depth()) > 0) await replayer.pass();
        } catch (err) {
          opts.onTickError?.(err); // a scheduled pass that fails is tried again at the next tick
        }
        return state;
      }
      try {
        msg.reply(await replayer.pass(msg.opts));
      } catch (err) {
        msg.reject(err);
      }
      return state;
    },
    ...(opts.policy ? { policy: opts.policy } : {}),
    mailboxCapacity: 100,
    onDropped: (msg, err) => {
      if (msg.type === 'dlq.pass') msg.reject(err);
    },
  };
}
