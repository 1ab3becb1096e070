/**
 * @cryptoscalp/contracts in a program of your own: a typed subscriber for every channel of the suite, and a health
 * indicator of your own that any package's health registry would accept.
 *
 *   npm start -w @cryptoscalp/example-contracts
 */
import diagnostics from 'node:diagnostics_channel';
import {
  CHANNEL_NAMES,
  CHANNELS,
  type ChannelPayloads,
  type HealthCheckResult,
  type HealthIndicator,
  isChannelName,
} from '@cryptoscalp/contracts';

// Every channel the suite publishes on, grouped by the package that publishes it.
const byPackage = new Map<string, string[]>();
for (const name of CHANNEL_NAMES) {
  const { package: pkg } = CHANNELS[name];
  byPackage.set(pkg, [...(byPackage.get(pkg) ?? []), name]);
}
for (const [pkg, names] of byPackage) console.log(`${pkg}: ${names.length} channels`);

// A subscriber typed by the registry: the payload type follows from the channel's name.
const seen: string[] = [];
const onBreaker = (message: unknown) => {
  const event = message as ChannelPayloads['cryptoscalp:cache:breaker'];
  seen.push(`${event.component} breaker ${event.state}`);
};
diagnostics.subscribe('cryptoscalp:cache:breaker', onBreaker);
diagnostics.channel('cryptoscalp:cache:breaker').publish({ component: 'example', state: 'half-open' });
diagnostics.unsubscribe('cryptoscalp:cache:breaker', onBreaker);
console.log(seen[0]); // example breaker half-open

// Names from configuration or user input can be checked before subscribing.
for (const candidate of ['cryptoscalp:db:query', 'cryptoscalp:db:typo']) {
  console.log(`${candidate}: ${isChannelName(candidate) ? 'registered' : 'not a channel of the suite'}`);
}

// A health indicator of your own, in the shape every package returns.
const clock: HealthIndicator = {
  name: 'clock',
  async healthCheck(): Promise<HealthCheckResult> {
    const skewMs = Math.abs(Date.now() - performance.timeOrigin - performance.now());
    return { status: skewMs < 1000 ? 'pass' : 'warn', observedValue: Math.round(skewMs), observedUnit: 'ms' };
  },
};
console.log(clock.name, await clock.healthCheck());
