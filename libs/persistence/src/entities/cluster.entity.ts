import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

@Entity({ name: 'cluster' })
export class ClusterEntity {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ name: 'heartbeat_interface', type: 'text' })
  heartbeatInterface!: string;

  @Column({ type: 'boolean', default: false })
  maintenance!: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

@Entity({ name: 'node' })
export class NodeEntity {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ name: 'cluster_id', type: 'text', nullable: true })
  clusterId!: string | null;

  @Column({ name: 'heartbeat_address', type: 'text', nullable: true })
  heartbeatAddress!: string | null;

  @Column({ name: 'admin_state', type: 'text', default: 'online' })
  adminState!: 'online' | 'offline';

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
