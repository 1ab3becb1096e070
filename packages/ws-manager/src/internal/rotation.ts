import WebSocket from 'ws';
import type { ConnectionCounters } from './connection-counters.js';
import { stopHeartbeat } from './heartbeat.js';
import type { LiveSocket } from './live-socket.js';

/** What a rotation needs from its connection. */
export interface RotationHost {
  /** The socket serving the connection; a finished rotation replaces it. */
  primary: LiveSocket | undefined;
  /** Opens a socket (the connector's endpoint pass). */
  openAny(): Promise<LiveSocket>;
  /** Wires a socket: frames, liveness, close handling, subscription restore. */
  wire(socket: LiveSocket): void;
}

/**
 * Make-before-break rotation of a connection's socket: a second socket is opened and subscribed, both run for
 * `rotationOverlapMs` (the pipelines deduplicate the overlap), then the old one is closed. Triggered by
 * `maxConnectionLifetimeMs`, a `shutdownNotice` or by hand.
 */
export class Rotation {
  /** The replacement socket while a rotation overlaps. */
  rotating: LiveSocket | undefined;
  private lifetimeTimer: NodeJS.Timeout | undefined;
  private overlapTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: { maxConnectionLifetimeMs: number; rotationOverlapMs: number },
    private readonly counters: ConnectionCounters,
    /** Aborted when the connection closes. */
    private readonly closed: AbortSignal,
    private readonly host: RotationHost,
  ) {}

  /** (Re)starts the lifetime of the serving socket: a rotation starts when it runs out. */
  armLifetime(): void {
    if (this.lifetimeTimer !== undefined) clearTimeout(this.lifetimeTimer);
    this.lifetimeTimer = undefined;
    const lifetime = this.options.maxConnectionLifetimeMs;
    if (lifetime > 0) {
      this.lifetimeTimer = setTimeout(() => {
        this.lifetimeTimer = undefined;
        void this.rotate();
      }, lifetime);
      this.lifetimeTimer.unref?.();
    }
  }

  /** Rotates now. Resolves when the rotation finished (false if it could not start or failed). */
  async rotate(): Promise<boolean> {
    const host = this.host;
    if (this.closed.aborted || this.rotating !== undefined || host.primary === undefined) return false;
    this.counters.rotations++;
    let socket: LiveSocket;
    try {
      socket = await host.openAny();
    } catch {
      if (!this.closed.aborted) this.armLifetime();
      return false;
    }
    if (this.closed.aborted) {
      socket.ws.terminate();
      return false;
    }
    this.rotating = socket;
    host.wire(socket);
    await new Promise<void>((resolve) => {
      this.overlapTimer = setTimeout(resolve, this.options.rotationOverlapMs);
      this.overlapTimer.unref?.();
    });
    this.overlapTimer = undefined;
    if (this.closed.aborted || this.rotating !== socket) return host.primary === socket;
    this.rotating = undefined;
    this.finish(socket, host.primary);
    return true;
  }

  /**
   * The serving socket closed: a rotation in progress already has an open replacement, which is promoted (true).
   * False when there is none and the connection has to reconnect.
   */
  promoteOnLoss(): boolean {
    const replacement = this.rotating;
    if (replacement === undefined || replacement.ws.readyState !== WebSocket.OPEN) return false;
    this.rotating = undefined;
    this.finish(replacement, undefined);
    return true;
  }

  private finish(replacement: LiveSocket, old: LiveSocket | undefined): void {
    this.host.primary = replacement;
    if (old !== undefined) {
      stopHeartbeat(old);
      old.ws.close(1000, 'rotation');
    }
    this.armLifetime();
  }

  /** Stops the timers (the connection is closing). */
  stop(): void {
    if (this.lifetimeTimer !== undefined) clearTimeout(this.lifetimeTimer);
    if (this.overlapTimer !== undefined) clearTimeout(this.overlapTimer);
  }
}
