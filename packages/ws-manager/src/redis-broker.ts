import { WsManagerError, WsManagerErrorCode } from './errors.js';
import { checkKnownKeys } from './internal/known-keys.js';
import type { HubBroker, RedisBrokerOptions, RedisPubSubClient } from './types.js';

/** A {@link HubBroker} on Redis pub/sub: each hub publishes to `<prefix><topic>` and pattern-subscribes to `<prefix>*`. */
export class RedisBroker implements HubBroker {
  private readonly client: RedisPubSubClient;
  private readonly prefix: string;
  private subscriber: RedisPubSubClient | undefined;
  private readonly ownsSubscriber: boolean;
  private listener: ((pattern: string, channel: string, message: string) => void) | undefined;
  private closed = false;

  constructor(options: RedisBrokerOptions) {
    const client = options?.client as unknown as Record<string, unknown> | undefined;
    if (client === undefined || typeof client.publish !== 'function' || typeof client.duplicate !== 'function') {
      throw new WsManagerError(WsManagerErrorCode.INVALID_OPTION, 'invalid option client: expected an ioredis client', {
        field: 'client',
      });
    }
    checkKnownKeys(options, ['client', 'subscriber', 'channelPrefix']);
    const prefix = options.channelPrefix ?? 'cryptoscalp:hub:';
    if (typeof prefix !== 'string' || prefix.length === 0 || prefix.includes('*')) {
      throw new WsManagerError(
        WsManagerErrorCode.INVALID_OPTION,
        'invalid option channelPrefix: expected a non-empty string without *',
        {
          field: 'channelPrefix',
        },
      );
    }
    this.client = options.client;
    this.prefix = prefix;
    this.subscriber = options.subscriber;
    this.ownsSubscriber = options.subscriber === undefined;
  }

  /** Publishes a payload on `<prefix><topic>`. */
  async publish(topic: string, payload: string): Promise<void> {
    if (this.closed) throw new WsManagerError(WsManagerErrorCode.Closed, 'broker is closed');
    await this.client.publish(this.prefix + topic, payload);
  }

  /** Pattern-subscribes to `<prefix>*` and hands every payload to `handler`. */
  async subscribe(handler: (topic: string, payload: string) => void): Promise<void> {
    if (this.closed) throw new WsManagerError(WsManagerErrorCode.Closed, 'broker is closed');
    this.subscriber ??= this.client.duplicate();
    const prefixLength = this.prefix.length;
    this.listener = (_pattern, channel, message) => {
      if (channel.startsWith(this.prefix)) handler(channel.slice(prefixLength), message);
    };
    this.subscriber.on('pmessage', this.listener);
    await this.subscriber.psubscribe(`${this.prefix}*`);
  }

  /** Unsubscribes; quits the subscriber connection if the broker created it. Never closes `client`. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const subscriber = this.subscriber;
    if (subscriber === undefined) return;
    if (this.listener !== undefined) subscriber.off('pmessage', this.listener);
    if (this.ownsSubscriber) await subscriber.quit().catch(() => undefined);
    else await subscriber.punsubscribe(`${this.prefix}*`).catch(() => undefined);
  }
}
