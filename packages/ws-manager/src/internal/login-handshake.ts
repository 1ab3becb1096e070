import WebSocket from 'ws';
import type { ConnectAttempt, LoginInfo } from '../types.js';
import type { LiveSocket } from './live-socket.js';
import type { ResolvedConnectionOptions } from './validate.js';

/** The outcome of a login on one socket. */
export interface LoginOutcome {
  ok: boolean;
  reason: LoginInfo['reason'];
}

/**
 * A private stream's login on a new socket: the message is made anew (the `login` factory) and sent first; with
 * `loginAck`, the outcome waits for the venue's answer (seen by the frame handler through `socket.loginWait`) or
 * `loginTimeoutMs`. Resolves undefined when the socket closed before the message went out.
 */
export async function loginOn(
  socket: LiveSocket,
  options: ResolvedConnectionOptions,
  send: (socket: LiveSocket, message: unknown) => Promise<void>,
): Promise<LoginOutcome | undefined> {
  const attempt: ConnectAttempt = { endpoint: socket.endpoint.url, reconnect: socket.reconnect };
  let ok = false;
  let reason: LoginInfo['reason'];
  try {
    const message = await (options.login as (a: ConnectAttempt) => unknown)(attempt);
    if (socket.ws.readyState !== WebSocket.OPEN) return undefined;
    let answered: Promise<boolean> | undefined;
    let timer: NodeJS.Timeout | undefined;
    if (options.loginAck !== undefined) {
      answered = new Promise<boolean>((resolve) => {
        socket.loginWait = resolve;
        timer = setTimeout(() => {
          reason = 'timeout';
          resolve(false);
        }, options.loginTimeoutMs);
        timer.unref?.();
      });
    }
    await send(socket, message);
    ok = answered === undefined ? true : await answered;
    if (timer !== undefined) clearTimeout(timer);
    socket.loginWait = undefined;
    if (!ok) reason ??= 'refused';
  } catch {
    reason = 'error';
  }
  return { ok, reason };
}
