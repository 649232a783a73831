import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** One operator- or cluster-initiated action and how it ended. */
@Entity({ name: 'activity_log' })
@Index(['at'])
export class ActivityLogEntity {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  at!: Date;

  @Column({ type: 'text' })
  actor!: string;

  @Column({ type: 'text' })
  action!: string;

  @Column({ type: 'text' })
  target!: string;

  @Column({ type: 'text' })
  result!: 'started' | 'succeeded' | 'failed';

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  /** More about how it ended (a hook's exit status and the last lines it printed). */
  @Column({ type: 'text', nullable: true })
  detail!: string | null;

  @Column({ name: 'trace_id', type: 'text', nullable: true })
  traceId!: string | null;

  @Column({ name: 'node_id', type: 'text', nullable: true })
  nodeId!: string | null;

  /** Stream sequence of the event this row was written from (idempotent replay). */
  @Column({ name: 'event_id', type: 'text', nullable: true, unique: true })
  eventId!: string | null;
}
