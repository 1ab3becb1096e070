import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig, loadSecrets } from '../../apps/trader/src/config/index.js';

// The Kubernetes manifests (deploy/k8s): every overlay rendered by the real `kubectl kustomize`, every object checked
// against the Kubernetes (and Prometheus Operator) schemas of the kubernetes-models packages, and the deployment
// policy asserted for every workload of every overlay.

const k8sDir = fileURLToPath(new URL('../k8s/', import.meta.url));
const rulesDir = fileURLToPath(new URL('../observability/prometheus/rules/', import.meta.url));
const overlays = ['dev', 'staging', 'prod'] as const;
/** Secrets an operator creates in the cluster (never in the repository); the dev overlay generates its own. */
const clusterSecrets = new Set(['trader-secrets', 'trader-metrics-token', 'trader-tls']);
/** Seconds a pod needs after the readiness delay to drain HTTP, close streams and flush (engine: cancel orders too). */
const drainBudgetSec = 10;

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are untyped YAML; each check names what it reads.
type Obj = Record<string, any>;

const tmp = mkdtempSync(join(tmpdir(), 'k8s-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function render(dir: string): Obj[] {
  const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  return parseAllDocuments(out).map((d) => d.toJS() as Obj);
}

const rendered = new Map(overlays.map((o) => [o, render(join(k8sDir, 'overlays', o))]));
const of = (overlay: (typeof overlays)[number], kind: string): Obj[] =>
  (rendered.get(overlay) ?? []).filter((o) => o.kind === kind);

/** The kubernetes-models module of an apiVersion: `apps/v1` -> `kubernetes-models/apps/v1`, CRDs from their package. */
function modelModule(apiVersion: string): string {
  if (apiVersion.startsWith('monitoring.coreos.com/')) return `@kubernetes-models/prometheus-operator/${apiVersion}`;
  return `kubernetes-models/${apiVersion}`;
}

async function validate(obj: Obj): Promise<void> {
  const mod = (await import(modelModule(obj.apiVersion))) as Record<string, new (data: Obj) => { validate(): void }>;
  const Model = mod[obj.kind];
  if (Model === undefined) throw new Error(`no model for ${obj.apiVersion} ${obj.kind}`);
  // kustomize folds long base64 values over lines; the API server's decoder (Go's base64) skips the newlines.
  const data = obj.kind === 'Secret' ? { data: unfold(obj.data) } : {};
  new Model({ ...obj, ...data }).validate();
}

const unfold = (data: Obj | undefined): Obj | undefined =>
  data === undefined
    ? undefined
    : Object.fromEntries(Object.entries(data).map(([k, v]) => [k, String(v).replace(/\n/g, '')]));

const selects = (selector: Obj | undefined, labels: Obj): boolean =>
  selector?.matchLabels !== undefined &&
  Object.entries(selector.matchLabels as Obj).every(([k, v]) => labels[k] === v) &&
  (selector.matchExpressions ?? []).length === 0;

/** Kubernetes quantities, enough for cpu and memory: `250m`, `1`, `384Mi`, `1Gi`. */
function quantity(q: string | number): number {
  const m = /^([0-9.]+)(m|Ki|Mi|Gi|Ti)?$/.exec(String(q));
  if (m === null) throw new Error(`unsupported quantity ${q}`);
  const scale = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * scale;
}

const workloadsOf = (overlay: (typeof overlays)[number]) => [
  ...of(overlay, 'Deployment'),
  ...of(overlay, 'StatefulSet'),
];

/** The trader's configuration as a workload's container sees it, loaded by the trader's own loader. */
function traderConfigOf(overlay: (typeof overlays)[number], pod: Obj, container: Obj) {
  const byName = (kind: string, name: string) => of(overlay, kind).find((o) => o.metadata.name === name);
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) Object.assign(env, byName('ConfigMap', from.configMapRef.name)?.data);
  // Secret values are placeholders of the right shape: what matters is that every name is one the trader knows.
  const placeholders: Record<string, string> = {
    DATABASE_URL: 'postgres://trader@db:5432/trader',
    REDIS_URL: 'redis://redis:6379',
    TRADER_JWT_SECRET: randomBytes(32).toString('hex'),
    TRADER_METRICS_TOKEN: randomBytes(32).toString('hex'),
  };
  for (const e of container.env ?? []) {
    // The image's entrypoint (deploy/image/entrypoint.mjs) turns NAME_FILE into NAME before the trader starts;
    // the value is the rendered Secret's (dev), else a placeholder of the right shape.
    if (e.name.endsWith('_FILE'))
      env[e.name.slice(0, -'_FILE'.length)] =
        secretFileValue(overlay, pod, container, e.value) ?? placeholders[e.name.slice(0, -5)] ?? 'x';
    else if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef !== undefined) env[e.name] = placeholders[e.name] ?? 'x';
  }
  const mount = (container.volumeMounts as Obj[]).find((m) => env.TRADER_CONFIG?.startsWith(`${m.mountPath}/`));
  const volume = (pod.volumes as Obj[]).find((v) => v.name === mount?.name);
  const configMap = byName('ConfigMap', volume?.configMap?.name);
  const file = env.TRADER_CONFIG?.slice((mount?.mountPath.length ?? 0) + 1) ?? '';
  const path = join(tmp, `${overlay}-${file}`);
  writeFileSync(path, configMap?.data?.[file] ?? '');
  const { TRADER_CONFIG: _mounted, ...rest } = env;
  const config = loadConfig({ env: rest, argv: container.args, file: path });
  // What the trader checks next at startup: required and strong secrets.
  loadSecrets(rest, config);
  return config;
}

/** The content a rendered Secret volume gives `path` (dev generates its Secrets), undefined when not rendered. */
function secretFileValue(
  overlay: (typeof overlays)[number],
  pod: Obj,
  container: Obj,
  path: string,
): string | undefined {
  const mount = (container.volumeMounts as Obj[]).find((m) => path.startsWith(`${m.mountPath}/`));
  const volume = (pod.volumes as Obj[]).find((v) => v.name === mount?.name);
  const secret = of(overlay, 'Secret').find((x) => x.metadata.name === volume?.secret?.secretName);
  const file = path.slice((mount?.mountPath.length ?? 0) + 1);
  const key = (volume?.secret?.items as Obj[] | undefined)?.find((i) => i.path === file)?.key ?? file;
  const data = secret?.data?.[key];
  return data === undefined ? undefined : Buffer.from(String(data).replace(/\n/g, ''), 'base64').toString('utf8');
}

describe('kubernetes manifests (kubectl kustomize + kubernetes-models + policy)', () => {
  it('renders every overlay with the engine, the gateways and their companions', () => {
    for (const o of overlays) {
      const kinds = new Set((rendered.get(o) ?? []).map((x) => x.kind));
      for (const k of [
        'Namespace',
        'StatefulSet',
        'Deployment',
        'Service',
        'HorizontalPodAutoscaler',
        'Ingress',
        'PodDisruptionBudget',
        'NetworkPolicy',
        'ConfigMap',
        'ServiceMonitor',
        'PrometheusRule',
      ])
        expect(kinds, `${o} renders a ${k}`).toContain(k);
      for (const obj of rendered.get(o) ?? [])
        if (obj.kind !== 'Namespace')
          expect(obj.metadata.namespace, `${o} ${obj.kind}`).toBe(of(o, 'Namespace')[0]?.metadata.name);
    }
  });

  it('validates every object of every overlay against the schemas, and the validator rejects a broken one', async () => {
    for (const o of overlays) {
      for (const obj of rendered.get(o) ?? []) {
        await expect(validate(obj), `${o} ${obj.kind}/${obj.metadata?.name}`).resolves.toBeUndefined();
      }
    }
    const broken = structuredClone(of('prod', 'Deployment')[0] as Obj);
    broken.spec.template.spec.containers[0].resources.limits.cpu = { cores: 1 };
    await expect(validate(broken)).rejects.toThrow(/limits\/cpu/);
    const brokenRule = structuredClone(of('prod', 'PrometheusRule')[0] as Obj);
    brokenRule.spec.groups = [{ rules: [] }];
    await expect(validate(brokenRule)).rejects.toThrow(/name/);
  });

  for (const o of overlays) {
    describe(`policy: ${o}`, () => {
      it('every workload: non-root numeric user, read-only root, no capabilities, RuntimeDefault seccomp, no escalation', () => {
        const workloads = workloadsOf(o);
        expect(workloads.length).toBeGreaterThanOrEqual(2);
        for (const w of workloads) {
          const pod = w.spec.template.spec;
          const what = `${o} ${w.kind}/${w.metadata.name}`;
          expect(pod.securityContext?.runAsNonRoot, what).toBe(true);
          expect(Number.isInteger(pod.securityContext?.runAsUser) && pod.securityContext.runAsUser > 0, what).toBe(
            true,
          );
          expect(pod.securityContext?.seccompProfile?.type, what).toBe('RuntimeDefault');
          expect(pod.automountServiceAccountToken, what).toBe(false);
          // Service links would inject TRADER_<SERVICE>_PORT variables, which the trader refuses as unknown settings.
          expect(pod.enableServiceLinks, what).toBe(false);
          for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
            expect(c.securityContext?.allowPrivilegeEscalation, what).toBe(false);
            expect(c.securityContext?.readOnlyRootFilesystem, what).toBe(true);
            expect(c.securityContext?.runAsNonRoot, what).toBe(true);
            expect(c.securityContext?.capabilities?.drop, what).toContain('ALL');
            expect(c.securityContext?.capabilities?.add ?? [], what).toEqual([]);
            expect(c.securityContext?.privileged ?? false, what).toBe(false);
          }
        }
      });

      it('every container: startup, liveness and readiness probes on the health endpoints, requests within limits, a pinned image', () => {
        const tags = new Set<string>();
        for (const w of workloadsOf(o)) {
          for (const c of w.spec.template.spec.containers) {
            const what = `${o} ${w.metadata.name}/${c.name}`;
            const ports = new Set((c.ports as Obj[]).map((p) => p.name));
            for (const [probe, path] of [
              ['startupProbe', '/health/startup'],
              ['livenessProbe', '/health/liveness'],
              ['readinessProbe', '/health/readiness'],
            ] as const) {
              expect(c[probe]?.httpGet?.path, `${what} ${probe}`).toBe(path);
              expect(ports, `${what} ${probe} port`).toContain(c[probe].httpGet.port);
            }
            // Liveness must give up later than readiness: a slow pod leaves the rotation long before it is killed.
            const tolerance = (p: Obj) => (p.periodSeconds ?? 10) * (p.failureThreshold ?? 3);
            expect(tolerance(c.livenessProbe), what).toBeGreaterThan(tolerance(c.readinessProbe));
            for (const r of ['cpu', 'memory']) {
              const req = c.resources?.requests?.[r];
              const lim = c.resources?.limits?.[r];
              expect(req, `${what} requests.${r}`).toBeDefined();
              expect(lim, `${what} limits.${r}`).toBeDefined();
              expect(quantity(req), `${what} ${r} request <= limit`).toBeLessThanOrEqual(quantity(lim));
            }
            const m = /^cryptoscalp\/trader:([A-Za-z0-9._-]+)$/.exec(c.image);
            expect(m, `${what} image ${c.image}`).not.toBeNull();
            expect(m?.[1]).not.toBe('latest');
            tags.add(m?.[1] as string);
          }
        }
        expect(tags.size, `${o}: one image tag for every role`).toBe(1);
      });

      it('every workload: a PodDisruptionBudget, topology spread, preStop equal to the shutdown delay, grace period above both', () => {
        for (const w of workloadsOf(o)) {
          const pod = w.spec.template.spec;
          const labels = w.spec.template.metadata.labels;
          const what = `${o} ${w.kind}/${w.metadata.name}`;
          expect(selects(w.spec.selector, labels), `${what} selector matches its pods`).toBe(true);
          const pdbs = of(o, 'PodDisruptionBudget').filter((p) => selects(p.spec.selector, labels));
          expect(pdbs.length, `${what} PDB`).toBe(1);
          expect(pod.topologySpreadConstraints?.length, `${what} topology spread`).toBeGreaterThan(0);
          for (const t of pod.topologySpreadConstraints) expect(selects(t.labelSelector, labels), what).toBe(true);
          const c = pod.containers[0];
          const config = traderConfigOf(o, pod, c);
          const preStopSec = c.lifecycle?.preStop?.sleep?.seconds;
          expect(preStopSec * 1000, `${what} preStop vs http.shutdownDelayMs`).toBe(config.http.shutdownDelayMs);
          expect(pod.terminationGracePeriodSeconds, what).toBeGreaterThanOrEqual(
            preStopSec + config.http.shutdownDelayMs / 1000 + drainBudgetSec,
          );
          // Probes reach the pod IP: the server must not listen on loopback only.
          expect(config.http.host, what).toBe('0.0.0.0');
          // Behind the Ingress every client has a controller's address: the Ingress limits per client instead.
          expect(config.http.rateLimitPerIp, what).toBe(0);
          expect(config.http.port, what).toBe(c.ports[0].containerPort);
          // JSON lines for the log store, also before the config file is read (the entrypoint, a config error).
          expect(config.log.format, what).toBe('json');
          const env = Object.assign(
            {},
            ...(c.envFrom ?? []).map(
              (f: Obj) => of(o, 'ConfigMap').find((m) => m.metadata.name === f.configMapRef.name)?.data,
            ),
          );
          expect(env.TRADER_LOG_FORMAT, `${what} TRADER_LOG_FORMAT in its environment`).toBe('json');
        }
      });

      it('the engine is the single writer: one replica, no overlap on update, its journal on its own volume', () => {
        const engines = workloadsOf(o).filter((w) => w.spec.template.spec.containers[0].args.includes('engine'));
        expect(engines.length).toBe(1);
        const e = engines[0] as Obj;
        expect(e.spec.replicas).toBe(1);
        if (e.kind === 'Deployment') expect(e.spec.strategy.type).toBe('Recreate');
        else {
          expect(e.kind).toBe('StatefulSet');
          // A StatefulSet replaces ordinal 0 only after the old pod is gone (RollingUpdate, or OnDelete).
          expect(e.spec.podManagementPolicy).toBe('OrderedReady');
          expect(['RollingUpdate', 'OnDelete']).toContain(e.spec.updateStrategy.type);
        }
        expect(of(o, 'HorizontalPodAutoscaler').some((h) => h.spec.scaleTargetRef.name === e.metadata.name)).toBe(
          false,
        );
        const c = e.spec.template.spec.containers[0];
        const config = traderConfigOf(o, e.spec.template.spec, c);
        expect(config.role).toBe('engine');
        const dataMount = (c.volumeMounts as Obj[]).find((m) => m.mountPath === config.dataDir);
        expect(dataMount, 'a volume at the data dir').toBeDefined();
        const claims = (e.spec.volumeClaimTemplates ?? []).map((v: Obj) => v.metadata.name);
        expect(claims, 'the data dir is a persistent volume claim').toContain(dataMount?.name);
      });

      it('gateways roll without losing capacity and are autoscaled', () => {
        const gateways = of(o, 'Deployment').filter((w) => w.spec.template.spec.containers[0].args.includes('gateway'));
        expect(gateways.length).toBe(1);
        const g = gateways[0] as Obj;
        expect(g.spec.strategy.type).toBe('RollingUpdate');
        expect(g.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
        expect(g.spec.replicas, 'the HPA owns the replica count').toBeUndefined();
        const config = traderConfigOf(o, g.spec.template.spec, g.spec.template.spec.containers[0]);
        expect(config.role).toBe('gateway');
        const hpas = of(o, 'HorizontalPodAutoscaler').filter((h) => h.spec.scaleTargetRef.name === g.metadata.name);
        expect(hpas.length).toBe(1);
        const hpa = hpas[0] as Obj;
        expect(hpa.apiVersion).toBe('autoscaling/v2');
        expect(hpa.spec.scaleTargetRef.kind).toBe('Deployment');
        expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(o === 'dev' ? 1 : 2);
        expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
        // The PDB lets a node drain evict one gateway at a time and no more.
        const pdb = of(o, 'PodDisruptionBudget').find((p) => selects(p.spec.selector, g.spec.template.metadata.labels));
        expect(pdb?.spec.maxUnavailable ?? hpa.spec.minReplicas - pdb?.spec.minAvailable).toBe(1);
      });

      it('network: default deny both ways, and every serving port opened only to named peers', () => {
        const policies = of(o, 'NetworkPolicy');
        const deny = policies.filter(
          (p) =>
            Object.keys(p.spec.podSelector ?? {}).length === 0 &&
            p.spec.policyTypes.includes('Ingress') &&
            p.spec.policyTypes.includes('Egress') &&
            p.spec.ingress === undefined &&
            p.spec.egress === undefined,
        );
        expect(deny.length, 'a default-deny policy').toBe(1);
        for (const w of workloadsOf(o)) {
          const labels = w.spec.template.metadata.labels;
          for (const port of w.spec.template.spec.containers[0].ports as Obj[]) {
            const allows = policies.filter(
              (p) =>
                selects(p.spec.podSelector, labels) &&
                (p.spec.ingress ?? []).some((r: Obj) =>
                  (r.ports ?? []).some((rp: Obj) => rp.port === port.containerPort),
                ),
            );
            expect(allows.length, `${w.metadata.name}:${port.containerPort} reachable`).toBeGreaterThan(0);
            for (const p of allows)
              for (const rule of p.spec.ingress)
                expect(rule.from?.length, `${p.metadata.name}: ingress from named peers only`).toBeGreaterThan(0);
          }
        }
      });

      it('configuration and secrets: both mounted as files, secrets never committed outside dev', () => {
        const secrets = of(o, 'Secret');
        if (o === 'dev')
          expect(secrets.map((s) => s.metadata.name.replace(/-[a-z0-9]{10}$/, '')).sort()).toEqual([
            'trader-metrics-token',
            'trader-secrets',
          ]);
        else expect(secrets, 'staging and production take their secrets from the cluster').toEqual([]);
        for (const w of workloadsOf(o)) {
          const pod = w.spec.template.spec;
          for (const c of pod.containers) {
            const what = `${o} ${w.metadata.name}`;
            for (const e of c.env ?? []) {
              expect(e.valueFrom?.secretKeyRef, `${what} ${e.name}: secrets as files, not variables`).toBeUndefined();
              if (!e.name.endsWith('_FILE') && e.name !== 'TRADER_CONFIG') continue;
              const mount = (c.volumeMounts as Obj[]).find((m) => e.value.startsWith(`${m.mountPath}/`));
              expect(mount?.readOnly, `${what} ${e.name} on a read-only mount`).toBe(true);
              const volume = (pod.volumes as Obj[]).find((v) => v.name === mount?.name) as Obj;
              const key = e.value.slice(mount?.mountPath.length + 1);
              if (volume.configMap !== undefined) {
                const cm = of(o, 'ConfigMap').find((x) => x.metadata.name === volume.configMap.name);
                expect(Object.keys(cm?.data ?? {}), `${what} ${e.name}`).toContain(key);
                continue;
              }
              expect(volume.secret, `${what} ${e.name} comes from a Secret`).toBeDefined();
              const items = volume.secret.items as Obj[] | undefined;
              if (items !== undefined) expect(items.map((i) => i.path)).toContain(key);
              const secret = secrets.find((x) => x.metadata.name === volume.secret.secretName);
              if (secret !== undefined)
                expect(Object.keys(secret.data), `${what} ${key}`).toContain(
                  items?.find((i) => i.path === key)?.key ?? key,
                );
              else expect(clusterSecrets, `${what} ${e.name}`).toContain(volume.secret.secretName);
            }
          }
        }
        for (const sm of of(o, 'ServiceMonitor'))
          for (const ep of sm.spec.endpoints) {
            if (ep.authorization === undefined) continue;
            const { name, key } = ep.authorization.credentials;
            const secret = secrets.find((x) => x.metadata.name === name);
            if (o === 'dev') expect(Object.keys(secret?.data ?? {}), `${sm.metadata.name} ${name}`).toContain(key);
            else expect(clusterSecrets).toContain(name);
          }
        for (const t of of(o, 'Ingress')[0]?.spec.tls ?? []) expect(clusterSecrets).toContain(t.secretName);
      });

      it('ingress: TLS, WebSocket timeouts, client limits, and neither /metrics nor /health routed', () => {
        const ingresses = of(o, 'Ingress');
        expect(ingresses.length).toBe(1);
        const ing = ingresses[0] as Obj;
        const a = ing.metadata.annotations;
        expect(ing.spec.tls?.[0]?.hosts).toContain(ing.spec.rules[0].host);
        expect(a['nginx.ingress.kubernetes.io/force-ssl-redirect']).toBe('true');
        expect(Number(a['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(3600);
        expect(Number(a['nginx.ingress.kubernetes.io/proxy-send-timeout'])).toBeGreaterThanOrEqual(3600);
        expect(Number(a['nginx.ingress.kubernetes.io/limit-rps'])).toBeGreaterThan(0);
        expect(Number(a['nginx.ingress.kubernetes.io/limit-connections'])).toBeGreaterThan(0);
        const services = new Map(of(o, 'Service').map((s) => [s.metadata.name, s]));
        for (const p of ing.spec.rules[0].http.paths as Obj[]) {
          const routes = (path: string) =>
            p.pathType === 'Exact'
              ? path === p.path
              : path === p.path || path.startsWith(`${p.path.replace(/\/$/, '')}/`);
          expect(routes('/metrics'), `${p.path} must not route /metrics`).toBe(false);
          expect(routes('/health/status'), `${p.path} must not route /health`).toBe(false);
          const svc = services.get(p.backend.service.name);
          expect(svc?.spec.ports.map((x: Obj) => x.name)).toContain(p.backend.service.port.name);
        }
      });

      it('monitoring: a ServiceMonitor per role selects a rendered Service port, and the PrometheusRule carries the rule files', () => {
        const services = of(o, 'Service');
        for (const role of ['engine', 'gateway']) {
          const sm = of(o, 'ServiceMonitor').find(
            (s) => s.spec.selector.matchLabels['app.kubernetes.io/component'] === role,
          );
          const targets = services.filter((s) => selects(sm?.spec.selector, s.metadata.labels ?? {}));
          expect(targets.length, `${role} ServiceMonitor selects a Service`).toBe(1);
          expect(targets[0]?.spec.ports.map((p: Obj) => p.name)).toContain(sm?.spec.endpoints[0].port);
        }
        const files = existsSync(rulesDir)
          ? readdirSync(rulesDir)
              .filter((f) => /\.ya?ml$/.test(f) && !/\.test\.ya?ml$/.test(f))
              .sort()
          : [];
        const groups = files.flatMap((f) => (parse(readFileSync(join(rulesDir, f), 'utf8')) as Obj).groups);
        const rules = of(o, 'PrometheusRule');
        expect(rules.length).toBe(1);
        expect(rules[0]?.spec.groups).toEqual(groups);
      });
    });
  }

  it('sync-rules.mjs --check agrees that the PrometheusRule is up to date', () => {
    expect(() =>
      execFileSync(process.execPath, [join(k8sDir, 'sync-rules.mjs'), '--check'], { stdio: 'pipe' }),
    ).not.toThrow();
  });
});
