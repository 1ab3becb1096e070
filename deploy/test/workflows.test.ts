// The GitHub Actions workflows (.github/workflows): validated against the workflow schema by action-validator (the
// npm package runs its WASM build offline), then the project's own rules asserted on every workflow.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { deployDir } from '../scripts/validate.js';

const workflowsDir = join(deployDir, '..', '.github', 'workflows');
const files = readdirSync(workflowsDir).filter((f) => f.endsWith('.yml'));
const validator = join(deployDir, '..', 'node_modules', '.bin', 'action-validator');
const tmp = mkdtempSync(join(tmpdir(), 'workflows-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// biome-ignore lint/suspicious/noExplicitAny: parsed workflow YAML; each check names what it reads.
type Obj = Record<string, any>;
const workflow = (file: string): Obj => parse(readFileSync(join(workflowsDir, file), 'utf8')) as Obj;
const jobs = (file: string): [string, Obj][] => Object.entries(workflow(file).jobs as Obj);
const validate = (file: string) =>
  promisify(execFile)(validator, [file], { timeout: 30_000 }).then(
    () => 0,
    (e: { code?: number }) => e.code ?? 1,
  );

describe('GitHub Actions workflows', () => {
  it('are the expected ones', () => {
    expect(files).toEqual(
      expect.arrayContaining(['ci.yml', 'image.yml', 'deploy.yml', 'deploy-env.yml', 'release.yml']),
    );
  });

  it('validate against the workflow schema (action-validator), which rejects a broken one', async () => {
    const broken = join(tmp, 'broken.yml');
    writeFileSync(broken, 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n');
    const codes = await Promise.all([...files.map((f) => validate(join(workflowsDir, f))), validate(broken)]);
    expect(codes).toEqual([...files.map(() => 0), 1]);
  }, 60_000);

  it.each(files)(
    '%s: read-only top-level permissions, a timeout on every job, actions pinned by commit SHA',
    (file) => {
      const wf = workflow(file);
      expect(wf.permissions).toEqual({ contents: 'read' });
      for (const [name, job] of jobs(file)) {
        // A job that calls a reusable workflow takes the called workflow's timeouts.
        if (job.uses === undefined) expect(job['timeout-minutes'], `${file} ${name}`).toBeGreaterThan(0);
        for (const step of job.steps ?? []) {
          if (step.uses === undefined || String(step.uses).startsWith('./')) continue;
          expect(step.uses, `${file} ${name}`).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
        }
      }
    },
  );

  it('ci.yml runs .ci/run', () => {
    const steps = jobs('ci.yml').flatMap(([, j]) => j.steps as Obj[]);
    expect(steps.map((s) => s.run)).toContain('bash .ci/run');
  });

  it('image.yml builds with podman, scans with Trivy (failing on findings), pushes to GHCR on tags only', () => {
    const [[, job]] = jobs('image.yml') as [[string, Obj]];
    const steps = job.steps as Obj[];
    expect(steps.some((s) => /podman build --format docker/.test(s.run ?? ''))).toBe(true);
    const scan = steps.find((s) => String(s.uses).startsWith('aquasecurity/trivy-action@'));
    expect(scan?.with?.['exit-code']).toBe('1');
    const push = steps.find((s) => /podman push/.test(s.run ?? ''));
    expect(push?.if).toBe("startsWith(github.ref, 'refs/tags/v')");
    expect(steps.indexOf(push as Obj)).toBeGreaterThan(steps.indexOf(scan as Obj));
    expect(job.permissions).toEqual({ contents: 'read', packages: 'write' });
  });

  it('deploy.yml: staging first, production after it on tags through the production environment; health check, rollback on failure', () => {
    const deploy = Object.fromEntries(jobs('deploy.yml'));
    expect(deploy.staging?.with?.environment).toBe('staging');
    expect(deploy.production).toMatchObject({
      needs: 'staging',
      if: "startsWith(github.ref, 'refs/tags/v')",
      uses: './.github/workflows/deploy-env.yml',
      with: { environment: 'production' },
    });
    const [[, job]] = jobs('deploy-env.yml') as [[string, Obj]];
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression, not a template.
    expect(job.environment.name).toBe('${{ inputs.environment }}');
    const steps = job.steps as Obj[];
    const index = (re: RegExp) => steps.findIndex((s) => re.test(s.run ?? ''));
    const apply = index(/deploy\/scripts\/deploy\.ts --target k8s/);
    const health = index(/deploy\/scripts\/health-check\.ts/);
    const rollback = index(/kubectl rollout undo/);
    expect(apply).toBeGreaterThan(-1);
    expect(health).toBeGreaterThan(apply);
    expect(rollback).toBeGreaterThan(health);
    expect(steps[health]?.id).toBe('health');
    expect(steps[rollback]?.if).toBe("failure() && steps.health.outcome == 'failure'");
  });
});
