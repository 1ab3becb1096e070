import type WebSocket from 'ws';
import type { Endpoint } from './exchange-runtime.js';

/** A live socket of a managed connection with its endpoint and liveness bookkeeping. */
export interface LiveSocket {
  ws: WebSocket;
  endpoint: Endpoint;
  openedAt: number;
  lastPongAt: number;
  pingSentAt: number;
  heartbeat: NodeJS.Timeout | undefined;
  /** Tail of this socket's outbound chain (see `SendQueue`). */
  sendChain: Promise<void>;
  /** Whether this socket replaced an earlier one (reconnect, failover, rotation). */
  reconnect: boolean;
  /** Subscriptions go out on this socket (false until a private stream's login is done; they are restored then). */
  ready: boolean;
  /** Set while `loginAck` waits for the venue's answer on this socket. */
  loginWait: ((ok: boolean) => void) | undefined;
}

/** The bookkeeping for a socket that has just opened. */
export function newLiveSocket(ws: WebSocket, endpoint: Endpoint, reconnect: boolean): LiveSocket {
  const now = Date.now();
  return {
    ws,
    endpoint,
    openedAt: now,
    lastPongAt: now,
    pingSentAt: 0,
    heartbeat: undefined,
    sendChain: Promise.resolve(),
    reconnect,
    ready: false,
    loginWait: undefined,
  };
}
