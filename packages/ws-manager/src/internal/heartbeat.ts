import type { ConnectionCounters } from './connection-counters.js';
import type { LiveSocket } from './live-socket.js';

/**
 * Liveness of one socket: every pong (and every inbound frame, see `ManagedConnection`) refreshes `lastPongAt`; with
 * a heartbeat, a ping goes out after `intervalMs` of silence and the socket is terminated when its pong is
 * `timeoutMs` late (its close handler then reconnects).
 */
export function watchLiveness(
  socket: LiveSocket,
  heartbeat: { intervalMs: number; timeoutMs: number } | false,
  counters: ConnectionCounters,
): void {
  const ws = socket.ws;
  ws.on('pong', () => {
    socket.lastPongAt = Date.now();
  });
  if (heartbeat === false) return;
  socket.heartbeat = setInterval(
    () => {
      const now = Date.now();
      const awaiting = socket.pingSentAt > 0 && socket.lastPongAt < socket.pingSentAt;
      if (awaiting && now - socket.pingSentAt >= heartbeat.timeoutMs) {
        counters.heartbeatTimeouts++;
        ws.terminate();
        return;
      }
      if (!awaiting && now - Math.max(socket.pingSentAt, socket.openedAt) >= heartbeat.intervalMs) {
        socket.pingSentAt = now;
        try {
          ws.ping();
        } catch {
          // socket closing; the close handler takes over
        }
      }
    },
    Math.max(5, Math.min(heartbeat.intervalMs, heartbeat.timeoutMs) / 2),
  );
  socket.heartbeat.unref?.();
}

/** Stops the socket's heartbeat timer (closed, replaced or the connection closing). */
export function stopHeartbeat(socket: LiveSocket | undefined): void {
  if (socket?.heartbeat !== undefined) clearInterval(socket.heartbeat);
}
