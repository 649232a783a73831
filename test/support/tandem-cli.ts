import { resolve } from 'node:path';
import { execa } from 'execa';
import { setGlobalDispatcher } from 'undici';
import { TESTBED_ADMIN_PASSWORD, testbedHttps, type TestbedStatus } from '@tandem/testbed';

const TANDEM = resolve(__dirname, '..', '..', '..', 'bin', 'tandem');

/**
 * The `tandem` CLI run as an operator would, against a node's REST API: with the testbed's admin
 * password unless `password` says otherwise (null: none at all), trusting the CA `ca`. Never throws on a failed command.
 */
export async function runTandem(
  api: string,
  args: string[],
  opts: { password?: string | null; timeoutMs?: number; ca?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string> = { ...process.env, TANDEM_API: api, ...opts.env } as Record<string, string>;
  // the API is HTTPS: its certificate is checked against the testbed's CA (TestbedStatus.ca)
  if (opts.ca) env['TANDEM_API_CA_FILE'] = opts.ca;
  if (opts.password !== null) env['TANDEM_PASSWORD'] = opts.password ?? TESTBED_ADMIN_PASSWORD;
  else delete env['TANDEM_PASSWORD'];
  const r = await execa('node', [TANDEM, ...args], { env, extendEnv: false, reject: false, timeout: opts.timeoutMs ?? 180_000 });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Plain fetch() of this test process trusts the testbed's CA: the nodes' APIs are HTTPS. */
export function trustTestbedApis(status: TestbedStatus): void {
  setGlobalDispatcher(testbedHttps(status.root));
}
