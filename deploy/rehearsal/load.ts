import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exited, spawnServer, waitFor } from '@cryptoscalp/testkit';
import WebSocket from 'ws';
import type { LoadResult } from './open-loop-load.js';

/** What one wrk run measured: a {@link LoadResult} whose `retried` is always 0 (wrk does not retry). */
export type WrkResult = LoadResult;

// The script counts in each thread what it sent (request) and what came back (response). delay() paces each connection
// (it waits WRK_PACE_MS between requests), which sets the rate. Once the stop file exists a thread sends nothing more:
// its delay() is an hour, and as soon as every request it sent has its answer it writes "sent answered" to its own file
// and stops itself (thread:stop), so a connection whose pause had started before the stop sends nothing afterwards
// either. The caller waits for every thread's file: sent - answered is then exactly the requests that got no answer.
//
// Every request is on a new connection (Connection: close). On a kept-alive connection, a reloading nginx closes the
// connection after its current response, and wrk, unlike browsers and HTTP libraries, does not retry the idempotent
// request it had just written on it: it would count the reload itself as failed requests. With one request per
// connection, a lost request is one the server side really dropped, but each costs a TLS handshake (about 1.9 ms of
// CPU across nginx, gateways and wrk): the rehearsal's default load is open-loop-load.ts, which keeps connections
// alive and retries as HTTP clients do; this is its `--load wrk`.
const WRK_SCRIPT = `
local tokens = {}
for t in string.gmatch(os.getenv("WRK_TOKENS"), "[^,]+") do tokens[#tokens + 1] = t end
local stopfile = os.getenv("WRK_STOP_FILE")
local pace = tonumber(os.getenv("WRK_PACE_MS"))
local threads = {}
sent, answered, non2xx, stopped, halted, armed = 0, 0, 0, false, false, false
s429, s502, s503, s504 = 0, 0, 0, 0

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("id", #threads)
end

-- Stopped and nothing in flight: report and end this thread (its pending pauses never fire).
local function finish()
  if halted or sent ~= answered then return end
  halted = true
  local f = io.open(stopfile .. "." .. id, "w")
  f:write(sent .. " " .. answered .. "\\n")
  f:close()
  wrk.thread:stop()
end

-- wrk calls request() once before the run to check it; only calls after the first delay() are real sends. A request
-- asked for in the same event-loop turn as the thread's stop is not part of the run: it is not counted.
function request()
  if armed and not halted then sent = sent + 1 end
  return wrk.format("GET", nil, {
    ["Authorization"] = "Bearer " .. tokens[(sent % #tokens) + 1],
    ["Connection"] = "close",
  })
end

function response(status, headers, body)
  answered = answered + 1
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
  if status == 429 then s429 = s429 + 1 elseif status == 502 then s502 = s502 + 1
  elseif status == 503 then s503 = s503 + 1 elseif status == 504 then s504 = s504 + 1 end
  if stopped then finish() end
end

-- The stop file is looked for before every request (one failed open, microseconds): a count-based check would take
-- seconds to notice it at the low rates of a loaded machine.
function delay()
  armed = true
  if not stopped then
    local f = io.open(stopfile, "r")
    if f then f:close(); stopped = true end
  end
  if stopped then
    finish()
    return 3600000
  end
  return pace
end

function done(summary, latency, requests)
  local s, a, x, c = 0, 0, 0, { 0, 0, 0, 0 }
  for _, t in ipairs(threads) do
    s = s + t:get("sent"); a = a + t:get("answered"); x = x + t:get("non2xx")
    for i, name in ipairs({ "s429", "s502", "s503", "s504" }) do c[i] = c[i] + t:get(name) end
  end
  local e = summary.errors
  io.write(string.format("WRK_RESULT %d %d %d %d %d %d %d %d %d %d %d %d %d\\n", s, a, x, summary.duration,
    latency:percentile(99), e.connect, e.read, e.write, e.timeout, c[1], c[2], c[3], c[4]))
end
`;

/** Options of {@link startWrk}. */
export interface WrkOptions {
  url: string;
  tokens: readonly string[];
  /** Working directory for the script and the stop file. */
  dir: string;
  connections: number;
  threads: number;
  /** Pause of each connection between requests, ms. */
  paceMs: number;
}

/** A running wrk; {@link stop} ends sending, lets answers arrive, interrupts wrk and reads its result. */
export interface WrkRun {
  readonly pid: number;
  stop(): Promise<WrkResult>;
  /** Kills wrk by its PID (cleanup). */
  kill(): Promise<void>;
}

let runs = 0;
/** wrk's request timeout (its latency statistics). */
const timeoutSec = 10;
/**
 * How long a stopped run waits for its last answers: longer than nginx's own limits for an API request
 * (`proxy_read_timeout` 15 s, retries within `proxy_next_upstream_timeout` 5 s), so a request nginx gives up on shows
 * as its 502 or 504 with a line in its access log rather than as an unexplained missing answer.
 */
const drainTimeoutMs = 30_000;

/**
 * Spawns Debian's wrk with `script` (written into `dir` once) on `url`: `threads`, `connections`, wrk's timeout, the
 * given duration; `env` is the script's whole environment besides PATH.
 */
function spawnWrk(
  options: { url: string; dir: string; connections: number; threads: number },
  script: { name: string; text: string },
  duration: string,
  env: Record<string, string>,
): ReturnType<typeof spawnServer> {
  const file = join(options.dir, script.name);
  if (!existsSync(file)) writeFileSync(file, script.text);
  const args = [`-t${options.threads}`, `-c${options.connections}`, `-d${duration}`, '--timeout', `${timeoutSec}s`];
  return spawnServer('wrk', [...args, '-s', file, options.url], { env: { PATH: process.env.PATH ?? '', ...env } });
}

/** Starts wrk (Debian's) against `url` with a bearer token per request, paced; runs until {@link WrkRun.stop}. */
export function startWrk(options: WrkOptions): WrkRun {
  const id = ++runs;
  const stopFile = join(options.dir, `wrk-stop-${id}`);
  const { child, output } = spawnWrk(options, { name: 'load.lua', text: WRK_SCRIPT }, '3600s', {
    WRK_TOKENS: options.tokens.join(','),
    WRK_STOP_FILE: stopFile,
    WRK_PACE_MS: String(options.paceMs),
  });
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exited(child, 5_000);
  };
  return {
    pid: child.pid as number,
    kill,
    async stop() {
      writeFileSync(stopFile, '');
      // Drained: every thread saw the stop file, had an answer for each request it sent, and ended. A request still
      // unanswered after wrk's timeout (plus a margin) will not be answered: it counts as failed.
      const drained = () =>
        Array.from({ length: options.threads }, (_, i) => `${stopFile}.${i + 1}`).every((f) => existsSync(f));
      await waitFor(drained, { timeoutMs: drainTimeoutMs, intervalMs: 50, what: 'wrk drained' }).catch(
        () => {}, // what is still unanswered now counts as failed
      );
      child.kill('SIGINT');
      await exited(child, 15_000);
      const m = /WRK_RESULT ((?:\d+ ?){13})/.exec(output());
      if (m === null) throw new Error(`wrk printed no result:\n${output()}`);
      const n = (m[1] as string).trim().split(' ').map(Number);
      const at = (i: number) => n[i] as number;
      const [sent, answered, non2xx, durationUs, p99Us] = [at(0), at(1), at(2), at(3), at(4)];
      const [connect, read, write, timeout] = [at(5), at(6), at(7), at(8)];
      const [s429, s502, s503, s504] = [at(9), at(10), at(11), at(12)];
      const seconds = durationUs / 1e6;
      return {
        sent,
        answered,
        non2xx,
        failed: sent - answered + non2xx,
        retried: 0,
        seconds,
        requestsPerSecond: answered / seconds,
        p99Ms: p99Us / 1000,
        socketErrors: { connect, read, write, timeout },
        statuses: { 429: s429, 502: s502, 503: s503, 504: s504 },
      };
    },
  };
}

interface StreamMessage {
  type: string;
  topic?: string;
  epoch?: string;
  offset?: number;
}

/**
 * A live-stream client through nginx that follows one topic, remembers every offset it received, and reconnects
 * after a close, resuming from its last offset and epoch. It counts resumes and explicit resnapshots; offsets
 * missed across a reconnect without a resnapshot are found by {@link StreamClients.report}.
 */
class StreamClient {
  readonly offsets: number[] = [];
  /** Indexes into `offsets` after which a resnapshot was received (a gap there is announced). */
  readonly resnapshotAt = new Set<number>();
  epoch: string | undefined;
  reconnects = 0;
  /** Reconnects answered by `subscribed` (a resnapshot, only ever sent to a resuming client, may come with it). */
  resubscribed = 0;
  resnapshots = 0;
  outOfOrder = 0;
  /** Set while a reconnect has not been answered by `subscribed`: since when. */
  waitingSince: number | undefined;
  lost = false;
  private ws: WebSocket | undefined;
  private closing = false;

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly topic: string,
    private readonly ca: string,
  ) {}

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, ['bearer', this.token], { ca: this.ca });
      this.ws = ws;
      const last = this.offsets.at(-1);
      ws.once('open', () => {
        // Only an opened socket's close starts a reconnect; a failed open is retried by the caller's catch.
        ws.once('close', () => this.onClose());
        ws.send(
          JSON.stringify({
            op: 'subscribe',
            topic: this.topic,
            ...(last === undefined ? {} : { offset: last, epoch: this.epoch }),
          }),
        );
        resolve();
      });
      ws.on('message', (raw) => this.onMessage(JSON.parse(String(raw)) as StreamMessage, last !== undefined));
      // After the open, an error is followed by close (handled there); reject is then a no-op.
      ws.on('error', (e) => reject(e));
    });
  }

  private onMessage(m: StreamMessage, resuming: boolean): void {
    if (m.type === 'resnapshot') {
      this.resnapshots++;
      this.resnapshotAt.add(this.offsets.length);
    } else if (m.type === 'subscribed') {
      this.epoch = m.epoch;
      if (resuming && this.waitingSince !== undefined) this.resubscribed++;
      this.waitingSince = undefined;
    } else if (m.type === 'message' && m.topic === this.topic && typeof m.offset === 'number') {
      const last = this.offsets.at(-1);
      if (last !== undefined && m.offset <= last) this.outOfOrder++;
      else this.offsets.push(m.offset);
    }
  }

  private onClose(): void {
    if (this.closing) return;
    // One reconnect per disruption: a retry that closes again before `subscribed` is part of the same one.
    if (this.waitingSince === undefined) {
      this.reconnects++;
      this.waitingSince = Date.now();
    }
    const retry = (attempt: number) => {
      if (this.closing) return;
      if (Date.now() - (this.waitingSince ?? Date.now()) > 15_000) {
        this.lost = true;
        return;
      }
      // Spread the reconnects of a closed gateway's clients a little, as real clients do.
      setTimeout(
        () => {
          if (!this.closing) this.open().catch(() => retry(attempt + 1));
        },
        Math.min(1_000, 50 * 2 ** attempt) * (0.5 + Math.random()),
      );
    };
    retry(0);
  }

  close(): void {
    this.closing = true;
    this.ws?.terminate();
  }
}

/** What the stream clients saw over a phase, or a whole run. */
export interface StreamReport {
  clients: number;
  reconnects: number;
  /** Reconnects that resumed from their offset: every missed message replayed, no resnapshot. */
  resumed: number;
  resnapshots: number;
  /** Clients that lost messages without a resnapshot, got one out of order, or never got back. */
  lost: number;
  /** Messages received, all clients. */
  messages: number;
}

/** Many {@link StreamClient}s on one topic. */
export class StreamClients {
  private readonly clients: StreamClient[] = [];

  /**
   * Opens `count` clients (tokens round robin) one after the other and waits until each has received a message. A
   * client refused at its first open (a gateway shedding load answers the upgrade 503) tries again as after a close,
   * for at most 15 s. If one does not open, the ones already opened are closed before the error is thrown.
   */
  static async open(
    url: string,
    tokens: readonly string[],
    count: number,
    topic: string,
    ca: string,
  ): Promise<StreamClients> {
    const set = new StreamClients();
    try {
      for (let i = 0; i < count; i++) {
        const c = new StreamClient(url, tokens[i % tokens.length] as string, topic, ca);
        set.clients.push(c);
        const since = Date.now();
        for (let attempt = 0; ; attempt++) {
          try {
            await c.open();
            break;
          } catch (error) {
            if (Date.now() - since > 15_000) throw error;
            await new Promise((r) => setTimeout(r, Math.min(1_000, 50 * 2 ** attempt)));
          }
        }
      }
      await waitFor(() => set.clients.every((c) => c.offsets.length > 0), {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: `a message on ${topic} for each of ${count} stream clients`,
      });
    } catch (error) {
      set.close();
      throw error;
    }
    return set;
  }

  /** Waits until no client is between a close and its next `subscribed` (or is lost), at most `timeoutMs`. */
  async settled(timeoutMs = 20_000): Promise<void> {
    await waitFor(() => this.clients.every((c) => c.waitingSince === undefined || c.lost), {
      timeoutMs,
      intervalMs: 50,
      what: 'every stream client subscribed again',
    });
  }

  /**
   * Counters, and losses: a client lost messages when an offset some other client received lies between two
   * offsets it received in a row, with no resnapshot announced between them.
   */
  report(): StreamReport {
    const seen = [...new Set(this.clients.flatMap((c) => c.offsets))].sort((a, b) => a - b);
    let lost = 0;
    for (const c of this.clients) {
      let gap = false;
      let j = 0;
      for (let i = 1; i < c.offsets.length && !gap; i++) {
        const [a, b] = [c.offsets[i - 1] as number, c.offsets[i] as number];
        if (c.resnapshotAt.has(i)) continue;
        while (j < seen.length && (seen[j] as number) <= a) j++;
        if (j < seen.length && (seen[j] as number) < b) gap = true;
      }
      if (gap || c.lost || c.outOfOrder > 0) lost++;
    }
    const sum = (f: (c: StreamClient) => number) => this.clients.reduce((s, c) => s + f(c), 0);
    return {
      clients: this.clients.length,
      reconnects: sum((c) => c.reconnects),
      resumed: sum((c) => c.resubscribed) - sum((c) => c.resnapshots),
      resnapshots: sum((c) => c.resnapshots),
      lost,
      messages: sum((c) => c.offsets.length),
    };
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}

// Unpaced and for a fixed time: what a target can answer at all. Counts answers by class; wrk's own summary gives
// the duration and the latency.
const WRK_CAPACITY_SCRIPT = `
local tokens = {}
for t in string.gmatch(os.getenv("WRK_TOKENS"), "[^,]+") do tokens[#tokens + 1] = t end
local close = os.getenv("WRK_CLOSE") == "1"
local threads = {}
n, ok = 0, 0

function setup(thread)
  threads[#threads + 1] = thread
end

function request()
  n = n + 1
  local h = { ["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1] }
  if close then h["Connection"] = "close" end
  return wrk.format("GET", nil, h)
end

function response(status, headers, body)
  if status >= 200 and status <= 299 then ok = ok + 1 end
end

function done(summary, latency, requests)
  local good = 0
  for _, t in ipairs(threads) do good = good + t:get("ok") end
  local e = summary.errors
  io.write(string.format("WRK_CAPACITY %d %d %d %d %d %d %d %d\\n", summary.requests, good, summary.duration,
    latency:percentile(99), e.connect, e.read, e.write, e.timeout))
end
`;

/** Options of {@link measureCapacity}. */
export interface CapacityOptions {
  url: string;
  tokens: readonly string[];
  /** Working directory for the script. */
  dir: string;
  connections: number;
  threads: number;
  seconds: number;
  /** Reuse connections (HTTP keep-alive) or open one per request (`Connection: close`). */
  keepAlive: boolean;
}

/** What an unpaced wrk run for a fixed time measured. */
export interface CapacityResult {
  requests: number;
  /** 2xx answers. */
  ok: number;
  requestsPerSecond: number;
  p99Ms: number;
  socketErrors: number;
}

/** Runs wrk unpaced against `url` for `seconds`: the rate the target sustains on this machine right now. */
export async function measureCapacity(options: CapacityOptions): Promise<CapacityResult> {
  const { child, output } = spawnWrk(
    options,
    { name: 'capacity.lua', text: WRK_CAPACITY_SCRIPT },
    `${options.seconds}s`,
    {
      WRK_TOKENS: options.tokens.join(','),
      WRK_CLOSE: options.keepAlive ? '0' : '1',
    },
  );
  try {
    await exited(child, (options.seconds + timeoutSec + 10) * 1000);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited(child, 5_000);
    }
  }
  const m = /WRK_CAPACITY ((?:\d+ ?){8})/.exec(output());
  if (m === null) throw new Error(`wrk printed no result:\n${output()}`);
  const n = (m[1] as string).trim().split(' ').map(Number);
  const at = (i: number) => n[i] as number;
  return {
    requests: at(0),
    ok: at(1),
    requestsPerSecond: at(1) / (at(2) / 1e6),
    p99Ms: at(3) / 1000,
    socketErrors: at(4) + at(5) + at(6) + at(7),
  };
}
