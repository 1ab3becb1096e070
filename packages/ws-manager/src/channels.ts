import diagnostics from 'node:diagnostics_channel';
import type { ChannelName } from '@cryptoscalp/contracts';

/** `cryptoscalp:ws:state`: payload {@link StateChange} `{ component, exchange, connection, endpoint, from, to }`. */
export const STATE_CHANNEL = 'cryptoscalp:ws:state' satisfies ChannelName;
/** `cryptoscalp:ws:gap`: payload {@link GapInfo} `{ component, exchange, connection, endpoint, stream, expected, received, resync }`. */
export const GAP_CHANNEL = 'cryptoscalp:ws:gap' satisfies ChannelName;
/** `cryptoscalp:ws:resync`: payload {@link ResyncInfo} `{ component, exchange, connection, endpoint, stream, phase, sequence?, durationMs?, error? }`. */
export const RESYNC_CHANNEL = 'cryptoscalp:ws:resync' satisfies ChannelName;
/** `cryptoscalp:ws:malformed`: payload {@link MalformedInfo} `{ component, exchange, connection, endpoint, reason, bytes }`. */
export const MALFORMED_CHANNEL = 'cryptoscalp:ws:malformed' satisfies ChannelName;
/** `cryptoscalp:ws:hub`: payload `{ component, event, clientId?, topic?, status?, reason? }` (see the README "Events"). */
export const HUB_CHANNEL = 'cryptoscalp:ws:hub' satisfies ChannelName;

/** @internal the channel objects, created once. */
export const channels = {
  state: diagnostics.channel(STATE_CHANNEL),
  gap: diagnostics.channel(GAP_CHANNEL),
  resync: diagnostics.channel(RESYNC_CHANNEL),
  malformed: diagnostics.channel(MALFORMED_CHANNEL),
  hub: diagnostics.channel(HUB_CHANNEL),
};
