import { Inject, Injectable, Logger } from '@nestjs/common';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, TandemError } from '@tandem/contracts';
import { aluaSwitchWrites, lioFcConfig, normalizeWwpn, type AluaRole } from '@tandem/domain';
import { ProcessRunner } from '@tandem/host';
import { IscsiTargetManager, ShareError } from '@tandem/shares';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { HOST_EXECUTOR_CONFIG, type HostExecutorConfig } from './host-executor.config';

/** What this node's LIO configuration of an FC pool was last made for. */
export interface FcRecord {
  role: AluaRole;
  config: string;
}

/**
 * The running block targets of this node's pools: one tgtd per pool for iSCSI, and for FC pools
 * this node's LIO configuration (written as the saveconfig and configfs writes LIO takes). Kept
 * apart from the LUNs' backings so that the share stop before an export and the fence reach it
 * without the ZFS service.
 */
@Injectable()
export class IscsiTargets {
  private readonly logger = new Logger('iscsi');
  readonly manager: IscsiTargetManager;
  private readonly fcDir: string;

  constructor(
    runner: ProcessRunner,
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    @Inject(HOST_EXECUTOR_CONFIG) private readonly cfg: HostExecutorConfig,
  ) {
    const base = join(ctx.config.stateDir, 'host-executor');
    this.manager = new IscsiTargetManager(runner, base);
    this.fcDir = join(base, 'fc');
  }

  map(err: unknown): never {
    if (err instanceof ShareError) throw new TandemError(err.code === 'INVALID_ARGUMENT' ? ErrorCode.InvalidArgument : ErrorCode.ShareFailed, err.message, err.field);
    if (err instanceof RangeError) throw new TandemError(ErrorCode.InvalidArgument, err.message);
    throw err;
  }

  /** Stops the pool's target here: iSCSI sessions end; over FC this node's port group goes to standby. */
  async stop(pool: string): Promise<boolean> {
    let changed = false;
    try {
      changed = await this.manager.stop(pool);
    } catch (err) {
      this.map(err);
    }
    const fc = await this.readFc(pool);
    if (fc && fc.role === 'active') {
      const spec = JSON.parse(await readFile(join(this.fcDir, `${pool}.spec.json`), 'utf8')) as Parameters<typeof lioFcConfig>[0];
      await this.writeFc({ ...spec, role: 'standby' });
      changed = true;
    }
    if (changed) this.logger.log(`iSCSI target of ${pool} stopped`);
    return changed;
  }

  /** This node's FC target ports: TANDEM_FC_WWPNS, else the port names of the FC hosts in sysfs. */
  async wwpns(): Promise<string[]> {
    if (this.cfg.fcWwpns.length) return this.cfg.fcWwpns.map(normalizeWwpn);
    const dir = '/sys/class/fc_host';
    const hosts = await readdir(dir).catch(() => [] as string[]);
    const out: string[] = [];
    for (const h of hosts.sort()) {
      const raw = await readFile(join(dir, h, 'port_name'), 'utf8').catch(() => '');
      if (raw.trim()) out.push(normalizeWwpn(raw.trim().replace(/^0x/, '')));
    }
    return out;
  }

  /**
   * Writes this node's LIO configuration of an FC pool: the saveconfig (`targetctl restore`
   * takes it) and the ALUA switch as configfs writes. Nothing here applies them: see the README.
   */
  async writeFc(spec: Parameters<typeof lioFcConfig>[0]): Promise<FcRecord> {
    const config = lioFcConfig(spec);
    const writes = aluaSwitchWrites(spec);
    await mkdir(this.fcDir, { recursive: true, mode: 0o700 });
    const file = join(this.fcDir, `${spec.pool}.json`);
    await writeAtomic(file, JSON.stringify({ role: spec.role, saveconfig: config, aluaWrites: writes }, null, 2) + '\n');
    await writeAtomic(join(this.fcDir, `${spec.pool}.spec.json`), JSON.stringify(spec) + '\n');
    this.logger.log(`FC: pool ${spec.pool} ALUA ${spec.role} on ${spec.node} (${file})`);
    return { role: spec.role, config: file };
  }

  async readFc(pool: string): Promise<FcRecord | null> {
    try {
      const r = JSON.parse(await readFile(join(this.fcDir, `${pool}.json`), 'utf8')) as { role: AluaRole };
      return { role: r.role, config: join(this.fcDir, `${pool}.json`) };
    } catch {
      return null;
    }
  }

  get nodeId(): string {
    return this.ctx.config.nodeId;
  }

  get clusterId(): string {
    return this.ctx.config.clusterId;
  }
}

async function writeAtomic(path: string, content: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, content, { mode: 0o600 });
  await rename(tmp, path);
}
