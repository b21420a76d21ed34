// The reference model and command generator live with the drill (they are operator tools too).
export { expectedState, type ExpectedState, type ModelRecord } from '../../drill/model.ts';
export { commandStream } from '../../drill/commands.ts';
