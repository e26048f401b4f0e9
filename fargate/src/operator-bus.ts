// The task's operator-command subscriber: one dedicated Redis connection in subscriber mode, SUBSCRIBE to
// operatorChannel(callSid) for each call the task holds, UNSUBSCRIBE at its end.
import { operatorChannel } from '../../contracts/console';
import type { OperatorSubscriptions } from './call/operator';
import type { Logger } from './observability/logger';
import { connectRedis, type RedisClient } from './store/redis';

/**
 * A connection that SUBSCRIBEs enters subscriber mode and can run no other command ("From now, `sub` enters the
 * subscriber mode", ioredis README, Pub/Sub), hence a connection of its own beside the stores' client. ioredis
 * re-subscribes every channel after a reconnect (`autoResubscribe`, default true: ioredis
 * built/redis/RedisOptions.js); a message published while the connection is down is lost (Redis pub/sub is
 * at-most-once, https://redis.io/docs/latest/develop/interact/pubsub/), so the console sees no ack and can resend.
 */
export class OperatorBus implements OperatorSubscriptions {
  private readonly handlers = new Map<string, Set<(raw: string) => void>>();

  private constructor(private readonly client: RedisClient, private readonly log: Logger) {
    client.on('message', (channel: string, message: string) => {
      for (const h of this.handlers.get(channel) ?? []) {
        try {
          h(message);
        } catch (err) {
          this.log.error({ err: { name: (err as Error)?.name } }, 'operator message handler failed');
        }
      }
    });
  }

  /** Connects the subscriber (rejects if Redis is unreachable at boot, like the stores). */
  static async open(url: string, log: Logger): Promise<OperatorBus> {
    const client = await connectRedis(url, { onError: (err) => log.warn({ err: { name: (err as Error)?.name } }, 'operator subscriber connection error; reconnecting') });
    return new OperatorBus(client, log);
  }

  /** SUBSCRIBE (the first handler of a channel); the returned function removes the handler and UNSUBSCRIBEs the last. */
  async subscribe(callSid: string, onMessage: (raw: string) => void): Promise<() => Promise<void>> {
    const channel = operatorChannel(callSid);
    let set = this.handlers.get(channel);
    if (!set) this.handlers.set(channel, (set = new Set()));
    set.add(onMessage);
    try {
      if (set.size === 1) await this.client.subscribe(channel);
    } catch (err) {
      this.remove(channel, onMessage);
      throw err;
    }
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      if (this.remove(channel, onMessage)) await this.client.unsubscribe(channel);
    };
  }

  /** Channels this task is subscribed to (for tests and logs). */
  channels(): string[] {
    return [...this.handlers.keys()];
  }

  async close(): Promise<void> {
    this.handlers.clear();
    await this.client.close();
  }

  /** Removes a handler; true when it was the channel's last. */
  private remove(channel: string, h: (raw: string) => void): boolean {
    const set = this.handlers.get(channel);
    if (!set?.delete(h) || set.size) return false;
    this.handlers.delete(channel);
    return true;
  }
}
