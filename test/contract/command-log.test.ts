// The CommandLog contract against the embedded stand-in, on simulated time (no sockets, no real waits).
import { MemoryCommandLog } from '../../adapters/kafka/memory-command-log.ts';
import { SimulatedClock } from '../../lib/clock.ts';
import { commandLogContract } from './command-log.contract.ts';

commandLogContract('MemoryCommandLog', async () => {
  const clock = new SimulatedClock(1_700_000_000_000);
  const log = new MemoryCommandLog({ clock, random: () => 0.5 });
  const eventually = async (pred: () => boolean | Promise<boolean>, what: string): Promise<void> => {
    for (let step = 0; step < 2_000; step++) {
      if (await pred()) return;
      await log.whenIdle();
      if (await pred()) return;
      clock.increment(50); // back-off timers of re-deliveries are the only thing time moves here
    }
    throw new Error(`not reached on simulated time: ${what}`);
  };
  return {
    log,
    eventually,
    settle: async () => {
      await log.whenIdle();
      clock.increment(1_000);
      await log.whenIdle();
    },
    close: () => log.close(),
  };
});
