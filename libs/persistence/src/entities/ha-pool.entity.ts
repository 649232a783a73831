import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

@Entity({ name: 'ha_pool' })
export class HaPoolEntity {
  @PrimaryColumn({ type: 'text' })
  name!: string;

  @Column({ name: 'cluster_id', type: 'text' })
  clusterId!: string;

  @Column({ type: 'text' })
  mode!: 'shared-storage' | 'shared-nothing';

  @Column({ name: 'preferred_node', type: 'text', nullable: true })
  preferredNode!: string | null;

  @Column({ name: 'fibre_channel', type: 'boolean', default: false })
  fibreChannel!: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

@Entity({ name: 'floating_ip' })
export class FloatingIpEntity {
  @PrimaryColumn({ type: 'text' })
  address!: string;

  @Column({ type: 'text' })
  pool!: string;

  @Column({ type: 'text' })
  interface!: string;

  @Column({ type: 'int' })
  prefix!: number;
}

@Entity({ name: 'share' })
export class ShareEntity {
  @PrimaryColumn({ type: 'text' })
  pool!: string;

  @PrimaryColumn({ type: 'text' })
  name!: string;

  @PrimaryColumn({ type: 'text' })
  protocol!: 'smb' | 'nfs';

  @Column({ type: 'text' })
  path!: string;

  @Column({ name: 'read_only', type: 'boolean', default: false })
  readOnly!: boolean;
}
