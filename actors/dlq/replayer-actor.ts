// The DLQ replayer as an actor: its mailbox serializes passes (the schedule's ticks and operators' requests),
// so two passes never race on the replayer's consumer group. A pass that throws crashes the actor; its
// supervisor restarts it and the requester gets the error. With several daemons the replayer is a singleton:
// only the failover leader runs passes (a scheduled tick elsewhere does nothing; a request is refused with
// NOT_LEADER, naming the leader), so a dead letter is re-driven, parked and alerted once per deployment.
import type { Policy } from '../runtime/policy.ts';
import type { ActorSpec } from '../runtime/system.ts';
import type { DlqReplayer, PassOptions, PassResult } from './replayer.ts';

export type ReplayerMsg =
  | { type: 'dlq.tick' }
  | { type: 'dlq.pass'; opts: PassOptions; reply: (r: PassResult) => void; reject: (err: unknown) => void };

/** What the replayer needs of the deployment's leadership (actors/leader/leader.ts). */
export interface SingletonGate {
  isLeader(): boolean;
  /** Fresh check; throws NOT_LEADER naming the leader. */
  check(why: string): Promise<number>;
}

export function replayerSpec(replayer: DlqReplayer, opts: { policy?: Policy<ReplayerMsg>; onTickError?: (err: unknown) => void; leader?: SingletonGate }): ActorSpec<null, ReplayerMsg> {
  return {
    name: 'dlq-replayer',
    kind: 'dlq-replayer',
    init: () => null,
    receive: async (state, msg) => {
      if (msg.type === 'dlq.tick') {
        if (opts.leader && !opts.leader.isLeader()) return state; // the leader's replayer runs the passes
        try {
          await opts.leader?.check('scheduled DLQ pass');
          if ((await replayer.depth()) > 0) await replayer.pass();
        } catch (err) {
          opts.onTickError?.(err); // a scheduled pass that fails is tried again at the next tick
        }
        return state;
      }
      try {
        await opts.leader?.check('DLQ pass');
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
