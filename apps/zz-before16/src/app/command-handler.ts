import type { Command, CommandHandler } from '../bus/types.js';
import type { TradingEngine } from '../engine/trading-engine.js';
import { TraderError } from '../errors.js';
import type { AlertsSource } from '../http/alert-manager-port.js';
import type { SilenceRequest } from '../http/trader-port.js';
import type { EventPublisher } from './components/event-publisher.js';

/** Command types the engine accepts from gateways. */
export const COMMANDS = {
  engageKillSwitch: 'kill-switch.engage',
  releaseKillSwitch: 'kill-switch.release',
  cancelOrder: 'order.cancel',
  silenceAlert: 'alert.silence',
  acknowledgeAlert: 'alert.acknowledge',
} as const;

/** What every command answers: its own result, and the stream offset at which its effect is published. */
export interface CommandResult<T = unknown> {
  readonly result: T;
  /** Gateways wait until their read model has applied this offset before answering (read your writes). */
  readonly offset: number;
}

function field<T>(payload: unknown, name: string, check: (v: unknown) => v is T): T {
  const v = (payload as Record<string, unknown> | null)?.[name];
  if (!check(v))
    throw new TraderError('E_TRADER_INVALID_OPTION', `command payload field ${name} is missing or invalid`, {
      field: name,
    });
  return v;
}
const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 2_000;
const isActor = (v: unknown): v is { sub: string; role: string } =>
  typeof v === 'object' && v !== null && isString((v as { sub?: unknown }).sub);
const isMode = (v: unknown): v is 'REDUCING' | 'HALTED' => v === 'REDUCING' || v === 'HALTED';
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/**
 * The engine's command handler: kill switch, cancel and alert commands from gateways (or from the API in the same
 * process), each validated, applied through the engine (so the change is journaled like any other), and answered
 * after the event stream holds its effect.
 */
export function createCommandHandler(
  engine: TradingEngine,
  publisher: EventPublisher,
  alerts: AlertsSource | undefined,
): CommandHandler {
  const done = async <T>(result: T): Promise<CommandResult<T>> => {
    await publisher.flush();
    return { result, offset: publisher.model.offset };
  };
  return async (command: Command) => {
    const p = command.payload;
    switch (command.type) {
      case COMMANDS.engageKillSwitch: {
        const actor = field(p, 'actor', isActor);
        engine.setTradingState(field(p, 'mode', isMode), `${field(p, 'reason', isString)} (operator ${actor.sub})`);
        return done(engine.state);
      }
      case COMMANDS.releaseKillSwitch: {
        const actor = field(p, 'actor', isActor);
        engine.setTradingState('RUNNING', `${field(p, 'reason', isString)} (operator ${actor.sub})`);
        return done(engine.state);
      }
      case COMMANDS.cancelOrder: {
        const actor = field(p, 'actor', isActor);
        return done(engine.cancel(field(p, 'clientOrderId', isString), `operator ${actor.sub}`));
      }
      case COMMANDS.silenceAlert: {
        if (alerts === undefined)
          throw new TraderError('E_TRADER_NOT_CONFIGURED', 'alerting is not configured in this trader');
        return done(await alerts.silence(field(p, 'request', isObject) as unknown as SilenceRequest));
      }
      case COMMANDS.acknowledgeAlert: {
        if (alerts === undefined)
          throw new TraderError('E_TRADER_NOT_CONFIGURED', 'alerting is not configured in this trader');
        return done(await alerts.acknowledge(field(p, 'id', isString), field(p, 'by', isString)));
      }
      default:
        throw new TraderError('E_TRADER_INVALID_OPTION', `unknown command ${command.type}`, { field: 'type' });
    }
  };
}
