// Fault hooks: what an embedded stand-in lets operators and tests break on purpose. Each port declares them as
// an optional `faults` property, so a feature asks "can this adapter be broken?" of the port it was given —
// through the timing proxy too — instead of testing for a stand-in's class. Real adapters offer none: their
// faults are real processes, stopped through services/.

/** The backend stops answering: every call fails like an unreachable server, until it is available again. */
export interface OutageHooks {
  setAvailable(available: boolean): void;
}

/** A cache server: down (refused), frozen (calls hang until the command timeout), restarted empty. */
export interface CacheFaultHooks extends OutageHooks {
  freeze(): void;
  thaw(): void;
  /** A restart without persistence: every key is gone. */
  flushAll(): void;
}

/** A database cluster: one node dies (its connections fail like a dead server) and comes back. */
export interface NodeFaultHooks {
  killNode(node: string): void;
  reviveNode(node: string): void;
}
