export {
  BENCH_RESULT_PREFIX,
  type BenchFigure,
  type BenchReport,
  combineLoadRuns,
  type LoadFigures,
  measureThroughput,
  median,
  percentiles,
  reportBench,
  type ThroughputOptions,
  type ThroughputResult,
} from './bench.js';
export { freePort } from './free-port.js';
export {
  type PostgresCluster,
  type PostgresClusterOptions,
  postgresBinDir,
  startPostgresCluster,
} from './pg-cluster.js';
export { exited, spawnServer } from './process.js';
export {
  type RedisClusterServers,
  type RedisServer,
  type RedisServerOptions,
  startRedisCluster,
  startRedisServer,
} from './redis-server.js';
export { reachable, serviceUrls, systemProgramTestRuns, waitFor } from './services.js';
export { uniqueName } from './unique.js';
