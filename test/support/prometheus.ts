import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@tandem/util';

export interface ScrapeJob {
  name: string;
  targets: string[];
  /** HTTPS, its certificates checked against this CA (PEM file). */
  caFile?: string;
}

export interface Sample {
  metric: Record<string, string>;
  value: number;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/**
 * A real Prometheus (Debian's `prometheus`), in the namespace of the test, with its own
 * configuration and storage in a temporary directory, scraping every second: what an operator
 * points at the cluster, asked through its HTTP API.
 */
export class Prometheus {
  private proc?: ChildProcess;
  private dir?: string;
  private base = '';

  async start(jobs: ScrapeJob[]): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), 'tandem-prometheus-'));
    const config = {
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      scrape_configs: jobs.map((j) => ({
        job_name: j.name,
        ...(j.caFile ? { scheme: 'https', tls_config: { ca_file: j.caFile } } : {}),
        static_configs: [{ targets: j.targets }],
      })),
    };
    // JSON is YAML
    writeFileSync(join(this.dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
    const port = await freePort();
    this.base = `http://127.0.0.1:${port}`;
    const log = openSync(join(this.dir, 'prometheus.log'), 'a');
    this.proc = spawn(
      'prometheus',
      [`--config.file=${join(this.dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(this.dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      { stdio: ['ignore', log, log] },
    );
    await waitFor(
      async () => {
        if (this.proc?.exitCode !== null) throw new Error(`prometheus exited ${this.proc?.exitCode}: ${this.log()}`);
        return (await fetch(`${this.base}/-/ready`).catch(() => null))?.status === 200;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'prometheus to be ready' },
    );
  }

  log(): string {
    try {
      return readFileSync(join(this.dir!, 'prometheus.log'), 'utf8').slice(-3000);
    } catch {
      return '(no log)';
    }
  }

  /** An instant query (GET /api/v1/query): its vector's samples. */
  async query(promql: string): Promise<Sample[]> {
    const res = await fetch(`${this.base}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
    if (body.status !== 'success' || body.data?.resultType !== 'vector') throw new Error(`prometheus: ${promql}: ${body.error ?? JSON.stringify(body).slice(0, 300)}`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** The value of a query that yields one sample (a sum), or null when it yields none. */
  async scalar(promql: string): Promise<number | null> {
    const r = await this.query(promql);
    return r.length ? r[0].value : null;
  }

  async stop(): Promise<void> {
    if (this.proc && this.proc.exitCode === null) {
      const exited = new Promise((resolve) => this.proc!.once('exit', resolve));
      this.proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
