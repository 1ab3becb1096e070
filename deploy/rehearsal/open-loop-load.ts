import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type ClientRequest, Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { exited } from '@cryptoscalp/testkit';

/**
 * What an open-loop run measured. `failed` counts requests with an answer other than 2xx, a timeout, or a connection
 * error that was not retried (or still failed after the retries), plus those still unanswered when the run ended.
 */
export interface LoadResult {
  /** Requests sent (each counted once, however many attempts it took). */
  sent: number;
  /** Requests with a complete answer, whatever its status. */
  answered: number;
  non2xx: number;
  failed: number;
  /**
   * Attempts repeated as HTTP clients do for an idempotent request: the server closed a reused kept-alive connection
   * before any byte of the answer arrived. Not failures, but shown.
   */
  retried: number;
  /**
   * Seconds from the first scheduled send to the last answer (or the stop, if later): a server slower than the rate
   * stretches it, so {@link requestsPerSecond} is what was served, not what was sent.
   */
  seconds: number;
  /** Answered requests per second of {@link seconds}. */
  requestsPerSecond: number;
  /** CPU the generator itself used from its start to its result, ms (without its process start); wrk: absent. */
  generatorCpuMs?: number;
  /** 99th percentile, ms, measured from each request's scheduled send time (coordinated omission stays visible). */
  p99Ms: number;
  /**
   * The longest latency, ms, of the answered requests scheduled in each second of the run (index 0: the first
   * second), so a stall can be placed in time; open-loop only.
   */
  maxMsBySecond?: number[];
  /** Failures that had no HTTP answer: `connect` (refused before a connection), `read` (closed or reset), `write`, `timeout`. */
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  /** Answers by status among the non-2xx ones that a proxy or an overloaded gateway gives. */
  statuses: { 429: number; 502: number; 503: number; 504: number };
  /**
   * Failures without an answer by kind: Node's error code, whether the connection was `fresh` or `reused`, and
   * `after response` when the answer was cut short (open-loop only).
   */
  errors?: Record<string, number>;
}

/** Options of {@link OpenLoopLoad}. */
export interface OpenLoopOptions {
  /** `http:` or `https:` URL of the GET. */
  url: string;
  /** Bearer tokens, round robin. */
  tokens: readonly string[];
  /** Requests per second, scheduled at fixed intervals whatever the answers do. @default 1000 */
  ratePerSecond?: number;
  /** Connections at most (the agent's `maxSockets`); requests beyond them wait for a free one. @default 64 */
  connections?: number;
  /** A request without a complete answer this long after its first send fails as a timeout. @default 10000 */
  timeoutMs?: number;
  /** Attempts repeated on a reused connection closed before any byte of the answer. @default 2 */
  maxRetries?: number;
  /** PEM of the CA to trust for `https:` (the rehearsal's self-signed certificate). */
  ca?: string;
}

/** Node's errors for a connection the peer closed or reset under a request: `socket hang up` has code ECONNRESET. */
const CLOSED_UNDER_REQUEST = new Set(['ECONNRESET', 'EPIPE']);

/** The requests scheduled between two marks of an {@link OpenLoopLoad}, and what became of them. */
interface Window {
  /** Scheduled time of its first request. */
  t0: number;
  /** When it was ended (mark or stop); 0 while open. */
  endAt: number;
  lastAnswerAt: number;
  cpuAtStart: NodeJS.CpuUsage;
  scheduled: number;
  inFlight: number;
  latencies: Float64Array;
  maxBySecond: number[];
  counts: {
    answered: number;
    non2xx: number;
    retried: number;
    failedNoAnswer: number;
    socket: { connect: number; read: number; write: number; timeout: number };
    statuses: { 429: number; 502: number; 503: number; 504: number };
    errors: Record<string, number>;
  };
  /** Called when its last request in flight settles, once it has ended. */
  idle: (() => void) | undefined;
}

const newWindow = (t0: number): Window => ({
  t0,
  endAt: 0,
  lastAnswerAt: 0,
  cpuAtStart: process.cpuUsage(),
  scheduled: 0,
  inFlight: 0,
  latencies: new Float64Array(1024),
  maxBySecond: [],
  counts: {
    answered: 0,
    non2xx: 0,
    retried: 0,
    failedNoAnswer: 0,
    socket: { connect: 0, read: 0, write: 0, timeout: 0 },
    statuses: { 429: 0, 502: 0, 503: 0, 504: 0 },
    errors: {},
  },
  idle: undefined,
});

/** Sorted-array percentile. */
function percentile(values: Float64Array, p: number): number {
  if (values.length === 0) return 0;
  const sorted = values.slice().sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/**
 * An open-loop HTTP load generator on Node's `http`/`https` with a kept-alive agent: it sends a GET every
 * 1/rate seconds from {@link start} to {@link stop}, whether earlier ones were answered or not, and measures each
 * request's latency from the time it was scheduled. A request lost because the server closed a reused connection
 * before answering (a reloading nginx closing its idle kept-alive connections, as it does) is sent again, on a new
 * connection, as browsers and HTTP libraries do for idempotent requests; a fresh connection's failure is not retried.
 */
export class OpenLoopLoad {
  private readonly rate: number;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly agent: HttpAgent;
  /**
   * Retries go on a new connection of their own: after a reload nginx closes every idle kept-alive connection at
   * once, and a retry on another pooled one may meet the same fate (a run lost a request after three such attempts).
   */
  private readonly freshAgent: HttpAgent;
  private readonly send: typeof httpRequest;
  private readonly url: URL;
  /**
   * Sockets that have carried a request. Node sets `req.reusedSocket` only when a request finds a free socket at
   * once, not when it waited for one in the agent's queue (the usual case at a fixed rate): this tells both apart.
   */
  private readonly used = new WeakSet<Socket>();
  private timer: NodeJS.Timeout | undefined;
  private t0 = 0;
  private scheduled = 0;
  /** The window requests are counted in now ({@link mark} starts a new one). */
  private window: Window = newWindow(0);

  constructor(private readonly options: OpenLoopOptions) {
    this.url = new URL(options.url);
    if (this.url.protocol !== 'http:' && this.url.protocol !== 'https:')
      throw new TypeError(`url: http: or https: expected, got ${options.url}`);
    if (options.tokens.length === 0) throw new TypeError('tokens: at least one');
    this.rate = options.ratePerSecond ?? 1000;
    if (!(this.rate > 0)) throw new RangeError(`ratePerSecond: a positive number, got ${this.rate}`);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxRetries = options.maxRetries ?? 2;
    const agentOptions = { keepAlive: true, maxSockets: options.connections ?? 64 };
    const https = this.url.protocol === 'https:';
    // One TLS context for every connection (parsing the CA per connection costs milliseconds of CPU each).
    const secureContext = https ? createSecureContext({ ca: options.ca }) : undefined;
    this.agent = https ? new HttpsAgent({ ...agentOptions, secureContext }) : new HttpAgent(agentOptions);
    this.freshAgent = https ? new HttpsAgent({ keepAlive: false, secureContext }) : new HttpAgent({ keepAlive: false });
    this.send = https ? httpsRequest : httpRequest;
  }

  /** Starts sending at the fixed rate. */
  start(): void {
    this.t0 = performance.now();
    this.window = newWindow(this.t0);
    this.tick();
    this.timer = setInterval(() => this.tick(), Math.max(1, Math.min(10, 1000 / this.rate)));
  }

  /**
   * Sends all that is due by now: a late tick (a busy event loop) sends the missed requests at once, each still timed
   * from its own scheduled moment.
   */
  private tick(): void {
    const due = Math.floor(((performance.now() - this.t0) * this.rate) / 1000) + 1;
    while (this.scheduled < due) this.request(this.t0 + (this.scheduled++ * 1000) / this.rate);
  }

  private request(scheduledAt: number): void {
    // Counted in the window it was scheduled in, whenever its answer comes.
    const w = this.window;
    w.scheduled++;
    w.inFlight++;
    const kind = (key: string) => {
      w.counts.errors[key] = (w.counts.errors[key] ?? 0) + 1;
    };
    const token = this.options.tokens[this.scheduled % this.options.tokens.length] as string;
    let settled = false;
    let current: ClientRequest | undefined;
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (ok) {
        if (w.counts.answered >= w.latencies.length) {
          const grown = new Float64Array(w.latencies.length * 2);
          grown.set(w.latencies);
          w.latencies = grown;
        }
        w.lastAnswerAt = performance.now();
        const latency = w.lastAnswerAt - scheduledAt;
        w.latencies[w.counts.answered++] = latency;
        const second = Math.floor((scheduledAt - w.t0) / 1000);
        w.maxBySecond[second] = Math.max(w.maxBySecond[second] ?? 0, latency);
      } else w.counts.failedNoAnswer++;
      if (--w.inFlight === 0) w.idle?.();
    };
    const deadline = setTimeout(() => {
      if (settled) return;
      w.counts.socket.timeout++;
      current?.destroy();
      finish(false);
    }, this.timeoutMs);
    const attempt = (retriesLeft: number) => {
      let responded = false;
      let reused = false;
      const req = this.send(this.url, {
        agent: retriesLeft === this.maxRetries ? this.agent : this.freshAgent,
        headers: { authorization: `Bearer ${token}` },
      });
      current = req;
      req.on('socket', (socket: Socket) => {
        reused = this.used.has(socket);
        this.used.add(socket);
      });
      req.on('response', (res: IncomingMessage) => {
        responded = true;
        const status = res.statusCode ?? 0;
        res.on('error', () => {}); // an answer cut short ends in 'aborted' below
        res.on('aborted', () => {
          if (settled) return;
          w.counts.socket.read++;
          kind(`aborted ${reused ? 'reused' : 'fresh'} after response`);
          finish(false);
        });
        res.on('end', () => {
          if (settled) return;
          if (status < 200 || status > 299) {
            w.counts.non2xx++;
            if (status in w.counts.statuses) w.counts.statuses[status as 429 | 502 | 503 | 504]++;
          }
          finish(true);
        });
        res.resume();
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (settled || responded) {
          if (!settled) {
            w.counts.socket.read++;
            kind(`${error.code ?? error.message} ${reused ? 'reused' : 'fresh'} after response`);
            finish(false);
          }
          return;
        }
        // What Node's docs call retrying "requests on reused sockets": the server closed a kept-alive connection
        // that this request had just been written on, before any byte of the answer; the request was not processed.
        if ((reused || req.reusedSocket) && CLOSED_UNDER_REQUEST.has(error.code ?? '') && retriesLeft > 0) {
          w.counts.retried++;
          attempt(retriesLeft - 1);
          return;
        }
        const code = error.code ?? '';
        kind(`${code || error.message} ${reused || req.reusedSocket ? 'reused' : 'fresh'}`);
        if (code === 'ECONNREFUSED' || code === 'ENOTFOUND') w.counts.socket.connect++;
        else if (code === 'EPIPE') w.counts.socket.write++;
        else w.counts.socket.read++;
        finish(false);
      });
      req.end();
    };
    attempt(this.maxRetries);
  }

  /**
   * Ends the current measurement window without pausing the load: what is due is sent and counted in it, the next
   * request opens a new window, and the result of the ended one comes once each of its requests has its answer (or
   * failed: at most the timeout). A run then measures phases back to back on the same connections, with no
   * generator start and no new connections between them.
   */
  mark(): Promise<LoadResult> {
    this.tick();
    const ended = this.window;
    ended.endAt = performance.now();
    this.window = newWindow(this.t0 + (this.scheduled * 1000) / this.rate);
    return this.result(ended);
  }

  /**
   * Stops sending, waits until every request sent has its answer (or failed: at most the timeout), and returns the
   * result of the current window; a request still unanswered then counts as failed.
   */
  async stop(): Promise<LoadResult> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.window.endAt = performance.now();
    const result = await this.result(this.window);
    this.agent.destroy();
    this.freshAgent.destroy();
    return result;
  }

  private async result(w: Window): Promise<LoadResult> {
    if (w.inFlight > 0)
      await new Promise<void>((done) => {
        const guard = setTimeout(done, this.timeoutMs + 2_000);
        w.idle = () => {
          clearTimeout(guard);
          done();
        };
      });
    const seconds = (Math.max(w.endAt, w.lastAnswerAt) - w.t0) / 1000;
    const cpu = process.cpuUsage(w.cpuAtStart);
    const c = w.counts;
    const sent = w.scheduled;
    return {
      sent,
      answered: c.answered,
      non2xx: c.non2xx,
      failed: sent - c.answered + c.non2xx,
      retried: c.retried,
      seconds,
      requestsPerSecond: c.answered / Math.max(seconds, 1e-3),
      p99Ms: percentile(w.latencies.subarray(0, c.answered), 99),
      maxMsBySecond: Array.from(w.maxBySecond, (ms) => Math.round(ms ?? 0)),
      generatorCpuMs: (cpu.user + cpu.system) / 1000,
      socketErrors: { ...c.socket },
      statuses: { ...c.statuses },
      errors: { ...c.errors },
    };
  }
}

/** A running {@link OpenLoopLoad} in a child process of its own (so its CPU is metered apart from the rest). */
export interface LoadRun {
  readonly pid: number;
  /** Stops sending, lets the answers arrive (at most the timeout) and returns the result. */
  stop(): Promise<LoadResult>;
  /**
   * The result since the start or the previous mark while the load goes on ({@link OpenLoopLoad.mark}); absent where
   * the generator cannot measure windows (wrk).
   */
  mark?(): Promise<LoadResult>;
  /** Kills the generator by its PID (cleanup). */
  kill(): Promise<void>;
}

type ChildMessage = { type: 'ready' } | { type: 'result'; result: LoadResult } | { type: 'error'; message: string };

const thisFile = fileURLToPath(import.meta.url);

/**
 * Starts an {@link OpenLoopLoad} in a child Node process (TypeScript through tsx) and resolves once it sends;
 * `caFile` is read there. The child ends after its result or when this process goes away (IPC closed).
 */
export async function startOpenLoopLoad(options: Omit<OpenLoopOptions, 'ca'> & { caFile?: string }): Promise<LoadRun> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', thisFile], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { PATH: process.env.PATH ?? '', OPEN_LOOP_OPTIONS: JSON.stringify(options) },
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-16_384);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (error) => keep(Buffer.from(`\n[load generator] ${error.message}`)));
  const message = (type: ChildMessage['type']) =>
    new Promise<ChildMessage>((resolveMessage, reject) => {
      const onMessage = (m: ChildMessage) => {
        if (m.type !== type && m.type !== 'error') return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (m.type === 'error') reject(new Error(`load generator: ${m.message}\n${output}`));
        else resolveMessage(m);
      };
      const onExit = (code: number | null) => {
        child.off('message', onMessage);
        reject(new Error(`load generator exited (${code}) before '${type}':\n${output}`));
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exited(child, 5_000);
  };
  try {
    await message('ready');
  } catch (error) {
    await kill();
    throw error;
  }
  return {
    pid: child.pid as number,
    kill,
    async mark() {
      const result = message('result');
      if (child.connected) child.send('mark', () => {});
      return ((await result) as Extract<ChildMessage, { type: 'result' }>).result;
    },
    async stop() {
      const result = message('result');
      // A child already gone (killed on abort) rejects `result` through its exit, not through an unhandled error.
      if (child.connected) child.send('stop', () => {});
      try {
        return ((await result) as Extract<ChildMessage, { type: 'result' }>).result;
      } finally {
        await exited(child, 5_000).catch(kill);
      }
    },
  };
}

// The child: OPEN_LOOP_OPTIONS holds the options (JSON); 'stop' over IPC ends the run and sends the result back.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === thisFile && process.send !== undefined) {
  const reply = (m: ChildMessage) => process.send?.(m);
  try {
    const { caFile, ...options } = JSON.parse(process.env.OPEN_LOOP_OPTIONS ?? '{}') as OpenLoopOptions & {
      caFile?: string;
    };
    const load = new OpenLoopLoad({ ...options, ...(caFile ? { ca: readFileSync(caFile, 'utf8') } : {}) });
    load.start();
    reply({ type: 'ready' });
    process.on('message', async (m) => {
      if (m === 'mark') {
        const result = await load.mark();
        process.send?.({ type: 'result', result } satisfies ChildMessage);
        return;
      }
      if (m !== 'stop') return;
      const result = await load.stop();
      process.send?.({ type: 'result', result } satisfies ChildMessage, () => process.disconnect());
    });
    // The parent went away without a stop: end with it.
    process.on('disconnect', () => process.exit(0));
  } catch (error) {
    process.send?.({ type: 'error', message: (error as Error).message } satisfies ChildMessage, () =>
      process.disconnect(),
    );
  }
}
