import * as fs from 'node:fs';
import { NetworkName, NodeSpec, hostVethName, netnsPath } from './layout';
import { Agent, type Dispatcher } from 'undici';
import { testbedNatsCaFile } from './nats-keys';
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

const trusting = new Map<string, Dispatcher>();

/** Forgets the testbed's CA (after `down`: the next `up` makes a new one). */
export function forgetTestbedHttps(root: string): void {
  trusting.delete(root);
}

/** HTTPS to the testbed's nodes: their certificates are checked against the testbed's CA (made at up). */
export function testbedHttps(root: string): Dispatcher {
  let d = trusting.get(root);
  if (!d) {
    d = new Agent({ connect: { ca: fs.readFileSync(testbedNatsCaFile(root), 'utf8') } });
    trusting.set(root, d);
  }
  return d;
}

/**
 * GET http(s)://<node admin ip>:<port><path> (HTTPS when a dispatcher for it is given). Normally from the root namespace over the admin bridge;
 * when the node's admin link is cut, from inside the node's network namespace (127.0.0.1), so a
 * node can boot and be checked while it is unplugged from the admin network.
 */
export async function nodeHttpGet(spec: NodeSpec, port: number, path: string, timeoutMs = 1_500, https?: Dispatcher): Promise<{ status: number; body: string } | null> {
  if (spec.addresses.admin !== null && hostLinkUp(spec, 'admin')) {
    return httpGet(`${https ? 'https' : 'http'}://${spec.addresses.admin}:${port}${path}`, timeoutMs, https);
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
