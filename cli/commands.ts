// Operator commands beyond `config check`. Each takes its arguments and two writers and returns an exit code.
import { dlqCommand } from './dlq.ts';
import { failoverCommands } from './failover.ts';
import { operatorCommands } from './operator.ts';
import { reconcileCommand } from './reconcile.ts';

export type CommandHandler = (args: string[], out: (s: string) => void, err: (s: string) => void) => Promise<number>;

export const commands: Record<string, CommandHandler> = {
  ...operatorCommands,
  ...failoverCommands,
  dlq: dlqCommand,
  reconcile: reconcileCommand,
};
