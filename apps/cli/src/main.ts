import { CommanderError } from 'commander';
import {
  ApiPaths,
  ErrorCode,
  problemType,
  type ActivityEntry,
  type ClusterOpResults,
  type ClusterStatus,
  type HaPool,
  type ImportablePool,
  type PoolLuns,
  type PoolOpResults,
  type ProblemDetails,
  type ReplicationPoolStatus,
  type ShareUserInfo,
  type SnapshotSchedule,
  activityNextCursor,
  productionNatsConfig,
} from '@tandem/contracts';
import { HelpShown, UsageError, changesSettings, checkSharePassword, createProgram, parseArgs, type Parsed } from './args';
import { bashCompletion, zshCompletion } from './completion';
import { read } from 'read';
import { ApiClient, ApiError } from './client';
import { offlineDecision, offlineDone } from './cluster';
import {
  Progress,
  activityTable,
  schedulesTable,
  clusterStatusText,
  eventLine,
  hintFor,
  logMoreLine,
  lunTable,
  moveDone,
  poolDetails,
  poolTable,
  seconds,
  shareUsersTable,
  sizeText,
  vipText,
  type Out,
} from './output';
import { bootstrapDoneText, keyText, replicationStatusText, settingsText, watchBootstrap } from './replication';
import { NatsKeysError, authorizationFrom, makeNodeKeys, newRouteSecret } from './nats';
import { CertificateError, certificateFingerprint, certificateNames, ensureNodeCertificate } from '@tandem/messaging';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * tandem — the command-line client of the api-gateway. A thin client: it checks arguments with
 * the same contract schemas as the gateway, then calls the REST API.
 * Exit codes: 0 done, 1 the operation failed, 2 usage error.
 */
export interface Io {
  stdout: Out;
  stderr: Out;
  env: NodeJS.ProcessEnv;
  /** Asks for a secret at the terminal, not echoed; null when there is no terminal to ask at. */
  askSecret?: (prompt: string) => Promise<string | null>;
  /** Asks a question at the terminal (e.g. to confirm); null when there is no terminal to ask at. */
  ask?: (prompt: string) => Promise<string | null>;
}

async function askAtTerminal(prompt: string, silent: boolean): Promise<string | null> {
  if (!process.stdin.isTTY) return null;
  return String(await read(silent ? { prompt, silent: true, replace: '', output: process.stderr } : { prompt, output: process.stderr }));
}

const processIo = (): Io => ({
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  askSecret: (p) => askAtTerminal(p, true),
  ask: (p) => askAtTerminal(p, false),
});

/**
 * A change that is not undone easily goes on when confirmed: with --yes, or y at the terminal.
 * With neither --yes nor a terminal to ask at, a usage error (exit 2) saying to add --yes;
 * anything but y at the terminal: nothing done (false).
 */
async function confirmed(io: Io, yes: boolean, question: string, again: string, warning?: string): Promise<boolean> {
  if (yes) return true;
  const answer = await (io.ask ?? (() => Promise.resolve(null)))(`${warning ? `warning: ${warning}\n` : ''}${question}? [y/N] `);
  if (answer === null) throw new UsageError(`${warning ?? `${question}: not confirmed, and there is no terminal to ask at`}; nothing done`, 'yes', `add --yes to confirm: ${again} --yes`);
  if (/^y(es)?$/i.test(answer.trim())) return true;
  io.stderr.write('tandem: not confirmed: nothing done\n');
  return false;
}

/** A share user's new password: given (file or env), or asked twice at the terminal. */
async function sharePassword(io: Io, given: string | undefined, name: string): Promise<string> {
  if (given !== undefined) return given;
  const ask = io.askSecret ?? (() => Promise.resolve(null));
  const first = await ask(`new password of share user ${name}: `);
  if (first === null) throw new UsageError(`no password for share user ${name}, and no terminal to ask it at`, 'password', 'give --user-password-file FILE, or set TANDEM_SHARE_PASSWORD');
  checkSharePassword(first);
  if ((await ask('the same again: ')) !== first) throw new UsageError('the two passwords differ: nothing was changed', 'password', 'run the command again');
  return first;
}

function printJson(io: Io, v: unknown): void {
  io.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

function printError(io: Io, json: boolean, p: ProblemDetails, hint: string | undefined): void {
  if (json) io.stdout.write(`${JSON.stringify({ error: p })}\n`);
  io.stderr.write(`tandem: ${p.detail}${p.field ? ` (field: ${p.field})` : ''}\n`);
  if (hint) io.stderr.write(`hint: ${hint}\n`);
  if (p.traceId) io.stderr.write(`trace id: ${p.traceId}\n`);
}

/** A change with a progress line, then "<done> in 1.4 s". */
async function change<T>(io: Io, json: boolean, doing: string, call: () => Promise<T>, done: (r: T) => string): Promise<T> {
  // the progress line is not the result: on stderr
  const progress = json ? undefined : new Progress(io.stderr, doing);
  try {
    const r = await call();
    const ms = progress?.stop() ?? 0;
    if (json) printJson(io, r);
    else io.stdout.write(`${done(r).replace('{t}', seconds(ms))}\n`);
    return r;
  } catch (err) {
    progress?.stop();
    throw err;
  }
}

function servingOr1(io: Io, json: boolean, p: HaPool): number {
  if (p.state === 'serving') return 0;
  if (!json) io.stderr.write(`tandem: pool ${p.name} is ${p.state}${p.reason ? `: ${p.reason}` : ''}\n`);
  return 1;
}

/**
 * One replicated pool's replication (GET /api/v1/replication/{pool}). GET
 * /api/v1/replication/settings is the settings: a pool of that name is found in the list.
 */
async function replicationOf(api: ApiClient, pool: string): Promise<ReplicationPoolStatus> {
  if (pool !== 'settings') return api.get<ReplicationPoolStatus>(ApiPaths.replicationPool(pool));
  const found = (await api.get<ReplicationPoolStatus[]>(ApiPaths.replication)).find((s) => s.pool === pool);
  if (!found) throw new ApiError({ type: problemType(ErrorCode.PoolNotFound), title: ErrorCode.PoolNotFound, status: 404, detail: `pool ${pool} is not a replicated pool under cluster control` });
  return found;
}

async function execute({ globals, invocation: inv }: Parsed, io: Io): Promise<number> {
  const api = new ApiClient(globals.api, globals.password, undefined, globals.apiTrust);
  const json = globals.json;
  switch (inv.command) {
    case 'pool.list': {
      const pools = await api.get<HaPool[]>(ApiPaths.pools);
      if (json) printJson(io, pools);
      else io.stdout.write(poolTable(pools));
      return 0;
    }
    case 'pool.importable': {
      const pools = await api.get<ImportablePool[]>(ApiPaths.nodeImportablePools(inv.node));
      if (json) printJson(io, pools);
      else if (pools.length === 0) io.stdout.write(`no pool is importable on ${inv.node}\n`);
      else for (const p of pools) io.stdout.write(`${p.name}  ${p.state}  ${p.devices.join(' ')}\n`);
      return 0;
    }
    case 'pool.show': {
      const pool = await api.get<HaPool>(ApiPaths.pool(inv.pool));
      let replication: ReplicationPoolStatus | undefined;
      let unavailable: string | undefined;
      if (pool.mode === 'replicated') {
        try {
          replication = await replicationOf(api, pool.name);
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          unavailable = err.problem.detail;
        }
      }
      if (json) printJson(io, replication ? { ...pool, replicationStatus: replication } : pool);
      else io.stdout.write(poolDetails(pool) + (replication ? `\n${replicationStatusText([replication])}` : ''));
      if (unavailable !== undefined) io.stderr.write(`tandem: the replication status of ${pool.name} is not available: ${unavailable}\n`);
      return 0;
    }
    case 'pool.attach': {
      const { pool, node } = inv.body;
      const attach = () => api.change<PoolOpResults['pool.attach']>('POST', ApiPaths.pools, inv.body);
      // --json while following the first sync: only the final JSON
      const r =
        json && inv.wait
          ? await attach()
          : await change(io, json, `attaching ${pool} on ${node}`, attach, (p) => `attached ${p.name} on ${p.node ?? node} in {t}${p.vips.length ? `: ${p.vips.map(vipText).join(', ')}` : ''}`);
      if (!json) for (const w of r.warnings ?? []) io.stderr.write(`warning: ${w}\n`);
      const code = servingOr1(io, json, r);
      if (!inv.wait || code !== 0) {
        if (json && inv.wait) printJson(io, r);
        return code;
      }
      if (!json) io.stderr.write(`following the first sync of ${pool} (at most 10 min; --no-wait not to) …\n`);
      const started = Date.now();
      let outcome;
      try {
        outcome = await watchBootstrap({ fetch: () => replicationOf(api, pool), onLine: json ? undefined : (line) => io.stderr.write(`${line}\n`) });
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        // attached all the same: say so, and what could not be followed
        if (json) printJson(io, { ...r, replicationStatus: null });
        io.stderr.write(`tandem: ${pool} is attached, but its first sync cannot be followed: ${err.problem.detail} (see tandem replication status ${pool})\n`);
        return 1;
      }
      if (json) printJson(io, { ...r, replicationStatus: outcome.status });
      else io.stdout.write(`${bootstrapDoneText(pool, outcome, Date.now() - started)}\n`);
      return outcome.end === 'in-sync' || outcome.end === 'timeout' ? 0 : 1;
    }
    case 'pool.move': {
      const r = await change(
        io,
        json,
        `moving ${inv.pool} to ${inv.to}`,
        () => api.change<PoolOpResults['pool.move']>('POST', ApiPaths.poolAction(inv.pool, 'move'), { to: inv.to }),
        (p) => moveDone(p, inv.to),
      );
      return servingOr1(io, json, r);
    }
    case 'pool.schedule-add':
      await change(
        io,
        json,
        `adding snapshot schedule ${inv.name} to ${inv.pool}`,
        () => api.change<PoolOpResults['pool.schedule-add']>('POST', ApiPaths.poolSchedules(inv.pool), { name: inv.name, every: inv.every, keep: inv.keep }),
        (p) => `${p.name}: snapshot schedule ${inv.name} every ${inv.every}, keeping ${inv.keep} (done in {t}); the node serving it takes the snapshots`,
      );
      return 0;
    case 'pool.schedule-remove':
      await change(
        io,
        json,
        `removing snapshot schedule ${inv.name} of ${inv.pool}`,
        () => api.change<PoolOpResults['pool.schedule-remove']>('DELETE', ApiPaths.poolSchedule(inv.pool, inv.name)),
        (p) => `${p.name}: snapshot schedule ${inv.name} removed (done in {t}); the snapshots it took stay`,
      );
      return 0;
    case 'pool.schedule-list': {
      const list = await api.get<SnapshotSchedule[]>(ApiPaths.poolSchedules(inv.pool));
      if (json) printJson(io, list);
      else io.stdout.write(schedulesTable(inv.pool, list));
      return 0;
    }
    case 'pool.mark-usable':
      await change(
        io,
        json,
        `marking ${inv.node} usable for ${inv.pool}`,
        () => api.change<PoolOpResults['pool.mark-usable']>('POST', ApiPaths.poolAction(inv.pool, 'mark-usable'), { node: inv.node }),
        (p) => `${p.name} may run on ${inv.node} again (done in {t}); failed on: ${(p.failedOn ?? []).join(', ') || 'none'}`,
      );
      return 0;
    case 'pool.detach':
      await change(
        io,
        json,
        `detaching ${inv.pool}`,
        () => api.change<PoolOpResults['pool.detach']>('POST', ApiPaths.poolAction(inv.pool, 'detach'), {}),
        (r) => `detached ${r.pool} in {t}${r.node ? `: it stays imported and served on ${r.node}, unmanaged` : ''}`,
      );
      return 0;
    case 'pool.export':
      if (!(await confirmed(io, inv.yes, `export pool ${inv.pool} (its shares and floating IPs stop; it stays under cluster control, inactive)`, `tandem pool export ${inv.pool}`))) return 1;
      await change(
        io,
        json,
        `exporting ${inv.pool}`,
        () => api.change<PoolOpResults['pool.export']>('POST', ApiPaths.poolAction(inv.pool, 'export'), {}),
        (p) => `exported ${p.name} in {t}: inactive, still under cluster control (bring it back with: tandem pool reattach ${p.name} --node NODE)`,
      );
      return 0;
    case 'pool.reattach': {
      const r = await change(
        io,
        json,
        `reattaching ${inv.pool} on ${inv.node}`,
        () => api.change<PoolOpResults['pool.reattach']>('POST', ApiPaths.poolAction(inv.pool, 'reattach'), { node: inv.node }),
        (p) => `reattached ${p.name} on ${p.node ?? inv.node} in {t}`,
      );
      return servingOr1(io, json, r);
    }
    case 'pool.lun-list': {
      const t = await api.get<PoolLuns>(ApiPaths.poolLuns(inv.pool));
      if (json) printJson(io, t);
      else io.stdout.write(lunTable(t));
      return 0;
    }
    case 'pool.lun-add':
      await change(
        io,
        json,
        `adding LUN ${inv.name} (${sizeText(inv.sizeBytes)}) to ${inv.pool}`,
        () => api.change<PoolOpResults['pool.lun-add']>('POST', ApiPaths.poolLuns(inv.pool), { name: inv.name, sizeBytes: inv.sizeBytes }),
        (p) => `LUN ${(p.luns ?? []).find((l) => l.name === inv.name)?.number ?? '?'} (${inv.name}) of ${p.name} served in {t} (see its identifiers with: tandem pool lun list ${p.name})`,
      );
      return 0;
    case 'pool.lun-remove':
      if (!(await confirmed(io, inv.yes, `remove LUN ${inv.name} of pool ${inv.pool} (its data is destroyed)`, `tandem pool lun remove ${inv.pool} ${inv.name}`))) return 1;
      await change(
        io,
        json,
        `removing LUN ${inv.name} of ${inv.pool}`,
        () => api.change<PoolOpResults['pool.lun-remove']>('DELETE', ApiPaths.poolLun(inv.pool, inv.name)),
        (p) => `LUN ${inv.name} of ${p.name} removed in {t}`,
      );
      return 0;
    case 'pool.chap-set':
      await change(
        io,
        json,
        `setting CHAP of ${inv.pool}'s target`,
        () => api.change<PoolOpResults['pool.chap-set']>('PUT', ApiPaths.poolChap(inv.pool), { user: inv.user, secret: inv.secret }),
        (t) => `${t.pool}'s target asks initiators for CHAP as ${t.chapUser} (set in {t}); give the initiators the same user and secret`,
      );
      return 0;
    case 'pool.chap-clear':
      await change(
        io,
        json,
        `clearing CHAP of ${inv.pool}'s target`,
        () => api.change<PoolOpResults['pool.chap-clear']>('DELETE', ApiPaths.poolChap(inv.pool)),
        (t) => `${t.pool}'s target lets initiators in without CHAP (in {t})`,
      );
      return 0;
    case 'pool.remove':
      if (!(await confirmed(io, inv.yes, `drop pool ${inv.pool} from cluster control`, `tandem pool remove ${inv.pool}`))) return 1;
      await change(
        io,
        json,
        `removing ${inv.pool}`,
        () => api.change<PoolOpResults['pool.remove']>('DELETE', ApiPaths.pool(inv.pool)),
        (r) => `removed ${r.pool} from cluster control in {t}`,
      );
      return 0;
    case 'cluster.create': {
      const node = json ? undefined : await api.nodeId();
      await change(
        io,
        json,
        `forming cluster on ${node ?? 'the node of the API'} (heartbeat ${inv.heartbeatInterface})`,
        () => api.change<ClusterOpResults['cluster.create']>('POST', ApiPaths.cluster, { heartbeatInterface: inv.heartbeatInterface }),
        (c) => {
          const first = c.nodes[0];
          return `cluster ${c.id} formed on ${first?.id ?? node} in {t}${first?.heartbeatAddress ? ` (heartbeat ${c.heartbeatInterface} at ${first.heartbeatAddress}: the address other nodes join with)` : ''}`;
        },
      );
      return 0;
    }
    case 'cluster.join': {
      const node = json ? undefined : await api.nodeId();
      await change(
        io,
        json,
        `joining ${node ?? 'the node of the API'} to the cluster of the node at ${inv.peer}`,
        () =>
          api.change<ClusterOpResults['cluster.join']>('POST', ApiPaths.clusterJoin, {
            peer: inv.peer,
            password: inv.password,
            ...(inv.peerFingerprint !== undefined ? { peerFingerprint: inv.peerFingerprint } : {}),
          }),
        (c) => `${node ?? 'the node'} joined cluster ${c.id} in {t}; its nodes: ${c.nodes.map((n) => n.id).join(', ')}`,
      );
      return 0;
    }
    case 'cluster.status': {
      const status = await api.get<ClusterStatus>(ApiPaths.cluster);
      if (json) printJson(io, status);
      else io.stdout.write(clusterStatusText(status));
      return 0;
    }
    case 'node.offline': {
      const status = await api.get<ClusterStatus>(ApiPaths.cluster);
      const d = offlineDecision(status, inv.node);
      if (d.kind === 'ends-cluster') {
        if (!(await confirmed(io, inv.yes, `take ${inv.node} offline and end the cluster`, `tandem node offline ${inv.node}`, d.warning))) return 1;
        if (inv.yes && !json) io.stderr.write(`warning: ${d.warning}\n`);
      } else if (d.note && !json) {
        io.stderr.write(`note: ${d.note}\n`);
      }
      await change(
        io,
        json,
        d.doing,
        () => api.change<ClusterOpResults['node.offline']>('POST', ApiPaths.nodeAction(inv.node, 'offline'), {}),
        (r) => offlineDone(r, status.cluster?.id),
      );
      return 0;
    }
    case 'node.online':
      await change(
        io,
        json,
        `bringing ${inv.node} online`,
        () => api.change<ClusterOpResults['node.online']>('POST', ApiPaths.nodeAction(inv.node, 'online'), {}),
        () => `${inv.node} is online in {t} (pools do not move back by themselves: tandem pool move POOL --to ${inv.node})`,
      );
      return 0;
    case 'node.remove':
      if (!(await confirmed(io, inv.yes, `remove node ${inv.node} from the cluster`, `tandem node remove ${inv.node}`))) return 1;
      await change(
        io,
        json,
        `removing ${inv.node} from the cluster`,
        () => api.change<ClusterOpResults['node.remove']>('DELETE', ApiPaths.node(inv.node)),
        (c) => `removed ${inv.node} from cluster ${c.id} in {t}; its nodes: ${c.nodes.map((n) => n.id).join(', ') || 'none'}`,
      );
      return 0;
    case 'maintenance':
      await change(
        io,
        json,
        `turning maintenance ${inv.on ? 'on' : 'off'}`,
        () => api.change<ClusterOpResults['maintenance.set']>('PUT', ApiPaths.clusterMaintenance, { on: inv.on }),
        (c) => (c.maintenance ? 'maintenance: ON — nothing moves automatically' : 'maintenance: off'),
      );
      return 0;
    case 'auth.revoke-tokens':
      await change(
        io,
        json,
        'revoking every API token issued until now',
        () => api.change<ClusterOpResults['auth.revoke-tokens']>('POST', ApiPaths.revokeTokens),
        (r) => `every API token issued until ${r.revokedBefore} is revoked on every node (in {t}); get a new one with the password`,
      );
      return 0;
    case 'replication.settings': {
      const { pool } = inv.body;
      if (changesSettings(inv.body)) {
        const r = await change(
          io,
          json,
          `changing the replication settings${pool ? ` of ${pool}` : ''}`,
          () => api.change<ClusterOpResults['replication.settings']>('PUT', ApiPaths.replicationSettings, inv.body),
          () => `changed the replication settings${pool ? ` of ${pool}` : ''} in {t}`,
        );
        if (!json) io.stdout.write(settingsText(r));
        return 0;
      }
      const r = await api.get<ClusterOpResults['replication.settings']>(`${ApiPaths.replicationSettings}${pool ? `?pool=${encodeURIComponent(pool)}` : ''}`);
      if (json) printJson(io, r);
      else io.stdout.write(settingsText(r));
      return 0;
    }
    case 'replication.status': {
      const r = inv.pool === undefined ? await api.get<ReplicationPoolStatus[]>(ApiPaths.replication) : await replicationOf(api, inv.pool);
      if (json) printJson(io, r);
      else io.stdout.write(replicationStatusText(Array.isArray(r) ? r : [r]));
      return 0;
    }
    case 'replication.resume':
      await change(
        io,
        json,
        `resuming sync of ${inv.pool}`,
        () => api.change<ClusterOpResults['replication.resume']>('POST', ApiPaths.replicationResume(inv.pool), {}),
        (s) =>
          `sync of ${s.pool} resumed in {t}${s.direction ? ` (${s.direction})` : ''}: the old active's diverged data is kept aside before it receives again (follow it: tandem replication status ${s.pool})`,
      );
      return 0;
    case 'replication.keys-rotate':
      await change(
        io,
        json,
        `rotating the replication keys of ${inv.node}`,
        () => api.change<ClusterOpResults['replication.keys-rotate']>('POST', ApiPaths.replicationKeysRotate(inv.node), {}),
        (r) => `rotated the replication keys of ${r.node} in {t}: host key ${keyText(r.hostKey)}, client key ${keyText(r.clientKey)} (pinned on every node)`,
      );
      return 0;
    case 'log': {
      const query = new URLSearchParams(Object.entries(inv.query).map(([k, v]): [string, string] => [k, String(v)]));
      const { body: entries, headers } = await api.getWithHeaders<ActivityEntry[]>(`${ApiPaths.activity}?${query.toString()}`);
      if (json) printJson(io, entries);
      else io.stdout.write(activityTable(entries, Object.keys(inv.query).length > 1));
      const next = activityNextCursor(headers.get('link'));
      if (next !== undefined) io.stderr.write(`${logMoreLine(inv.query, next)}\n`);
      return 0;
    }
    case 'events':
      return followEvents(api, io, json, inv);
    case 'completion': {
      const program = createProgram(() => undefined, { writeOut: () => undefined, writeErr: () => undefined }, io.env);
      io.stdout.write(inv.shell === 'bash' ? bashCompletion(program) : zshCompletion(program));
      return 0;
    }
    case 'share-user.list': {
      const users = await api.get<ShareUserInfo[]>(ApiPaths.shareUsers);
      if (json) printJson(io, users);
      else io.stdout.write(shareUsersTable(users));
      return 0;
    }
    case 'share-user.add': {
      const password = await sharePassword(io, inv.password, inv.name);
      await change(
        io,
        json,
        `adding share user ${inv.name}`,
        () => api.change<ShareUserInfo>('POST', ApiPaths.shareUsers, { name: inv.name, password }),
        (u) => `added share user ${u.name} (uid ${u.uid} on every node) in {t}; let it into an SMB share with: tandem pool attach POOL … --share-users SHARE=${u.name}`,
      );
      return 0;
    }
    case 'share-user.passwd': {
      const password = await sharePassword(io, inv.password, inv.name);
      await change(
        io,
        json,
        `setting the password of share user ${inv.name}`,
        () => api.change<ShareUserInfo>('PUT', ApiPaths.shareUserPassword(inv.name), { password }),
        (u) => `set the password of share user ${u.name} in {t}: every node checks it from its next login`,
      );
      return 0;
    }
    case 'share-user.remove':
      await change(
        io,
        json,
        `removing share user ${inv.name}`,
        () => api.change<{ name: string }>('DELETE', ApiPaths.shareUser(inv.name)),
        (r) => `removed share user ${r.name} in {t}: every node removes its account (its uid is never given again)`,
      );
      return 0;
    case 'nats.keys': {
      const r = makeNodeKeys(inv.node, inv.dir);
      if (json) printJson(io, { ...r.publicKeys, created: r.created, kept: r.kept });
      else {
        io.stdout.write(`${inv.node}: ${r.created.length} seed(s) made, ${r.kept.length} kept, in ${inv.dir}\n`);
        io.stdout.write(
          `give each service its seed (TANDEM_NATS_SEED_FILE=${inv.dir}/<service>.seed), copy ${inv.dir}/public-keys.json to every node, then: tandem nats authorization <every node's public-keys.json>\n`,
        );
      }
      return 0;
    }
    case 'nats.authorization':
      io.stdout.write(authorizationFrom(inv.files, { operator: inv.operator, integrator: inv.integrator }));
      return 0;
    case 'nats.config':
      io.stdout.write(productionNatsConfig(inv.witness));
      return 0;
    case 'nats.route-secret':
      io.stdout.write(`${newRouteSecret()}\n`);
      return 0;
    case 'nats.certs': {
      const r = await ensureNodeCertificate(inv.dir, inv.node, ['127.0.0.1', 'localhost', ...inv.addresses]);
      const cert = readFileSync(r.files.cert, 'utf8');
      const fp = certificateFingerprint(cert);
      const names = certificateNames(cert);
      if (json) printJson(io, { ...r.files, written: r.written, fingerprint: fp, names });
      else {
        io.stdout.write(`${inv.node}: ${r.written.length ? `wrote ${r.written.join(', ')}` : 'the certificate names every address already: nothing written'}\n`);
        io.stdout.write(`certificate ${r.files.cert} (SHA-256 ${fp}) for ${names.join(', ')}\n`);
        io.stdout.write(`copy ${r.files.ca}, ${r.files.cert} and ${r.files.key} to ${inv.node}; keep ${join(inv.dir, 'ca.key')} off the nodes\n`);
      }
      return 0;
    }
  }
}

/** How often the event feed is asked again, one after the other, after it ended, before giving up. */
export const EVENTS_RETRIES = 5;
const EVENTS_RETRY_MS = 2_000;

/**
 * `tandem events`: the feed, printed as it comes; when it ends (the gateway stopped, the
 * connection broke) it is asked again — of the APIs in order — after the last event seen, so
 * nothing is missed: also when the gateway answers 5xx or 429 meanwhile (it is starting, its
 * JetStream is recovering). Gives up (1) after EVENTS_RETRIES attempts in a row that get no
 * event, with the last one's error; at once when the feed cannot be had at all (the first
 * attempt fails) or is refused (4xx).
 */
export async function followEvents(api: ApiClient, io: Io, json: boolean, inv: { entity?: string; id?: string }, retryMs = EVENTS_RETRY_MS): Promise<number> {
  const filter = new URLSearchParams(Object.entries({ entity: inv.entity, id: inv.id }).filter((e): e is [string, string] => e[1] !== undefined)).toString();
  if (!json) io.stderr.write(`following events${filter ? ` (${filter.replace('&', ', ')})` : ''} from ${api.base} (Ctrl+C to stop)\n`);
  let last: string | undefined;
  let failures = 0;
  let followed = false;
  for (;;) {
    const before = last;
    let ended: ApiError;
    try {
      last = await api.events((e) => io.stdout.write(`${json ? JSON.stringify(e) : eventLine(e)}\n`), { query: filter ? `?${filter}` : '', lastEventId: last });
      ended = new ApiError({ type: problemType(ErrorCode.Unavailable), title: ErrorCode.Unavailable, status: 0, detail: `the event feed from ${api.base} closed (the gateway stopped?)` });
      followed = true;
    } catch (err) {
      const status = err instanceof ApiError ? err.problem.status : -1;
      if (!followed || !(status === 0 || status === 429 || status >= 500)) throw err;
      ended = err as ApiError;
    }
    failures = last !== before ? 1 : failures + 1;
    if (failures >= EVENTS_RETRIES) throw ended;
    api.forgetAnswered();
    if (!json) io.stderr.write(`tandem: ${ended.problem.detail}; following again${last !== undefined ? ` after event ${last}` : ''} …\n`);
    await new Promise((r) => setTimeout(r, retryMs));
  }
}

/** Run one command line (without `node` and the script); resolves to the exit code. */
export async function main(args: readonly string[], io: Io = processIo()): Promise<number> {
  const jsonWanted = args.includes('--json');
  let parsed: Parsed;
  try {
    parsed = parseArgs(args, io.env, { writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  } catch (err) {
    if (err instanceof HelpShown) return 0;
    if (err instanceof CommanderError) return 2; // commander printed it already
    if (err instanceof UsageError) {
      const p: ProblemDetails = { type: problemType(ErrorCode.InvalidArgument), title: ErrorCode.InvalidArgument, status: 0, detail: err.message };
      if (err.field) p.field = err.field;
      printError(io, jsonWanted, p, err.hint);
      return 2;
    }
    throw err;
  }
  try {
    return await execute(parsed, io);
  } catch (err) {
    if (err instanceof UsageError) {
      const p: ProblemDetails = { type: problemType(ErrorCode.InvalidArgument), title: ErrorCode.InvalidArgument, status: 0, detail: err.message };
      if (err.field) p.field = err.field;
      printError(io, parsed.globals.json, p, err.hint);
      return 2;
    }
    if (err instanceof NatsKeysError || err instanceof CertificateError) {
      printError(io, parsed.globals.json, { type: problemType(ErrorCode.InvalidArgument), title: ErrorCode.InvalidArgument, status: 0, detail: err.message, field: err.field }, undefined);
      return 1;
    }
    if (err instanceof ApiError) {
      const inv = parsed.invocation;
      printError(
        io,
        parsed.globals.json,
        err.problem,
        hintFor(err.problem, {
          api: parsed.globals.api.join(', '),
          pool: 'pool' in inv ? inv.pool : inv.command === 'pool.attach' || inv.command === 'replication.settings' ? inv.body.pool : undefined,
          node: 'node' in inv ? inv.node : undefined,
          command: inv.command,
        }),
      );
      return 1;
    }
    throw err;
  }
}
