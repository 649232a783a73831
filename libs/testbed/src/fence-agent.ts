import { TestbedError } from './errors';
import { NODE_NAME_RE } from './layout';
import * as fs from 'node:fs';
import { FENCE_AGENT, ROOT_NS_ENV, rootNamespaces } from './pacemaker';
import { run } from './proc';
import { Testbed } from './testbed';

/*
 * fence_tandem_testbed: a fence agent (the fence-agents API Pacemaker's fencer speaks) whose
 * "power switch" is the testbed: `off` is the testbed's power-off of a node (every process
 * SIGKILLed, its namespaces dropped), `on` a fresh boot. Started by the fencer inside a node,
 * it runs again in the testbed's own network and mount namespaces (named by the wrapper in the
 * node's /usr/sbin), entered through any process that lives in them.
 *
 * Arguments as every fence agent takes them: `-o ACTION` / `--action=ACTION`, `-n NODE` /
 * `--plug=NODE` on the command line, or `action=`, `plug=` (`port=`, `nodename=`) lines on stdin.
 * Exit 0 on success; `status`: 0 on, 2 off; 1 on failure.
 */

export const FENCE_ACTIONS = ['off', 'on', 'reboot', 'status', 'monitor', 'list', 'metadata', 'validate-all'] as const;
export type FenceAction = (typeof FENCE_ACTIONS)[number];

export interface FenceRequest {
  action: FenceAction;
  plug: string | null;
}

/** Parses the command line and stdin (key=value lines) into a request; stdin's keys win, as in fencing.py. */
export function parseFenceRequest(argv: readonly string[], stdin: string): FenceRequest {
  const kv = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = /^--(action|plug|port)=(.*)$/.exec(a);
    if (eq) kv.set(eq[1] === 'port' ? 'plug' : eq[1]!, eq[2]!);
    else if (a === '-o' || a === '--action') kv.set('action', argv[++i] ?? '');
    else if (a === '-n' || a === '--plug' || a === '--port') kv.set('plug', argv[++i] ?? '');
    else throw new TestbedError('USAGE', `${FENCE_AGENT}: unknown argument ${JSON.stringify(a)}`);
  }
  for (const line of stdin.split('\n')) {
    const m = /^\s*([a-z_-]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    const key = m[1] === 'port' || m[1] === 'nodename' ? 'plug' : m[1]!;
    if (key === 'action' || key === 'plug') kv.set(key, m[2]!);
  }
  const action = (kv.get('action') ?? 'reboot') as FenceAction;
  if (!FENCE_ACTIONS.includes(action)) throw new TestbedError('USAGE', `${FENCE_AGENT}: unknown action ${JSON.stringify(action)}; use one of ${FENCE_ACTIONS.join(', ')}`);
  const plug = kv.get('plug') ?? null;
  if (plug !== null && !NODE_NAME_RE.test(plug)) throw new TestbedError('UNKNOWN_NODE', `${FENCE_AGENT}: unknown node ${JSON.stringify(plug)}; testbed nodes are node-a, node-b, ...`);
  if (['off', 'on', 'reboot', 'status'].includes(action) && plug === null) throw new TestbedError('USAGE', `${FENCE_AGENT}: ${action} needs the node (-n NODE or plug=NODE)`);
  return { action, plug };
}

export function fenceMetadata(): string {
  const actions = FENCE_ACTIONS.map((a) => `    <action name="${a}"${a === 'on' ? ' automatic="0"' : ''}/>`).join('\n');
  return `<?xml version="1.0" ?>
<resource-agent name="${FENCE_AGENT}" shortdesc="Fence agent for the nodes of the Tandem testbed">
  <longdesc>Powers a testbed node off (every process of the node killed, its namespaces dropped) or on (a fresh boot), as a power switch would.</longdesc>
  <vendor-url>https://github.com/</vendor-url>
  <parameters>
    <parameter name="action" unique="0" required="1">
      <getopt mixed="-o, --action=[action]"/>
      <content type="string" default="reboot"/>
      <shortdesc lang="en">Fencing action</shortdesc>
    </parameter>
    <parameter name="plug" unique="0" required="1" obsoletes="port">
      <getopt mixed="-n, --plug=[node]"/>
      <content type="string"/>
      <shortdesc lang="en">Testbed node to act on (node-a, node-b, ...)</shortdesc>
    </parameter>
    <parameter name="port" unique="0" required="0" deprecated="1">
      <getopt mixed="-n, --plug=[node]"/>
      <content type="string"/>
      <shortdesc lang="en">Testbed node to act on</shortdesc>
    </parameter>
  </parameters>
  <actions>
${actions}
  </actions>
</resource-agent>
`;
}

/** Carries a request out; returns the exit code and what to print. */
export async function fence(req: FenceRequest, tb: Testbed): Promise<{ code: number; out: string }> {
  if (req.action === 'metadata') return { code: 0, out: fenceMetadata() };
  if (req.action === 'validate-all') return { code: 0, out: '' };
  const st = await tb.status();
  if (!st.up) return { code: 1, out: `${FENCE_AGENT}: the testbed is not up\n` };
  const storage = st.nodes.filter((n) => n.role === 'storage');
  if (req.action === 'monitor') return { code: 0, out: '' };
  if (req.action === 'list') return { code: 0, out: storage.map((n) => `${n.name},${n.name}\n`).join('') };
  const node = storage.find((n) => n.name === req.plug);
  if (!node) return { code: 1, out: `${FENCE_AGENT}: ${String(req.plug)} is not a storage node of this testbed (${storage.map((n) => n.name).join(', ')})\n` };
  if (req.action === 'status') return { code: node.state === 'running' ? 0 : 2, out: `Status: ${node.state === 'running' ? 'ON' : 'OFF'}\n` };
  // off: success when the node is off already (its power was lost before the fencer got to it)
  if ((req.action === 'off' || req.action === 'reboot') && node.state === 'running') await tb.powerOff(node.name);
  if ((req.action === 'on' || req.action === 'reboot') && (req.action === 'reboot' || node.state === 'off')) await tb.powerOn(node.name);
  return { code: 0, out: `Success: ${req.action} ${node.name}\n` };
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A process living in the namespaces named `net:[i],mnt:[j]`, or null. */
function processIn(namespaces: string): number | null {
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 1) continue;
    try {
      if (rootNamespaces(pid) === namespaces) return pid;
    } catch {
      /* gone, or not ours to see */
    }
  }
  return null;
}

export async function main(argv: string[]): Promise<number> {
  try {
    // the fencer gives everything on stdin; a command line (a person, `-o metadata`) means no stdin
    const stdin = argv.length > 0 ? '' : await readStdin();
    const req = parseFenceRequest(argv, stdin);
    const want = process.env[ROOT_NS_ENV];
    if (want && rootNamespaces() !== want && req.action !== 'metadata' && req.action !== 'validate-all') {
      const pid = processIn(want);
      if (pid === null) throw new TestbedError('COMMAND_FAILED', `${FENCE_AGENT}: no process lives in the testbed's namespaces (${want}) to enter them through`);
      const env = { ...process.env, [ROOT_NS_ENV]: '' } as Record<string, string>;
      const r = await run('nsenter', ['-t', String(pid), '-m', '-n', '--', process.execPath, process.argv[1]!, ...argv], { timeoutMs: 120_000, reject: false, input: stdin, env });
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      return r.exitCode;
    }
    const r = await fence(req, new Testbed({ log: (l) => process.stderr.write(`[${FENCE_AGENT}] ${l}\n`) }));
    process.stdout.write(r.out);
    return r.code;
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
