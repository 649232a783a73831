import * as fs from 'node:fs';
import { NetworkName, NodeSpec, hostVethName, netnsPath } from './layout';
import { httpGet, run } from './proc';

/** Is the host side of the node's veth administratively up (not cut)? Read from the root ns's sysfs. */
export function hostLinkUp(spec: NodeSpec, net: NetworkName): boolean {
  try {
    const flags = Number.parseInt(fs.readFileSync(`/sys/class/net/${hostVethName(spec, net)}/flags`, 'utf8').trim(), 16);
    return (flags & 0x1) !== 0; // IFF_UP
  } catch {
    return false;
  }
}

// Runs inside the node's netns when the root namespace cannot reach it: prints status and body.
const PROBE_SCRIPT = `
fetch(process.argv[1], { signal: AbortSignal.timeout(Number(process.argv[2])) })
  .then(async (r) => { process.stdout.write(r.status + '\\n' + (await r.text())); })
  .catch(() => process.exit(1));
`;

/**
 * GET http://<node admin ip>:<port><path>. Normally from the root namespace over the admin bridge;
 * when the node's admin link is cut, from inside the node's network namespace (127.0.0.1), so a
 * node can boot and be checked while it is unplugged from the admin network.
 */
export async function nodeHttpGet(spec: NodeSpec, port: number, path: string, timeoutMs = 1_500): Promise<{ status: number; body: string } | null> {
  if (spec.addresses.admin !== null && hostLinkUp(spec, 'admin')) {
    return httpGet(`http://${spec.addresses.admin}:${port}${path}`, timeoutMs);
  }
  const res = await run('nsenter', [`--net=${netnsPath(spec)}`, '--', process.execPath, '-e', PROBE_SCRIPT, `http://127.0.0.1:${port}${path}`, String(timeoutMs)], {
    timeoutMs: timeoutMs + 5_000,
    reject: false,
  });
  if (res.exitCode !== 0) return null;
  const nl = res.stdout.indexOf('\n');
  const status = Number(nl < 0 ? res.stdout : res.stdout.slice(0, nl));
  return Number.isInteger(status) ? { status, body: nl < 0 ? '' : res.stdout.slice(nl + 1) } : null;
}
