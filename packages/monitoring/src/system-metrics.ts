import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import type { Registry } from 'prom-client';
import { FastCounter } from './internal/fast-counter.js';
import { FastGauge } from './internal/fast-gauge.js';
import type { FastChild, FastMetric } from './internal/fast-metric.js';

/** @internal What {@link registerSystemMetrics} needs. */
export interface SystemMetricsSetup {
  registry: Registry;
  prefix: string;
  filesystems: string[];
  network: boolean;
}

/** Sums of `os.cpus()` times. */
function cpuTotals(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    const t = cpu.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

/** One interface line of `/proc/net/dev`. */
export interface NetDevice {
  device: string;
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDropped: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDropped: number;
}

/** Parses the text of `/proc/net/dev`. */
export function parseProcNetDev(text: string): NetDevice[] {
  const out: NetDevice[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const device = line.slice(0, colon).trim();
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    if (device === '' || f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out.push({
      device,
      rxBytes: f[0] as number,
      rxPackets: f[1] as number,
      rxErrors: f[2] as number,
      rxDropped: f[3] as number,
      txBytes: f[8] as number,
      txPackets: f[9] as number,
      txErrors: f[10] as number,
      txDropped: f[11] as number,
    });
  }
  return out;
}

/**
 * Registers process and system metrics, read at scrape time (names after the OpenTelemetry
 * system/process semantic conventions): CPU utilization and load, memory, filesystems (fs.statfs)
 * and network (/proc/net/dev, Linux). Returns the metrics so they can be unregistered.
 */
export function registerSystemMetrics(setup: SystemMetricsSetup): FastMetric<FastChild>[] {
  const p = setup.prefix;
  const metrics: FastMetric<FastChild>[] = [];
  const add = <M extends FastMetric<FastChild>>(m: M): M => {
    m.register(setup.registry);
    metrics.push(m);
    return m;
  };

  const cpuUtil = add(
    new FastGauge(
      `${p}system_cpu_utilization_ratio`,
      'Share of CPU time not idle since the previous scrape (all CPUs).',
      [],
    ),
  );
  const cpuCount = add(new FastGauge(`${p}system_cpu_logical_cpus`, 'Logical CPUs.', []));
  const load1 = add(new FastGauge(`${p}system_cpu_load_average_1m`, 'Load average over 1 minute.', []));
  const load5 = add(new FastGauge(`${p}system_cpu_load_average_5m`, 'Load average over 5 minutes.', []));
  const load15 = add(new FastGauge(`${p}system_cpu_load_average_15m`, 'Load average over 15 minutes.', []));
  let prevCpu = { idle: 0, total: 0 };
  const cpuChild = cpuUtil.labels();
  cpuUtil.collect = () => {
    const now = cpuTotals();
    const dTotal = now.total - prevCpu.total;
    if (dTotal > 0) cpuChild.set(1 - (now.idle - prevCpu.idle) / dTotal);
    prevCpu = now;
    cpuCount.labels().set(os.availableParallelism());
    const [a = 0, b = 0, c = 0] = os.loadavg();
    load1.labels().set(a);
    load5.labels().set(b);
    load15.labels().set(c);
  };

  const mem = add(new FastGauge(`${p}system_memory_usage_bytes`, 'System memory in use and free.', ['state']));
  const memLimit = add(new FastGauge(`${p}system_memory_limit_bytes`, 'Total system memory.', []));
  const memUsed = mem.labels('used');
  const memFree = mem.labels('free');
  mem.collect = () => {
    const total = os.totalmem();
    const free = os.freemem();
    memUsed.set(total - free);
    memFree.set(free);
    memLimit.labels().set(total);
  };

  const procCpu = add(
    new FastGauge(
      `${p}process_cpu_utilization_ratio`,
      'Process CPU time since the previous scrape over wall time and CPUs.',
      [],
    ),
  );
  const procMem = add(new FastGauge(`${p}process_memory_usage_bytes`, 'Process resident set size.', []));
  let prevUsage = process.cpuUsage();
  let prevWall = performance.now();
  procCpu.collect = () => {
    const usage = process.cpuUsage();
    const wall = performance.now();
    const cpuMicros = usage.user - prevUsage.user + (usage.system - prevUsage.system);
    const wallMicros = (wall - prevWall) * 1000;
    if (wallMicros > 0) procCpu.labels().set(cpuMicros / wallMicros / os.availableParallelism());
    prevUsage = usage;
    prevWall = wall;
    procMem.labels().set(process.memoryUsage.rss());
  };

  if (setup.filesystems.length > 0) {
    const fsUsage = add(
      new FastGauge(`${p}system_filesystem_usage_bytes`, 'Filesystem space by state (fs.statfs).', [
        'mountpoint',
        'state',
      ]),
    );
    const fsLimit = add(
      new FastGauge(`${p}system_filesystem_limit_bytes`, 'Filesystem size (fs.statfs).', ['mountpoint']),
    );
    fsUsage.collect = async () => {
      await Promise.all(
        setup.filesystems.map(async (path) => {
          try {
            const s = await statfs(path);
            const bsize = Number(s.bsize);
            const blocks = Number(s.blocks);
            const bfree = Number(s.bfree);
            const bavail = Number(s.bavail);
            fsUsage.labels(path, 'used').set((blocks - bfree) * bsize);
            fsUsage.labels(path, 'free').set(bavail * bsize);
            fsUsage.labels(path, 'reserved').set((bfree - bavail) * bsize);
            fsLimit.labels(path).set(blocks * bsize);
          } catch {
            // A path that disappeared stops being reported rather than failing the scrape.
            for (const state of ['used', 'free', 'reserved']) fsUsage.remove(path, state);
            fsLimit.remove(path);
          }
        }),
      );
    };
  }

  if (setup.network) {
    const io = add(
      new FastCounter(`${p}system_network_io_bytes_total`, 'Network bytes by device and direction (/proc/net/dev).', [
        'device',
        'direction',
      ]),
    );
    const packets = add(
      new FastCounter(`${p}system_network_packets_total`, 'Network packets (/proc/net/dev).', ['device', 'direction']),
    );
    const errors = add(
      new FastCounter(`${p}system_network_errors_total`, 'Network errors (/proc/net/dev).', ['device', 'direction']),
    );
    const dropped = add(
      new FastCounter(`${p}system_network_dropped_total`, 'Dropped packets (/proc/net/dev).', ['device', 'direction']),
    );
    let present = true;
    io.collect = async () => {
      if (!present) return;
      let text: string;
      try {
        text = await readFile('/proc/net/dev', 'utf8');
      } catch {
        present = false; // not Linux: no network metrics, no repeated failures
        return;
      }
      for (const d of parseProcNetDev(text)) {
        // Counters mirror the kernel's totals: set the value rather than add.
        io.labels(d.device, 'receive').value = d.rxBytes;
        io.labels(d.device, 'transmit').value = d.txBytes;
        packets.labels(d.device, 'receive').value = d.rxPackets;
        packets.labels(d.device, 'transmit').value = d.txPackets;
        errors.labels(d.device, 'receive').value = d.rxErrors;
        errors.labels(d.device, 'transmit').value = d.txErrors;
        dropped.labels(d.device, 'receive').value = d.rxDropped;
        dropped.labels(d.device, 'transmit').value = d.txDropped;
      }
    };
  }
  return metrics;
}
