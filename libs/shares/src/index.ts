// Samba and NFS-Ganesha supervision for host-executor: config rendering, validation, daemon lifecycle.
export * from './types';
export * from './errors';
export { validateShareSpec, validateUsers, SHARE_USER_RE } from './validate';
export { renderSmbConf, smbDirs, smbpasswdLine } from './smb-config';
export type { SmbDirs, SmbRenderOptions } from './smb-config';
export { renderGaneshaConf, nfsDirs, nfsRecoveryDir } from './nfs-config';
export type { NfsDirs, NfsRenderOptions } from './nfs-config';
export * from './share-manager';
export * from './iscsi-target-manager';
