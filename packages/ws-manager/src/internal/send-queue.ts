import WebSocket from 'ws';
import { WsManagerError, WsManagerErrorCode } from '../errors.js';
import type { Codec } from '../types.js';
import type { ConnectionCounters } from './connection-counters.js';
import type { LiveSocket } from './live-socket.js';
import type { TokenBucket } from './token-bucket.js';

const noop = () => {};

/**
 * Outbound messages of one connection: per socket, in order, each through the exchange's shared message budget.
 * A message whose socket closed before its turn is dropped silently (the subscription registry restores it on the
 * next socket).
 */
export class SendQueue {
  constructor(
    private readonly budget: TokenBucket,
    private readonly codec: Codec,
    /** Aborted when the connection closes: budget waits end and send failures are no longer reported. */
    private readonly closed: AbortSignal,
    private readonly counters: ConnectionCounters,
  ) {}

  /**
   * Queues `message` behind the socket's earlier messages. Resolves once handed to the socket; rejects with
   * `E_WS_ABORTED` if `signal` aborts first (never after the connection closed).
   */
  send(socket: LiveSocket, message: unknown, signal?: AbortSignal): Promise<void> {
    const next = socket.sendChain.then(async () => {
      if (signal?.aborted) {
        throw new WsManagerError(WsManagerErrorCode.Aborted, 'aborted before sending', { cause: signal.reason });
      }
      await this.budget.take(signal === undefined ? this.closed : AbortSignal.any([this.closed, signal]));
      if (socket.ws.readyState !== WebSocket.OPEN) return;
      const frame = this.codec.encode(message);
      socket.ws.send(frame, { binary: typeof frame !== 'string' });
      this.counters.subscribeMessagesSent++;
    });
    // A failed send (closed socket, abort) must not break the chain for later messages.
    socket.sendChain = next.catch(noop);
    return next.catch((error: unknown) => {
      if (this.closed.aborted) return;
      throw error;
    });
  }
}
