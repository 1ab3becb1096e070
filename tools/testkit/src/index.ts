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
export {
  runTestssl,
  SELF_SIGNED_CERT_FINDINGS,
  TESTSSL_FULL_CHECKS,
  TESTSSL_POLICY_CHECKS,
  type TestsslFinding,
  type TestsslReport,
  testsslFinding,
} from './testssl.js';
export { type CertFiles, makeTestCa, selfSignedCert, type TestCa } from './tls-certs.js';
export { uniqueName } from './unique.js';
