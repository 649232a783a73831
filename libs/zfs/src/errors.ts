import { ErrorCode, TandemError } from '@tandem/contracts';

const RULES: Array<[RegExp, ErrorCode, string]> = [
  [/no such pool available|cannot import .*: no such pool/i, ErrorCode.PoolNotImportable, 'the pool is not importable from the device directory: check the disks'],
  [/no such pool/i, ErrorCode.PoolNotFound, 'the pool is not imported on this node'],
  [/pool is busy|device is busy|dataset is busy|is busy/i, ErrorCode.PoolBusy, 'something still uses the pool: stop its shares, or export with force'],
  [/already exists|pool already exists|tag already exists/i, ErrorCode.AlreadyExists, 'it already exists'],
  [/no such tag/i, ErrorCode.NotFound, 'no such hold on that snapshot'],
  [/dataset does not exist|could not find any snapshots/i, ErrorCode.DatasetNotFound, 'no such dataset or snapshot'],
  [/more recent snapshot|destination .* has been modified|destination has snapshots|does not match incremental source/i, ErrorCode.StreamFailed, 'the replica diverged from the stream'],
  [/failed to initialize ZFS library|daemon is running/i, ErrorCode.Unavailable, 'the ZFS daemon does not answer on this node'],
];

/** Map a failed zfs/zpool call to a typed error, keeping the tool's own words in `detail`. */
export function zfsError(argv: readonly string[], stderr: string, timedOut = false): TandemError {
  const cmd = argv.slice(0, 2).join(' ');
  if (timedOut) return new TandemError(ErrorCode.Timeout, `${cmd} did not finish in time`, undefined, stderr.trim());
  for (const [re, code, hint] of RULES) {
    if (re.test(stderr)) return new TandemError(code, `${cmd}: ${hint}`, undefined, stderr.trim());
  }
  return new TandemError(ErrorCode.CommandFailed, `${cmd} failed: ${stderr.trim().split('\n')[0] || 'no output'}`, undefined, stderr.trim());
}
