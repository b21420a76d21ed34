// Node's socket errors: every driver surfaces them (connect refused, reset, DNS), so every adapter's converter
// includes this vocabulary after its own.
import type { Classification, ErrorClass } from '../lib/classify.ts';
import { errorConverter, type DriverErrorFields } from './driver-errors.ts';

const NODE_CODES: Record<string, ErrorClass> = {
  ECONNREFUSED: 'retry',
  ECONNRESET: 'retry',
  EPIPE: 'retry',
  ETIMEDOUT: 'retry',
  EHOSTUNREACH: 'retry',
  ENETUNREACH: 'retry',
  ENOTFOUND: 'retry',
  EAI_AGAIN: 'retry',
  ECONNABORTED: 'retry',
};

export function socketErrors(e: DriverErrorFields): Classification | null {
  if (e.code in NODE_CODES) return { class: NODE_CODES[e.code]!, source: `node:${e.code}` };
  // node:http's words for a socket closed under a request (no errno on it).
  if (/socket hang up/i.test(e.message)) return { class: 'retry', source: 'node:socket-hang-up' };
  return null;
}

/** For adapters whose only driver errors are socket errors (and for tests of code that reaches a socket). */
export const toSocketError = errorConverter(socketErrors);
