// The one file that imports nact (unmaintained since 2021, STYLE.md: "keep it behind one file of ours"): a
// typed binding of the four calls the runtime needs — start a system, spawn a stateful actor with a crash
// handler, dispatch, stop — with no casts. Where nact's bundled typings and its JavaScript disagree, the real
// shape is declared here once: start() takes `{ name }` (the typings say a string, which nact ignores), and a
// crash handler's mailbox holds `{ message, sender }` envelopes (the typings say bare messages).
// test/unit/actors/nact-binding.test.ts fails if nact changes either.
import nact from 'nact';

declare module 'nact' {
  // What nact's ActorSystem constructor reads: the first argument's `name` when it is an object.
  export function start(config: { name: string }, ...plugins: Plugin[]): ActorSystemRef;
}

/** A reference to a running nact actor that takes messages of type M. */
export type ActorRef<M> = nact.Ref<M>;
export type SystemRef = nact.ActorSystemRef;

/** What a crash handler tells nact to do with the actor: keep its state, start it afresh, or stop it. */
export type CrashVerdict = 'resume' | 'reset' | 'stop';

export interface Crash<M> {
  /** The message being handled when it crashed (undefined if it crashed outside one). */
  msg: M | undefined;
  err: unknown;
  /** Messages still queued: nact drops them on a stop. */
  queued: M[];
}

export interface ActorBehaviour<S, M> {
  init: () => S;
  receive: (state: S, msg: M) => S | Promise<S>;
  /** Awaited by nact before the actor takes its next message (a restart backoff sleeps here). */
  onCrash: (crash: Crash<M>) => CrashVerdict | Promise<CrashVerdict>;
}

export function startSystem(name: string): SystemRef {
  return nact.start({ name });
}

type Envelope<M> = { message: M };
function isEnvelope<M>(entry: M | Envelope<M>): entry is Envelope<M> {
  return typeof entry === 'object' && entry !== null && 'message' in entry;
}

/** The queued messages of a crash context, unwrapped from nact's envelopes. */
export function unwrapMailbox<M>(mailbox: ReadonlyArray<M | Envelope<M>>): M[] {
  return mailbox.map((entry) => (isEnvelope(entry) ? entry.message : entry));
}

export function spawnActor<S, M>(parent: nact.Ref<unknown>, name: string, behaviour: ActorBehaviour<S, M>): ActorRef<M> {
  const receive = (state: S, msg: M): S | Promise<S> => behaviour.receive(state, msg);
  return nact.spawn(parent, receive, name, {
    initialStateFunc: () => behaviour.init(),
    onCrash: async (msg, err, ctx) => {
      const verdict = await behaviour.onCrash({ msg, err, queued: unwrapMailbox<M>(ctx.mailbox) });
      return verdict === 'resume' ? ctx.resume : verdict === 'reset' ? ctx.reset : ctx.stop;
    },
  });
}

export function dispatch<M>(ref: ActorRef<M>, msg: M): void {
  nact.dispatch(ref, msg);
}

export function stop(ref: nact.Ref<unknown>): void {
  nact.stop(ref);
}
