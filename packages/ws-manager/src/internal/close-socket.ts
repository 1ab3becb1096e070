import WebSocket from 'ws';

/**
 * Closes `ws` with `code` and `reason` and resolves once it is closed: an open socket gets the close handshake and is
 * terminated if that takes over `graceMs`; a socket still connecting or already closing is terminated at once.
 */
export function closeSocket(ws: WebSocket, code: number, reason: string, graceMs = 1_000): Promise<void> {
  return new Promise<void>((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      ws.terminate();
      resolve();
    }, graceMs);
    timer.unref?.();
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
    else ws.terminate();
  });
}
