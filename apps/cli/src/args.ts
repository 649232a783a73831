import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { productVersion } from './version';
import { z } from 'zod';
import {
  cidrSchema,
  clusterOpRequests,
  describeZodError,
  interfaceNameSchema,
  ipAddressSchema,
  joinClusterRequestSchema,
  lunNameSchema,
  lunSizeSchema,
  nodeIdSchema,
  parseLunSizeText,
  poolNameSchema,
  poolOpRequests,
  shareSpecSchema,
  sharePasswordSchema,
  shareUserNameSchema,
  vipSpecSchema,
  ENTITY_KINDS,
  activityQuerySchema,
  eventsQuerySchema,
  type ActivityQuery,
  type ClusterOpRequest,
  type EntityKind,
  type PoolOperation,
  type PoolOpRequest,
} from '@tandem/contracts';

export const DEFAULT_API = 'http://127.0.0.1:8080';

/** A mistake in the command line: exit code 2, and the field (or option) it is about. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly field?: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Help or version was shown: nothing else to do (exit 0). */
export class HelpShown extends Error {
  constructor() {
    super('help shown');
    this.name = 'HelpShown';
  }
}

export interface Globals {
  /** The APIs to try, in order: the first that answers is used. */
  api: string[];
  json: boolean;
  password?: string;
  /** How an https:// API's certificate is trusted: a CA file's certificates, or one certificate's SHA-256 fingerprint. */
  apiTrust?: { ca: string } | { fingerprint: string };
}

/** `tandem log`: the query of GET /api/v1/activity (limit, before, pool, node, result). */
export type LogQuery = ActivityQuery & { limit: number };

export type AttachBody = Omit<PoolOpRequest<'pool.attach'>, 'actor'>;
/** The body of PUT /api/v1/replication/settings: durations as given (`15m`), for the contract to parse. */
export type ReplicationSettingsBody = Omit<ClusterOpRequest<'replication.settings'>, 'actor'>;

export type Invocation =
  | { command: 'pool.list' }
  | { command: 'pool.show'; pool: string }
  /** `wait`: a replicated attach follows the first sync (bootstrap) until it ends (not with --no-wait). */
  | { command: 'pool.attach'; body: AttachBody; wait: boolean }
  | { command: 'pool.importable'; node: string }
  | { command: 'pool.move'; pool: string; to: string }
  | { command: 'pool.mark-usable'; pool: string; node: string }
  | { command: 'pool.detach'; pool: string }
  /** `yes`: confirmed with --yes (otherwise asked at a terminal, refused without one). */
  | { command: 'pool.export'; pool: string; yes: boolean }
  | { command: 'pool.reattach'; pool: string; node: string }
  /** `every` as given (`1h`), for the contract to parse. */
  | { command: 'pool.schedule-add'; pool: string; name: string; every: string; keep: number }
  | { command: 'pool.schedule-remove'; pool: string; name: string }
  | { command: 'pool.schedule-list'; pool: string }
  | { command: 'pool.remove'; pool: string; yes: boolean }
  | { command: 'pool.lun-list'; pool: string }
  | { command: 'pool.lun-add'; pool: string; name: string; sizeBytes: number }
  /** `yes`: confirmed with --yes (its data is gone). */
  | { command: 'pool.lun-remove'; pool: string; name: string; yes: boolean }
  /** The secret read from --secret-file or TANDEM_CHAP_SECRET (never an argument). */
  | { command: 'pool.chap-set'; pool: string; user: string; secret: string }
  | { command: 'pool.chap-clear'; pool: string }
  | { command: 'cluster.create'; heartbeatInterface: string }
  | { command: 'cluster.join'; peer: string; password: string; peerFingerprint?: string }
  | { command: 'cluster.status' }
  | { command: 'node.offline'; node: string; yes: boolean }
  | { command: 'node.online'; node: string }
  | { command: 'node.remove'; node: string; yes: boolean }
  | { command: 'maintenance'; on: boolean }
  | { command: 'auth.revoke-tokens' }
  | { command: 'replication.settings'; body: ReplicationSettingsBody }
  | { command: 'replication.status'; pool?: string }
  | { command: 'replication.resume'; pool: string }
  | { command: 'replication.keys-rotate'; node: string }
  | { command: 'log'; query: LogQuery }
  | { command: 'events'; entity?: EntityKind; id?: string }
  | { command: 'completion'; shell: 'bash' | 'zsh' }
  | { command: 'nats.keys'; node: string; dir: string }
  | { command: 'nats.authorization'; files: string[]; operator?: string; integrator?: string }
  | { command: 'nats.certs'; node: string; dir: string; addresses: string[] }
  | { command: 'nats.config'; witness: boolean }
  | { command: 'nats.route-secret' }
  | { command: 'share-user.list' }
  /** `password` absent: asked at the terminal (twice). */
  | { command: 'share-user.add'; name: string; password?: string }
  | { command: 'share-user.passwd'; name: string; password?: string }
  | { command: 'share-user.remove'; name: string };

export interface Parsed {
  globals: Globals;
  invocation: Invocation;
}

const MUTATING = new Set<Invocation['command']>([
  'pool.attach',
  'pool.move',
  'pool.mark-usable',
  'pool.detach',
  'pool.export',
  'pool.reattach',
  'pool.remove',
  'pool.schedule-add',
  'pool.schedule-remove',
  'pool.lun-add',
  'pool.lun-remove',
  'pool.chap-set',
  'pool.chap-clear',
  'cluster.create',
  'cluster.join',
  'node.offline',
  'node.online',
  'node.remove',
  'maintenance',
  'auth.revoke-tokens',
  'replication.resume',
  'replication.keys-rotate',
  'share-user.add',
  'share-user.passwd',
  'share-user.remove',
]);
export function isMutating(inv: Invocation): boolean {
  if (inv.command === 'replication.settings') return changesSettings(inv.body);
  return MUTATING.has(inv.command);
}

/** `replication settings` with an option other than --pool changes them; without, it shows them. */
export function changesSettings(body: ReplicationSettingsBody): boolean {
  return Object.keys(body).some((k) => k !== 'pool');
}

const VIP_HINT = 'give floating IPs as --vip INTERFACE:ADDRESS/PREFIX, e.g. --vip cli0:10.77.3.50/24';
const SHARE_HINT =
  'give shares as --share NAME:smb|nfs[:PATH][:ro], e.g. --share data:smb --share-users data=alice or --share backup:nfs:backups:ro; an SMB share needs --share-users NAME=USER,… or --share-guest NAME; limit them with --share-clients NAME=10.77.3.0/24';

/**
 * `--share-clients NAME=CIDR[,CIDR…]` and `--keep-root NAME` applied to the shares given with
 * `--share`: a name that is not one of them, or a network that is not ADDRESS/PREFIX, is refused.
 */
export function withShareAccess(shares: z.input<typeof shareSpecSchema>[], clients: readonly string[], keepRoot: readonly string[]): z.input<typeof shareSpecSchema>[] {
  const named = (share: string, option: string) => {
    const i = shares.findIndex((s) => s.name === share);
    if (i < 0) throw new UsageError(`${option} ${share}: no share of that name is given with --share`, 'shares', SHARE_HINT);
    return i;
  };
  const out = shares.map((s) => ({ ...s }));
  for (const spec of clients) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new UsageError(`--share-clients ${JSON.stringify(spec)}: must be NAME=CIDR[,CIDR…], e.g. files=10.77.3.0/24`, 'shares', SHARE_HINT);
    const i = named(spec.slice(0, eq), '--share-clients');
    const nets = spec
      .slice(eq + 1)
      .split(',')
      .map((c) => c.trim());
    const bad = nets.find((c) => !cidrSchema.safeParse(c).success);
    if (bad !== undefined) throw new UsageError(`--share-clients ${JSON.stringify(spec)}: ${JSON.stringify(bad)} is not ADDRESS/PREFIX (e.g. 10.77.3.0/24)`, `shares.${i}.clients`, SHARE_HINT);
    out[i].clients = [...(out[i].clients ?? []), ...nets];
  }
  for (const share of keepRoot) {
    const i = named(share, '--keep-root');
    if (out[i].protocol !== 'nfs') throw new UsageError(`--keep-root ${share}: only an NFS share squashes root`, `shares.${i}.rootSquash`, SHARE_HINT);
    out[i].rootSquash = false;
  }
  return out;
}

const USER_HINT = 'share users are added with: tandem share user add NAME (tandem share user list shows them)';

/** A share user's name, checked with the contract. */
export function parseShareUser(name: string): string {
  const r = shareUserNameSchema.safeParse(name);
  if (!r.success) throw new UsageError(`NAME ${JSON.stringify(name)}: ${r.error.issues[0]?.message ?? 'invalid'}`, 'name', USER_HINT);
  return name;
}

/** A share user's password, checked with the contract (the same rule the api-gateway applies). */
export function checkSharePassword(password: string): string {
  const r = sharePasswordSchema.safeParse(password);
  if (!r.success) throw new UsageError(`the password ${r.error.issues[0]?.message ?? 'is invalid'}`, 'password', '8-128 characters, no control characters');
  return password;
}

/**
 * `--share-users NAME=USER[,USER…]` and `--share-guest NAME` applied to the SMB shares given with
 * `--share`: a name that is not one of them, or an NFS share, is refused.
 */
export function withShareUsers(shares: z.input<typeof shareSpecSchema>[], users: readonly string[], guests: readonly string[]): z.input<typeof shareSpecSchema>[] {
  const out = shares.map((s) => ({ ...s }));
  const smb = (share: string, option: string) => {
    const i = out.findIndex((s) => s.name === share);
    if (i < 0) throw new UsageError(`${option} ${share}: no share of that name is given with --share`, 'shares', SHARE_HINT);
    if (out[i].protocol !== 'smb') throw new UsageError(`${option} ${share}: only an SMB share has users or guests (limit an NFS share with --share-clients)`, `shares.${i}`, SHARE_HINT);
    return i;
  };
  for (const spec of users) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new UsageError(`--share-users ${JSON.stringify(spec)}: must be NAME=USER[,USER…], e.g. files=alice,bob`, 'shares', SHARE_HINT);
    const i = smb(spec.slice(0, eq), '--share-users');
    const names = spec
      .slice(eq + 1)
      .split(',')
      .map((u) => u.trim());
    const bad = names.find((u) => !shareUserNameSchema.safeParse(u).success);
    if (bad !== undefined) throw new UsageError(`--share-users ${JSON.stringify(spec)}: ${JSON.stringify(bad)} is not a share user name`, `shares.${i}.users`, USER_HINT);
    out[i].users = [...(out[i].users ?? []), ...names];
  }
  for (const share of guests) out[smb(share, '--share-guest')].guest = true;
  return out;
}

/** `--vip IF:ADDRESS/PREFIX`, checked with the contract schema. */
export function parseVip(spec: string, index = 0): string {
  const r = vipSpecSchema.safeParse(spec);
  if (!r.success) throw new UsageError(`--vip ${JSON.stringify(spec)}: ${r.error.issues[0]?.message ?? 'invalid'}`, `vips.${index}`, VIP_HINT);
  return spec;
}

/**
 * `--share NAME:smb|nfs[:PATH][:ro]`: PATH is relative to the pool's mountpoint (default: its
 * root); a trailing `:ro` makes the share read-only (`:rw` is accepted too, so a directory named
 * "ro" is written `data:smb:ro:rw`).
 */
export function parseShare(spec: string, index = 0): z.input<typeof shareSpecSchema> {
  const field = `shares.${index}`;
  const parts = spec.split(':');
  if (parts.length < 2 || parts[0] === '' || parts[1] === '') {
    throw new UsageError(`--share ${JSON.stringify(spec)}: must be NAME:smb|nfs[:PATH][:ro]`, field, SHARE_HINT);
  }
  const [name, protocol, ...rest] = parts;
  let readOnly = false;
  const last = rest[rest.length - 1];
  if (last === 'ro' || last === 'rw') {
    readOnly = last === 'ro';
    rest.pop();
  }
  const share: z.input<typeof shareSpecSchema> = { name, protocol: protocol as 'smb' | 'nfs' };
  const path = rest.join(':');
  if (path !== '') share.path = path;
  if (readOnly) share.readOnly = true;
  const r = shareSpecSchema.safeParse(share);
  if (!r.success) {
    const d = describeZodError(r.error, ['shares', index]);
    throw new UsageError(`--share ${JSON.stringify(spec)}: ${d.message.slice(d.field.length + 2)}`, d.field, SHARE_HINT);
  }
  return share;
}

/** Check a request with the pool-operation contract before anything is sent. */
function checkRequest<O extends PoolOperation>(op: O, req: Record<string, unknown>): void {
  const r = poolOpRequests[op].safeParse(req);
  if (r.success) return;
  const { field, message } = describeZodError(r.error);
  const hint = field.startsWith('vips') ? VIP_HINT : field.startsWith('shares') ? SHARE_HINT : `see: tandem ${op.replace('.', ' ')} --help`;
  const option = field === 'pool' ? 'POOL' : field === 'to' ? '--to' : field === 'node' ? '--node' : null;
  throw new UsageError(option ? `${option}: ${message.slice(field.length + 2)}` : message, field, hint);
}

const LUN_HINT = 'e.g. --lun vm1:64M (NAME:SIZE, SIZE in bytes or with K, M, G, T; a multiple of 512, at least 1M)';

/** A LUN size as given (64M, 10G, bytes), checked with the contract. */
export function parseLunSize(text: string, option: string, field: string): number {
  const bytes = parseLunSizeText(text);
  if (bytes === undefined) throw new UsageError(`${option} ${JSON.stringify(text)}: must be a size in bytes or with K, M, G, T, a multiple of 512 bytes`, field, LUN_HINT);
  const r = lunSizeSchema.safeParse(bytes);
  if (!r.success) throw new UsageError(`${option} ${JSON.stringify(text)}: ${r.error.issues[0]?.message ?? 'invalid'}`, field, LUN_HINT);
  return bytes;
}

/** --lun NAME:SIZE of pool attach. */
export function parseLun(spec: string, index = 0): { name: string; sizeBytes: number } {
  const field = `luns.${index}`;
  const i = spec.lastIndexOf(':');
  if (i <= 0) throw new UsageError(`--lun ${JSON.stringify(spec)}: must be NAME:SIZE`, field, LUN_HINT);
  const name = spec.slice(0, i);
  const r = lunNameSchema.safeParse(name);
  if (!r.success) throw new UsageError(`--lun ${JSON.stringify(spec)}: NAME ${r.error.issues[0]?.message ?? 'invalid'}`, field, LUN_HINT);
  return { name, sizeBytes: parseLunSize(spec.slice(i + 1), '--lun', field) };
}

/** NODE of the node commands, checked with the contract. */
export function parseNode(node: string, command: string): string {
  const r = nodeIdSchema.safeParse(node);
  if (!r.success) throw new UsageError(`NODE: ${r.error.issues[0]?.message ?? 'invalid'}`, 'node', `see the nodes with: tandem cluster status (e.g. tandem ${command} node-b)`);
  return node;
}

/** `--heartbeat-interface IF`, checked with the contract. */
export function parseHeartbeatInterface(iface: string): string {
  const r = interfaceNameSchema.safeParse(iface);
  if (!r.success) {
    throw new UsageError(
      `--heartbeat-interface ${JSON.stringify(iface)}: ${r.error.issues[0]?.message ?? 'invalid'}`,
      'heartbeatInterface',
      'give the interface the nodes hear each other on, the same name on every node, e.g. --heartbeat-interface hb0',
    );
  }
  return iface;
}

/** `maintenance on|off` */
export function parseOnOff(value: string): boolean {
  if (value === 'on' || value === 'off') return value === 'on';
  throw new UsageError(`maintenance ${JSON.stringify(value)}: must be on or off`, 'on', 'tandem maintenance on, or tandem maintenance off');
}

const JOIN_HINT =
  "tandem cluster join --peer IP --peer-fingerprint FP --password-file FILE: IP is the heartbeat address of a node of the cluster, FP the SHA-256 fingerprint of its API certificate (its api-gateway logs it at start), FILE holds that node's admin password (or set TANDEM_PEER_PASSWORD)";

/**
 * The password in `file` (its first line), for --password-file: a password given so never shows
 * in the process list. Unreadable or empty: a usage error naming the option.
 */
export function readPasswordFile(file: string | undefined, option = '--password-file'): string | undefined {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${option} ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, option.slice(2), 'give a file holding the password on its first line');
  }
  const password = text.split(/\r?\n/)[0];
  if (!password) throw new UsageError(`${option} ${file}: its first line is empty`, option.slice(2), 'give a file holding the password on its first line');
  return password;
}

/** `cluster join --peer IP --password PW`, checked with the contract of POST /api/v1/cluster/join. */
export function checkJoin(peer: string, password: string | undefined, peerFingerprint?: string): { peer: string; password: string; peerFingerprint?: string } {
  if (password === undefined) throw new UsageError('cluster join needs the admin password of the node at --peer: --password-file FILE, TANDEM_PEER_PASSWORD, or --password', 'password', JOIN_HINT);
  const r = joinClusterRequestSchema.safeParse({ peer, password, ...(peerFingerprint !== undefined ? { peerFingerprint } : {}) });
  if (!r.success) {
    const { field, message } = describeZodError(r.error);
    const option = field === 'peerFingerprint' ? 'peer-fingerprint' : field;
    throw new UsageError(`--${option}${field === 'peer' ? ` ${JSON.stringify(peer)}` : ''}: ${message.slice(field.length + 2)}`, field, JOIN_HINT);
  }
  return peerFingerprint !== undefined ? { peer, password, peerFingerprint } : { peer, password };
}

const SETTINGS_HINT = 'durations are a whole number followed by s, m, h or d, e.g. --snapshot-interval 15m --pull-interval 3m --stall-timeout 1m; see tandem replication settings --help';
const SSH_HINT = "give each node's replication address as --ssh-address NODE=IP (repeat for several), e.g. --ssh-address node-b=10.77.1.12";

/** The option of `replication settings` behind each field of the contract. */
const SETTINGS_OPTIONS: Record<string, string> = {
  pool: '--pool',
  snapshotInterval: '--snapshot-interval',
  retention: '--retention',
  pullInterval: '--pull-interval',
  stallTimeout: '--stall-timeout',
  sshAddresses: '--ssh-address',
};

/** `--ssh-address NODE=IP`: the node id and the address, each checked with the contract. */
export function parseSshAddress(spec: string): [string, string] {
  const i = spec.indexOf('=');
  if (i <= 0 || i === spec.length - 1) throw new UsageError(`--ssh-address ${JSON.stringify(spec)}: must be NODE=IP`, 'sshAddresses', SSH_HINT);
  const node = spec.slice(0, i);
  const ip = spec.slice(i + 1);
  const n = nodeIdSchema.safeParse(node);
  if (!n.success) throw new UsageError(`--ssh-address ${JSON.stringify(spec)}: node ${JSON.stringify(node)} ${n.error.issues[0]?.message ?? 'is invalid'}`, 'sshAddresses', SSH_HINT);
  const a = ipAddressSchema.safeParse(ip);
  if (!a.success) throw new UsageError(`--ssh-address ${JSON.stringify(spec)}: ${JSON.stringify(ip)} ${a.error.issues[0]?.message ?? 'is invalid'}`, `sshAddresses.${node}`, SSH_HINT);
  return [node, ip];
}

/** Every --ssh-address, as the contract's NODE → IP record; a node given twice is refused. */
export function parseSshAddresses(specs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const [node, ip] = parseSshAddress(spec);
    if (node in out) throw new UsageError(`--ssh-address: ${node} is given twice (${out[node]} and ${ip})`, `sshAddresses.${node}`, SSH_HINT);
    out[node] = ip;
  }
  return out;
}

function wholeNumber(option: string, field: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new UsageError(`${option} ${JSON.stringify(value)}: must be a whole number`, field, SETTINGS_HINT);
    return Number(value);
  };
}

interface SettingsOptions {
  pool?: string;
  snapshotInterval?: string;
  retention?: number;
  pullInterval?: string;
  stallTimeout?: string;
  sshAddress: string[];
}

/**
 * `replication settings` into the body of PUT /api/v1/replication/settings, checked with the
 * contract: durations are passed on as given (the contract parses `15m`), a wrong value is
 * refused naming its option.
 */
export function settingsBody(opts: SettingsOptions): ReplicationSettingsBody {
  const body: ReplicationSettingsBody = {};
  if (opts.pool !== undefined) body.pool = opts.pool;
  if (opts.snapshotInterval !== undefined) body.snapshotInterval = opts.snapshotInterval;
  if (opts.retention !== undefined) body.retention = opts.retention;
  if (opts.pullInterval !== undefined) body.pullInterval = opts.pullInterval;
  if (opts.stallTimeout !== undefined) body.stallTimeout = opts.stallTimeout;
  if (opts.sshAddress.length) {
    if (opts.pool !== undefined) throw new UsageError("--ssh-address: a node's replication address is cluster-wide, not per pool (leave --pool out)", 'sshAddresses', SSH_HINT);
    body.sshAddresses = parseSshAddresses(opts.sshAddress);
  }
  const r = clusterOpRequests['replication.settings'].safeParse(body);
  if (!r.success) {
    const { field, message } = describeZodError(r.error);
    const option = SETTINGS_OPTIONS[field.split('.')[0]];
    throw new UsageError(option ? `${option}: ${message.slice(field.length + 2)}` : message, field, field.startsWith('sshAddresses') ? SSH_HINT : SETTINGS_HINT);
  }
  return body;
}

/** POOL of the replication commands, checked with the contract. */
export function parsePool(pool: string, command: string): string {
  const r = poolNameSchema.safeParse(pool);
  if (!r.success) throw new UsageError(`POOL: ${r.error.issues[0]?.message ?? 'invalid'}`, 'pool', `see the replicated pools with: tandem replication status (e.g. tandem ${command} tank)`);
  return pool;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1000) throw new UsageError(`--limit ${JSON.stringify(value)}: must be a whole number from 1 to 1000`, 'limit');
  return Number(value);
}

export interface ProgramOutput {
  writeOut(s: string): void;
  writeErr(s: string): void;
}

/**
 * The command tree. Actions only record what was asked (`onInvocation`); running it is someone
 * else's job, so parsing is testable without a server.
 */
export function createProgram(onInvocation: (inv: Invocation, cmd: Command) => void, output: ProgramOutput, env: NodeJS.ProcessEnv = process.env): Command {
  const program = new Command('tandem');
  program
    .description("Operate a Tandem cluster through any node's api-gateway")
    .configureOutput({ writeOut: output.writeOut, writeErr: output.writeErr, outputError: (s, write) => write(s.replace(/^error: /, 'tandem: ')) })
    .exitOverride()
    .version(productVersion(), '-V, --version', 'the version of tandem')
    .showSuggestionAfterError(true)
    .showHelpAfterError('hint: see tandem --help, or tandem COMMAND --help')
    .addOption(new Option('--api <urls>', `API of any node, or several comma-separated: the first that answers is used (env TANDEM_API, default ${DEFAULT_API})`))
    .option('--json', 'machine-readable output (JSON)')
    .addOption(new Option('--password <password>', 'admin password for changes (prefer --password-file or env TANDEM_PASSWORD: arguments are visible to other users)'))
    .addOption(new Option('--password-file <file>', 'read the admin password from the first line of FILE'))
    .addOption(new Option('--api-ca <file>', "an https:// API's certificate is trusted when this CA signed it (env TANDEM_API_CA_FILE)"))
    .addOption(new Option('--api-fingerprint <FP>', "an https:// API's certificate is trusted when it has this SHA-256 fingerprint (env TANDEM_API_FINGERPRINT; logged by the api-gateway at start)"))
    .addHelpText(
      'after',
      '\nReads need no password (unless the API is set to TANDEM_API_READS=authenticated); changes (cluster create/join, node offline/online/remove, maintenance,\n' +
        'auth revoke-tokens, pool attach/move/mark-usable/detach/export/reattach/remove, replication settings with a change, replication resume,\n' +
        'replication keys rotate, share user add/passwd/remove) do.\nExit codes: 0 done, 1 the operation failed, 2 usage error.',
    );

  const cluster = program.command('cluster').description('the cluster: form it, join nodes to it, its status');

  cluster
    .command('create')
    .description('form the cluster on the node of the API (--api), its first member')
    .requiredOption('--heartbeat-interface <IF>', 'the interface the nodes hear each other on (the same name on every node)')
    .action((opts: { heartbeatInterface: string }, cmd: Command) => {
      onInvocation({ command: 'cluster.create', heartbeatInterface: parseHeartbeatInterface(opts.heartbeatInterface) }, cmd);
    });

  cluster
    .command('join')
    .description('join the node of the API (--api) to the cluster of the node at --peer')
    .usage('--peer IP --peer-fingerprint FP (--password-file FILE | --password PW) [--local-password PW]')
    .requiredOption('--peer <IP>', 'heartbeat address of a node of the cluster (its api-gateway is called there, over HTTPS)')
    .option(
      '--peer-fingerprint <FP>',
      "SHA-256 fingerprint of the peer's API certificate (AB:CD:…, logged by its api-gateway at start): nothing is sent to a node showing another; without it the join is refused, showing the fingerprint the peer presented",
    )
    .addOption(new Option('--local-password <password>', 'admin password of the node of the API, when it differs (env TANDEM_PASSWORD; default: --password)'))
    .addHelpText(
      'after',
      [
        '',
        'The password of the peer (required here): --password-file FILE (its first line),',
        'env TANDEM_PEER_PASSWORD, or --password PW (visible to other users of this machine).',
        "This node's api-gateway gets a token from the peer with it.",
      ].join('\n'),
    )
    .action((opts: { peer: string; peerFingerprint?: string }, cmd: Command) => {
      // --password is also the global option: commander gives it to the program wherever it is written.
      const o = cmd.optsWithGlobals<{ password?: string; passwordFile?: string }>();
      const password = o.password ?? readPasswordFile(o.passwordFile) ?? (env.TANDEM_PEER_PASSWORD || undefined);
      onInvocation({ command: 'cluster.join', ...checkJoin(opts.peer, password, opts.peerFingerprint) }, cmd);
    });

  cluster
    .command('status')
    .description('the cluster, its nodes, their state, health, heartbeat and pools')
    .action((_opts, cmd: Command) => onInvocation({ command: 'cluster.status' }, cmd));

  const node = program.command('node').description('the nodes of the cluster');

  node
    .command('offline')
    .description('take a node offline: its pools move to other online nodes first (the last online node ends the cluster: needs --yes)')
    .argument('<node>', 'node id')
    .option('--yes', 'confirm ending the cluster when NODE is its last online node')
    .action((id: string, opts: { yes?: boolean }, cmd: Command) => onInvocation({ command: 'node.offline', node: parseNode(id, 'node offline'), yes: opts.yes === true }, cmd));

  node
    .command('online')
    .description('bring an offline node back online')
    .argument('<node>', 'node id')
    .action((id: string, _opts, cmd: Command) => onInvocation({ command: 'node.online', node: parseNode(id, 'node online') }, cmd));

  node
    .command('remove')
    .description('remove an offline node from the cluster (asks to confirm at a terminal)')
    .argument('<node>', 'node id')
    .option('--yes', 'confirm without being asked (needed when not at a terminal)')
    .action((id: string, opts: { yes?: boolean }, cmd: Command) => onInvocation({ command: 'node.remove', node: parseNode(id, 'node remove'), yes: opts.yes === true }, cmd));

  program
    .command('maintenance')
    .description('maintenance mode: while on, nothing moves automatically')
    .argument('<on|off>', 'on or off')
    .action((value: string, _opts, cmd: Command) => onInvocation({ command: 'maintenance', on: parseOnOff(value) }, cmd));

  program
    .command('auth')
    .description('API credentials')
    .command('revoke-tokens')
    .description('every API token issued until now stops working, on every node (logins with the password go on)')
    .action((_opts, cmd: Command) => onInvocation({ command: 'auth.revoke-tokens' }, cmd));

  const pool = program.command('pool').description('HA pools under cluster control');

  pool
    .command('list')
    .description('list the HA pools')
    .action((_opts, cmd: Command) => onInvocation({ command: 'pool.list' }, cmd));

  pool
    .command('importable')
    .description('the pools a node could import: what pool attach can take there')
    .argument('<node>', 'node id')
    .action((id: string, _opts, cmd: Command) => onInvocation({ command: 'pool.importable', node: parseNode(id, 'pool importable') }, cmd));

  pool
    .command('show')
    .description('show one HA pool')
    .argument('<pool>', 'pool name')
    .action((name: string, _opts, cmd: Command) => {
      checkRequest('pool.get', { pool: name });
      onInvocation({ command: 'pool.show', pool: name }, cmd);
    });

  pool
    .command('attach')
    .description('put a pool under cluster control, served on a node')
    .argument('<pool>', 'pool name')
    .requiredOption('--node <node>', 'node to serve it on')
    .option('--vip <IF:ADDRESS/PREFIX>', 'floating IP (repeat for several)', collect, [])
    .option('--fc', "also served over Fibre Channel: the pool's LUNs through every node's FC target ports (no floating IP needed)")
    .option('--lun <NAME:SIZE>', 'iSCSI LUN made in the pool and served on its floating IPs, e.g. vm1:64M (repeat for several)', collect, [])
    .option('--share <NAME:smb|nfs[:PATH][:ro]>', 'share to start with the pool (repeat for several)', collect, [])
    .option('--share-clients <NAME=CIDR[,CIDR…]>', 'only these client networks may use share NAME (repeat for several shares; default: every client)', collect, [])
    .option('--keep-root <NAME>', "NFS share NAME: a client's root stays root (no root squash; by default it acts as nobody)", collect, [])
    .option('--share-users <NAME=USER[,USER…]>', 'SMB share NAME lets in only these share users (tandem share user add), each acting as its own account (repeat for several shares)', collect, [])
    .option('--share-guest <NAME>', 'SMB share NAME lets anyone in without a password, acting as the unprivileged guest account (repeat for several shares)', collect, [])
    .option('--replicated', 'shared nothing: every node has its own pool of this name, kept in sync by snapshot replication; --node serves it first')
    .option('--no-wait', 'with --replicated: do not follow the first sync (by default it is shown until it ends, at most 10 minutes)')
    .action(
      (
        name: string,
        opts: {
          node: string;
          vip: string[];
          fc?: boolean;
          lun: string[];
          share: string[];
          shareClients: string[];
          keepRoot: string[];
          shareUsers: string[];
          shareGuest: string[];
          replicated?: boolean;
          wait: boolean;
        },
        cmd: Command,
      ) => {
        const body: AttachBody = {
          pool: name,
          node: opts.node,
          vips: opts.vip.map((v, i) => parseVip(v, i)),
          fc: opts.fc === true,
          shares: withShareUsers(
            withShareAccess(
              opts.share.map((s, i) => parseShare(s, i)),
              opts.shareClients,
              opts.keepRoot,
            ),
            opts.shareUsers,
            opts.shareGuest,
          ),
        };
        if (opts.lun.length) body.luns = opts.lun.map((l, i) => parseLun(l, i));
        if (opts.replicated) body.replicated = true;
        checkRequest('pool.attach', body);
        onInvocation({ command: 'pool.attach', body, wait: opts.replicated === true && opts.wait }, cmd);
      },
    );

  pool
    .command('move')
    .description('move a serving pool to another node')
    .argument('<pool>', 'pool name')
    .requiredOption('--to <node>', 'target node')
    .action((name: string, opts: { to: string }, cmd: Command) => {
      checkRequest('pool.move', { pool: name, to: opts.to });
      onInvocation({ command: 'pool.move', pool: name, to: opts.to }, cmd);
    });

  pool
    .command('mark-usable')
    .description('let a pool run on a node again after it failed there (automatic failover never sends it back by itself)')
    .argument('<pool>', 'pool name')
    .requiredOption('--node <node>', 'the node it may run on again')
    .action((name: string, opts: { node: string }, cmd: Command) => {
      checkRequest('pool.mark-usable', { pool: name, node: opts.node });
      onInvocation({ command: 'pool.mark-usable', pool: name, node: opts.node }, cmd);
    });

  for (const [verb, text, confirm] of [
    ['detach', 'drop a pool from cluster control, leaving it running unmanaged where it is', false],
    ['export', 'stop serving and export a pool (it stays under cluster control, inactive; asks to confirm at a terminal)', true],
    ['remove', 'drop an inactive pool from cluster control (asks to confirm at a terminal)', true],
  ] as const) {
    const c = pool.command(verb).description(text).argument('<pool>', 'pool name');
    if (confirm) c.option('--yes', 'confirm without being asked (needed when not at a terminal)');
    c.action((name: string, opts: { yes?: boolean }, cmd: Command) => {
      checkRequest(`pool.${verb}`, { pool: name });
      onInvocation(verb === 'detach' ? { command: 'pool.detach', pool: name } : { command: `pool.${verb}`, pool: name, yes: opts.yes === true }, cmd);
    });
  }

  pool
    .command('reattach')
    .description('serve an inactive pool on a node again')
    .argument('<pool>', 'pool name')
    .requiredOption('--node <node>', 'node to serve it on')
    .action((name: string, opts: { node: string }, cmd: Command) => {
      checkRequest('pool.reattach', { pool: name, node: opts.node });
      onInvocation({ command: 'pool.reattach', pool: name, node: opts.node }, cmd);
    });

  const schedule = pool.command('schedule').description('snapshot schedules of a pool: carried out by whichever node serves it, so they follow it through moves and failovers');
  schedule
    .command('add')
    .description('add a snapshot schedule to a pool (one of that name is replaced): every INTERVAL a recursive snapshot tandem-NAME-YYYYMMDD-HHMMSS, the newest KEEP kept')
    .argument('<pool>', 'pool name')
    .argument('<name>', 'schedule name: lower-case letters, digits and hyphens, starting with a letter (e.g. hourly)')
    .requiredOption('--every <interval>', 'how often: a whole number with s, m, h or d (15m, 1h, 1d); at least 10s')
    .requiredOption('--keep <n>', 'how many of its snapshots to keep (1-1000)')
    .action((name: string, sched: string, opts: { every: string; keep: string }, cmd: Command) => {
      if (!/^\d{1,4}$/.test(opts.keep)) throw new UsageError(`--keep: "${opts.keep.slice(0, 20)}" is not a whole number from 1 to 1000`, 'keep', 'see: tandem pool schedule add --help');
      const keep = Number(opts.keep);
      const r = poolOpRequests['pool.schedule-add'].safeParse({ pool: name, name: sched, every: opts.every, keep });
      if (!r.success) {
        const { field, message } = describeZodError(r.error);
        const option = field === 'pool' ? 'POOL' : field === 'name' ? 'NAME' : `--${field}`;
        throw new UsageError(`${option}: ${message.slice(field.length + 2)}`, field, 'see: tandem pool schedule add --help');
      }
      onInvocation({ command: 'pool.schedule-add', pool: name, name: sched, every: opts.every, keep }, cmd);
    });
  schedule
    .command('remove')
    .description('remove a snapshot schedule of a pool (the snapshots it took stay)')
    .argument('<pool>', 'pool name')
    .argument('<name>', 'schedule name')
    .action((name: string, sched: string, _opts: unknown, cmd: Command) => {
      checkRequest('pool.schedule-remove', { pool: name, name: sched });
      onInvocation({ command: 'pool.schedule-remove', pool: name, name: sched }, cmd);
    });
  schedule
    .command('list')
    .description('the snapshot schedules of a pool')
    .argument('<pool>', 'pool name')
    .action((name: string, _opts: unknown, cmd: Command) => {
      checkRequest('pool.get', { pool: name });
      onInvocation({ command: 'pool.schedule-list', pool: name }, cmd);
    });

  const lun = pool.command('lun').description('iSCSI LUNs of a pool (and over FC with --fc): one target per pool, the same IQN, LUN numbers, serials and identifiers on every node');
  lun
    .command('list')
    .description("the pool's target: IQN, portals, and each LUN's number, size, serial and device identifier")
    .argument('<pool>', 'pool name')
    .action((name: string, _opts, cmd: Command) => {
      checkRequest('pool.lun-list', { pool: name });
      onInvocation({ command: 'pool.lun-list', pool: name }, cmd);
    });
  lun
    .command('add')
    .description("add a LUN: made in the pool (a zvol, or a file where the node's ZFS has no zvols) and served at once")
    .argument('<pool>', 'pool name')
    .argument('<name>', 'LUN name: 1-64 letters, digits, _ -')
    .requiredOption('--size <SIZE>', 'its size: bytes, or with K, M, G, T (e.g. 64M)')
    .action((pool: string, name: string, opts: { size: string }, cmd: Command) => {
      const sizeBytes = parseLunSize(opts.size, '--size', 'sizeBytes');
      checkRequest('pool.lun-add', { pool, name, sizeBytes });
      onInvocation({ command: 'pool.lun-add', pool, name, sizeBytes }, cmd);
    });
  lun
    .command('remove')
    .description('take a LUN out of the target and destroy it (its data is gone; asks to confirm at a terminal)')
    .argument('<pool>', 'pool name')
    .argument('<name>', 'LUN name')
    .option('--yes', 'confirm without being asked (needed when not at a terminal)')
    .action((pool: string, name: string, opts: { yes?: boolean }, cmd: Command) => {
      checkRequest('pool.lun-remove', { pool, name });
      onInvocation({ command: 'pool.lun-remove', pool, name, yes: opts.yes === true }, cmd);
    });

  const chap = pool.command('chap').description("CHAP of a pool's iSCSI target: initiators log in with it, on whichever node serves the pool");
  chap
    .command('set')
    .description('initiators must log in with CHAP as USER (a running target is started again: open sessions end)')
    .argument('<pool>', 'pool name')
    .requiredOption('--user <user>', 'the CHAP user: 1-64 letters, digits, _ . : @ -')
    .option('--secret-file <file>', 'read the secret from the first line of FILE (or set TANDEM_CHAP_SECRET): 12-16 printable characters without spaces')
    .action((pool: string, opts: { user: string; secretFile?: string }, cmd: Command) => {
      const secret = readPasswordFile(opts.secretFile, '--secret-file') ?? (env.TANDEM_CHAP_SECRET || undefined);
      if (secret === undefined)
        throw new UsageError('pool chap set needs the secret: --secret-file FILE or env TANDEM_CHAP_SECRET', 'secret', 'e.g. tandem pool chap set tank --user esx1 --secret-file /root/chap-secret');
      checkRequest('pool.chap-set', { pool, user: opts.user, secret });
      onInvocation({ command: 'pool.chap-set', pool, user: opts.user, secret }, cmd);
    });
  chap
    .command('clear')
    .description('let initiators in without CHAP again (a running target is started again)')
    .argument('<pool>', 'pool name')
    .action((pool: string, _opts, cmd: Command) => {
      checkRequest('pool.chap-clear', { pool });
      onInvocation({ command: 'pool.chap-clear', pool }, cmd);
    });

  const share = program.command('share').description('SMB share users: the logins of the SMB shares, the same on every node');
  const shareUser = share.command('user').description('share users (each a unix account of the same uid on every node; its password kept only as its NT hash)');
  const userPassword = (name: string, opts: { userPasswordFile?: string }): string | undefined => {
    const p = readPasswordFile(opts.userPasswordFile, '--user-password-file') ?? (env.TANDEM_SHARE_PASSWORD || undefined);
    if (p !== undefined) checkSharePassword(p);
    parseShareUser(name);
    return p;
  };
  const passwordHelp = '\nThe new password: --user-password-file FILE (its first line), env TANDEM_SHARE_PASSWORD, or asked at the terminal (twice). 8-128 characters.';
  shareUser
    .command('list')
    .description('the share users: uid, when added and password set, the SMB shares that let each in')
    .action((_opts, cmd: Command) => onInvocation({ command: 'share-user.list' }, cmd));
  shareUser
    .command('add')
    .description('add a share user (every node makes its account); let it into SMB shares with pool attach --share-users')
    .argument('<name>', 'user name: 1-32 lower-case letters, digits, _ -, starting with a letter or _')
    .option('--user-password-file <file>', "read the user's password from the first line of FILE")
    .addHelpText('after', passwordHelp)
    .action((name: string, opts: { userPasswordFile?: string }, cmd: Command) => {
      const password = userPassword(name, opts);
      onInvocation(password === undefined ? { command: 'share-user.add', name } : { command: 'share-user.add', name, password }, cmd);
    });
  shareUser
    .command('passwd')
    .description("set a share user's password (on every node, from its next login)")
    .argument('<name>', 'user name')
    .option('--user-password-file <file>', "read the user's new password from the first line of FILE")
    .addHelpText('after', passwordHelp)
    .action((name: string, opts: { userPasswordFile?: string }, cmd: Command) => {
      const password = userPassword(name, opts);
      onInvocation(password === undefined ? { command: 'share-user.passwd', name } : { command: 'share-user.passwd', name, password }, cmd);
    });
  shareUser
    .command('remove')
    .description('remove a share user (refused while an SMB share lets it in); its uid is never given again')
    .argument('<name>', 'user name')
    .action((name: string, _opts, cmd: Command) => onInvocation({ command: 'share-user.remove', name: parseShareUser(name) }, cmd));

  const replication = program.command('replication').description('shared-nothing (replicated) pools: settings, status, resuming sync, replication keys');

  replication
    .command('settings')
    .description('show the replication settings (no option but --pool), or change them: cluster-wide, or of one pool with --pool')
    .option('--pool <pool>', 'a replicated pool: its own settings (overriding the cluster-wide ones)')
    .option('--snapshot-interval <duration>', "the active node's snapshot interval, e.g. 15m (s, m, h, d)")
    .option('--retention <n>', 'how many of its snapshots the active node keeps, e.g. 24', wholeNumber('--retention', 'retention'))
    .option('--pull-interval <duration>', 'how often a passive node pulls the snapshots it misses, e.g. 3m')
    .option('--stall-timeout <duration>', 'a transfer moving no byte this long is killed and retried, e.g. 1m')
    .option('--ssh-address <NODE=IP>', "where a node's replication SSH endpoint is reached (cluster-wide; repeat for several)", collect, [])
    .action((opts: SettingsOptions, cmd: Command) => onInvocation({ command: 'replication.settings', body: settingsBody(opts) }, cmd));

  replication
    .command('status')
    .description('the replication of every replicated pool, or of one: state, lag, newest common snapshot, last transfer, next snapshot and pull')
    .argument('[pool]', 'pool name')
    .action((name: string | undefined, _opts, cmd: Command) =>
      onInvocation(name === undefined ? { command: 'replication.status' } : { command: 'replication.status', pool: parsePool(name, 'replication status') }, cmd),
    );

  replication
    .command('resume')
    .description("after an automatic failover locked sync: keep the old active's diverged data aside and sync again, from the new active")
    .argument('<pool>', 'pool name')
    .action((name: string, _opts, cmd: Command) => onInvocation({ command: 'replication.resume', pool: parsePool(name, 'replication resume') }, cmd));

  const keys = replication.command('keys').description("a node's replication SSH keys");
  keys
    .command('rotate')
    .description("replace a node's replication keys (the old ones stay valid until the new ones are pinned on every node)")
    .requiredOption('--node <node>', 'the node')
    .action((opts: { node: string }, cmd: Command) => {
      const r = nodeIdSchema.safeParse(opts.node);
      if (!r.success) throw new UsageError(`--node: ${r.error.issues[0]?.message ?? 'invalid'}`, 'node', 'see the nodes with: tandem cluster status');
      onInvocation({ command: 'replication.keys-rotate', node: opts.node }, cmd);
    });

  program
    .command('log')
    .description('the activity log: the last entries, oldest first; the cursor of the entries before them is printed on stderr (--before)')
    .option('--limit <n>', 'how many entries (1-1000)', positiveInt, 20)
    .option('--before <cursor>', 'the entries before this cursor (printed by the page after them)')
    .option('--pool <pool>', 'only the entries about this pool')
    .option('--node <node>', 'only the entries about this node')
    .addOption(new Option('--result <result>', 'only the entries of this result').choices(['started', 'succeeded', 'failed']))
    .action((opts: LogQuery, cmd: Command) => onInvocation({ command: 'log', query: logQuery(opts) }, cmd));

  program
    .command('events')
    .description('follow the event feed (Ctrl+C to stop); it resumes where it was after the connection drops')
    .addOption(new Option('--entity <kind>', 'only the events about this kind of entity').choices([...ENTITY_KINDS]))
    .option('--id <id>', 'with --entity: only the events about this one (a pool name, a node id ...)')
    .action((opts: { entity?: EntityKind; id?: string }, cmd: Command) => onInvocation({ command: 'events', ...eventsFilter(opts) }, cmd));

  program
    .command('completion')
    .description('print a completion script for bash or zsh (e.g. source <(tandem completion bash))')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string, _opts, cmd: Command) => {
      if (shell !== 'bash' && shell !== 'zsh') throw new UsageError(`completion ${JSON.stringify(shell)}: must be bash or zsh`, 'shell', 'e.g. source <(tandem completion bash)');
      onInvocation({ command: 'completion', shell }, cmd);
    });

  const nats = program.command('nats').description("the cluster's NATS identities (run on the nodes, no API needed)");
  nats
    .command('keys')
    .description("make this node's NATS identities: one nkey seed per service (DIR/<service>.seed, mode 0600) and DIR/public-keys.json; seeds already there are kept")
    .requiredOption('--node <node>', "this node's id (TANDEM_NODE_ID)")
    .requiredOption('--dir <dir>', 'where to write them (e.g. /etc/tandem/nats)')
    .action((opts: { node: string; dir: string }, cmd: Command) => onInvocation({ command: 'nats.keys', node: parseNode(opts.node, 'nats keys --node'), dir: opts.dir }, cmd));
  nats
    .command('authorization')
    .description("print the NATS servers' authorization block from every node's public-keys.json (include it in each server's configuration)")
    .argument('<public-keys...>', "every node's public-keys.json")
    .option('--operator <key>', "an operator's nkey public key (U…): no restriction")
    .option('--integrator <key>', "an integrator's nkey public key (U…): the events only")
    .action((files: string[], opts: { operator?: string; integrator?: string }, cmd: Command) => {
      const inv: Invocation = { command: 'nats.authorization', files };
      if (opts.operator !== undefined) inv.operator = opts.operator;
      if (opts.integrator !== undefined) inv.integrator = opts.integrator;
      onInvocation(inv, cmd);
    });

  nats
    .command('config')
    .description("print a NATS server's configuration for production (deploy/nats.conf; with --witness deploy/nats-witness.conf): the same generator the testbed runs")
    .option('--witness', "the witness's server")
    .action((opts: { witness?: boolean }, cmd: Command) => onInvocation({ command: 'nats.config', witness: opts.witness === true }, cmd));
  nats
    .command('route-secret')
    .description(
      "print a new secret for the servers' routes (TANDEM_NATS_ROUTE_SECRET, the same on every node and the witness, and in every route URL): letters and digits beginning with a letter, which nats-server never reads as a number",
    )
    .action((_opts: unknown, cmd: Command) => onInvocation({ command: 'nats.route-secret' }, cmd));
  nats
    .command('certs')
    .description(
      "make the cluster's TLS certificates: the CA (DIR/ca.pem, DIR/ca.key, made on the first run and kept) and NODE's certificate for its NATS server (DIR/NODE.pem, DIR/NODE.key, keys mode 0600), naming the node, loopback and every address given. Run it for every node and the witness in one DIR, then copy ca.pem and each node's two files to that node (ca.key stays where it is)",
    )
    .requiredOption('--node <node>', 'the node (or witness) the certificate is for')
    .requiredOption('--dir <dir>', 'where the CA is kept and the certificate is written (e.g. secrets/nats-tls)')
    .requiredOption('--address <ip>', "the node's addresses its server is reached at (admin, heartbeat), comma-separated or repeated", (v: string, prev: string[] = []) => [
      ...prev,
      ...v
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean),
    ])
    .action((opts: { node: string; dir: string; address: string[] }, cmd: Command) =>
      onInvocation({ command: 'nats.certs', node: parseNode(opts.node, 'nats certs --node'), dir: opts.dir, addresses: opts.address }, cmd),
    );

  return program;
}

const API_HINT = 'e.g. --api http://10.77.2.11:8080, or several: --api https://10.77.2.11:8080,https://10.77.2.12:8080 (or set TANDEM_API)';

/** `--api URL[,URL…]`: every one an http:// or https:// URL (a trailing / dropped). */
export function parseApis(value: string): string[] {
  const apis = value
    .split(',')
    .map((a) => a.trim().replace(/\/+$/, ''))
    .filter(Boolean);
  if (apis.length === 0) throw new UsageError(`--api ${JSON.stringify(value)}: give at least one URL`, 'api', API_HINT);
  for (const api of apis) {
    let url: URL | undefined;
    try {
      url = new URL(api);
    } catch {
      url = undefined;
    }
    if (url?.protocol !== 'http:' && url?.protocol !== 'https:') throw new UsageError(`--api ${JSON.stringify(api)}: must be an http:// or https:// URL`, 'api', API_HINT);
  }
  return apis;
}

/** `tandem log`'s options, checked with the contract of GET /api/v1/activity. */
export function logQuery(opts: LogQuery): LogQuery {
  const query: LogQuery = { limit: opts.limit };
  for (const k of ['before', 'pool', 'node', 'result'] as const) if (opts[k] !== undefined) Object.assign(query, { [k]: opts[k] });
  const r = activityQuerySchema.safeParse(query);
  if (!r.success) {
    const { field, message } = describeZodError(r.error);
    throw new UsageError(`--${message}`, field, 'see: tandem log --help');
  }
  return query;
}

/** `tandem events --entity KIND [--id ID]`, checked with the contract of GET /api/v1/events. */
export function eventsFilter(opts: { entity?: EntityKind; id?: string }): { entity?: EntityKind; id?: string } {
  if (opts.id !== undefined && opts.entity === undefined) throw new UsageError('--id: needs --entity, e.g. --entity pool --id tank', 'id', 'see: tandem events --help');
  const filter = { ...(opts.entity !== undefined ? { entity: opts.entity } : {}), ...(opts.id !== undefined ? { id: opts.id } : {}) };
  const r = eventsQuerySchema.safeParse(filter);
  if (!r.success) {
    const { field, message } = describeZodError(r.error);
    throw new UsageError(`--${message}`, field, 'see: tandem events --help');
  }
  return filter;
}

function globalsFrom(cmd: Command, env: NodeJS.ProcessEnv): Globals {
  const o = cmd.optsWithGlobals<{ api?: string; json?: boolean; password?: string; passwordFile?: string; apiCa?: string; apiFingerprint?: string }>();
  const api = parseApis(o.api ?? (env.TANDEM_API || DEFAULT_API));
  const password = o.password ?? readPasswordFile(o.passwordFile) ?? (env.TANDEM_PASSWORD || undefined);
  const g: Globals = { api, json: o.json === true };
  if (password !== undefined) g.password = password;
  const fingerprint = o.apiFingerprint ?? (env.TANDEM_API_FINGERPRINT || undefined);
  const caFile = o.apiCa ?? (env.TANDEM_API_CA_FILE || undefined);
  if (fingerprint !== undefined) {
    const r = joinClusterRequestSchema.shape.peerFingerprint.safeParse(fingerprint);
    if (!r.success) throw new UsageError(`--api-fingerprint ${JSON.stringify(fingerprint)}: ${r.error.issues[0]?.message}`, 'api-fingerprint');
    g.apiTrust = { fingerprint };
  } else if (caFile !== undefined) {
    let ca: string;
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (err) {
      throw new UsageError(`--api-ca ${caFile}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'api-ca');
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--api-ca ${caFile}: holds no PEM certificate`, 'api-ca');
    g.apiTrust = { ca };
  }
  return g;
}

/**
 * Parse a command line (without `node` and the script) into what to do. Throws UsageError for
 * a wrong value, CommanderError for commander's own usage errors (already printed to
 * `output`), HelpShown after --help.
 */
export function parseArgs(args: readonly string[], env: NodeJS.ProcessEnv = process.env, output: ProgramOutput = { writeOut: () => undefined, writeErr: () => undefined }): Parsed {
  let parsed: Parsed | undefined;
  const program = createProgram(
    (invocation, cmd) => {
      const globals = globalsFrom(cmd, env);
      if (invocation.command === 'cluster.join') {
        // --password is the peer's; this node's gateway is asked with its own password, if given.
        globals.password = cmd.opts<{ localPassword?: string }>().localPassword ?? (env.TANDEM_PASSWORD || undefined) ?? invocation.password;
      }
      if (isMutating(invocation) && globals.password === undefined) {
        const name =
          invocation.command === 'replication.keys-rotate'
            ? 'replication keys rotate'
            : invocation.command.startsWith('share-user.')
              ? `share user ${invocation.command.slice(11)}`
              : invocation.command.replace('.', ' ');
        throw new UsageError(`${name} changes the cluster and needs the admin password`, 'password', 'set TANDEM_PASSWORD, or give --password-file FILE');
      }
      parsed = { globals, invocation };
    },
    output,
    env,
  );
  try {
    program.parse([...args], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError && (err.code === 'commander.helpDisplayed' || err.code === 'commander.version')) throw new HelpShown();
    throw err;
  }
  if (!parsed) throw new UsageError('no command given', undefined, 'see: tandem --help');
  return parsed;
}
