import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, systemProgramTestRuns, waitFor } from '@cryptoscalp/testkit';

/**
 * Whether the ClickHouse tests run: when a `clickhouse-server` binary is installed (Debian's package), and always
 * in CI, where .ci/run installs it and a missing binary fails the tests. A contributor without it skips them.
 */
export function clickhouseInstalled(): boolean {
  return systemProgramTestRuns('clickhouse-server');
}

/** A disposable clickhouse-server on free loopback ports in a temp dir. */
export async function startClickHouse(): Promise<{
  url: string;
  port: number;
  stop: () => Promise<void>;
  kill: () => void;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'cs-ch-'));
  const http = await freePort();
  const tcp = await freePort();
  await writeFile(
    join(dir, 'config.xml'),
    `<?xml version="1.0"?><yandex><logger><level>warning</level><console>1</console></logger>
<http_port>${http}</http_port><tcp_port>${tcp}</tcp_port><listen_host>127.0.0.1</listen_host>
<path>${dir}/data/</path><tmp_path>${dir}/tmp/</tmp_path><user_files_path>${dir}/uf/</user_files_path>
<format_schema_path>${dir}/fs/</format_schema_path><users_config>users.xml</users_config>
<default_profile>default</default_profile><default_database>default</default_database><mark_cache_size>5368709</mark_cache_size></yandex>`,
  );
  await writeFile(
    join(dir, 'users.xml'),
    `<?xml version="1.0"?><yandex><profiles><default></default></profiles><users><default><password></password>
<networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></default></users><quotas><default></default></quotas></yandex>`,
  );
  const child: ChildProcess = spawn('clickhouse-server', [`--config-file=${join(dir, 'config.xml')}`], {
    cwd: dir,
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${http}`;
  await waitFor(
    async () => {
      const r = await fetch(`${url}/?query=select%201`);
      return r.ok;
    },
    { timeoutMs: 30_000, intervalMs: 100, what: 'clickhouse-server' },
  );
  const kill = () => {
    child.kill('SIGKILL');
  };
  return {
    url,
    port: http,
    kill,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
