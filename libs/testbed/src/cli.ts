import { TestbedError } from './errors';
import { NETWORK_NAMES, NetworkName } from './layout';
import { Testbed, TestbedStatus } from './testbed';

const USAGE = `usage: npm run testbed -- <command>

  up [--nodes N] [--no-services]   start (or repair) the cluster: N storage nodes (default 2),
                                   a witness and a client; idempotent
  up [--nodes N] --bare            the machines only: namespaces, networks and disks, none of
                                   the testbed's zfs-fuse, NATS, Postgres nor services
  up --pacemaker                   the peer Tandem is measured against: two storage nodes running
                                   zfs-fuse and a corosync/Pacemaker cluster instead of Tandem
  down                             remove everything the testbed created
  status [--json]                  nodes, addresses and state
  power-off NODE                   power cut: SIGKILL all of NODE's processes, drop its namespaces
  power-on NODE [--no-services]    fresh boot of NODE (disks survive, zfs pool cache does not)
  cut NODE NETWORK                 unplug NODE from NETWORK (${NETWORK_NAMES.join('|')})
  heal NODE NETWORK                plug it back in
  disk-fail NODE                   NODE's disks stop answering (every vdev I/O of its ZFS fails)
  disk-heal NODE                   they answer again (the pool stays suspended until zpool clear)
  exec NODE -- CMD...              run CMD inside NODE's namespaces
  client -- CMD...                 run CMD inside the client namespace

Nodes: node-a, node-b, ..., witness, client. Root directory: $TANDEM_TESTBED_DIR
(default /var/lib/tandem-testbed).`;

function usage(msg: string): never {
  throw new TestbedError('USAGE', `${msg}\n\n${USAGE}`);
}

function takeFlag(args: string[], flag: string): boolean {
  const i = args.indexOf(flag);
  if (i < 0) return false;
  args.splice(i, 1);
  return true;
}

function takeValue(args: string[], flag: string): string | undefined {
  const i = args.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
  if (i < 0) return undefined;
  const a = args[i]!;
  if (a.includes('=')) {
    args.splice(i, 1);
    return a.slice(flag.length + 1);
  }
  const v = args[i + 1];
  if (v === undefined) usage(`${flag} needs a value`);
  args.splice(i, 2);
  return v;
}

function noMore(args: string[], cmd: string): void {
  if (args.length > 0) usage(`${cmd}: unexpected argument(s): ${args.join(' ')}`);
}

function positional(args: string[], what: string, cmd: string): string {
  const v = args.shift();
  if (v === undefined || v.startsWith('--')) usage(`${cmd}: missing ${what}`);
  return v;
}

/** Command after `NODE`: `-- CMD...` (the `--` may be left out). */
function commandArgv(args: string[], cmd: string): string[] {
  const argv = args[0] === '--' ? args.slice(1) : args;
  if (argv.length === 0) usage(`${cmd}: missing command (e.g. \`${cmd === 'client' ? 'client' : 'exec node-a'} -- ip -br addr\`)`);
  return argv;
}

function table(status: TestbedStatus): string {
  if (!status.up) return `testbed is down (root ${status.root}); start it with \`npm run testbed -- up\``;
  const rows = [['NODE', 'ROLE', 'STATE', 'HEARTBEAT', 'ADMIN', 'CLIENT', 'API']];
  for (const n of status.nodes) {
    const addr = (net: NetworkName) => {
      const a = n.addresses[net];
      if (a === null) return '-';
      const l = n.links[net];
      return l === 'up' || n.state === 'off' ? a : `${a} (${l})`;
    };
    rows.push([n.name, n.role, n.state, addr('heartbeat'), addr('admin'), addr('client'), n.api ?? '-']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  lines.push('', `jbod: ${status.jbod}`);
  return lines.join('\n');
}

/** What to do after a failed command (empty for usage errors, whose message says it already). */
export function nextStep(cmd: string | undefined, err: TestbedError): string {
  if (err.exitCode === 2 || err.code === 'NOT_UP' || err.code === 'NODE_OFF') return '';
  if (cmd === 'up' || cmd === 'power-on') {
    return 'testbed: fix the cause, then re-run the same command (it repairs what is missing), or start over with `npm run testbed -- down`\n';
  }
  if (cmd === 'down') return 'testbed: re-run `npm run testbed -- down`; it continues from whatever is left\n';
  return '';
}

export async function main(argv: string[]): Promise<number> {
  const args = [...argv];
  const cmd = args.shift();
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return cmd === undefined ? 2 : 0;
  }
  const tb = new Testbed();
  switch (cmd) {
    case 'up': {
      const nodesArg = takeValue(args, '--nodes');
      const services = !takeFlag(args, '--no-services');
      const bare = takeFlag(args, '--bare');
      const pacemaker = takeFlag(args, '--pacemaker');
      noMore(args, cmd);
      let nodes: number | undefined;
      if (nodesArg !== undefined) {
        nodes = Number(nodesArg);
        if (!/^\d+$/.test(nodesArg)) usage(`--nodes must be a positive integer (got "${nodesArg}")`);
      }
      await tb.up({ ...(nodes === undefined ? {} : { nodes }), services, bare, ...(pacemaker ? { stack: 'pacemaker' as const } : {}) });
      return 0;
    }
    case 'down':
      noMore(args, cmd);
      await tb.down();
      return 0;
    case 'status': {
      const json = takeFlag(args, '--json');
      noMore(args, cmd);
      const st = await tb.status();
      process.stdout.write(json ? `${JSON.stringify(st)}\n` : `${table(st)}\n`);
      return 0;
    }
    case 'power-off': {
      const node = positional(args, 'NODE', cmd);
      noMore(args, cmd);
      await tb.powerOff(node);
      return 0;
    }
    case 'power-on': {
      const services = takeFlag(args, '--no-services') ? false : undefined;
      const node = positional(args, 'NODE', cmd);
      noMore(args, cmd);
      await tb.powerOn(node, services === undefined ? {} : { services });
      return 0;
    }
    case 'cut':
    case 'heal': {
      const node = positional(args, 'NODE', cmd);
      const net = positional(args, 'NETWORK', cmd);
      noMore(args, cmd);
      if (!(NETWORK_NAMES as readonly string[]).includes(net)) {
        throw new TestbedError('UNKNOWN_NETWORK', `unknown network "${net}"; use one of: ${NETWORK_NAMES.join(', ')}`);
      }
      if (cmd === 'cut') await tb.cut(node, net as NetworkName);
      else await tb.heal(node, net as NetworkName);
      return 0;
    }
    case 'disk-fail':
    case 'disk-heal': {
      const node = positional(args, 'NODE', cmd);
      noMore(args, cmd);
      if (cmd === 'disk-fail') await tb.diskFail(node);
      else await tb.diskHeal(node);
      return 0;
    }
    case 'exec': {
      const node = positional(args, 'NODE', cmd);
      return tb.execInteractive(node, commandArgv(args, cmd));
    }
    case 'client':
      return tb.execInteractive('client', commandArgv(args, cmd));
    default:
      usage(`unknown command "${cmd}"`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof TestbedError) {
        process.stderr.write(`testbed: ${err.message}\n${nextStep(process.argv[2], err)}`);
        process.exitCode = err.exitCode;
      } else {
        process.stderr.write(`testbed: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        process.exitCode = 1;
      }
    },
  );
}
