import type { MigrationInterface, QueryRunner } from 'typeorm';

/** An activity entry may say more about how it ended than its error: a hook's exit status and the last lines it printed. */
export class ActivityDetail1796425200000 implements MigrationInterface {
  name = 'ActivityDetail1796425200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE activity_log ADD COLUMN IF NOT EXISTS detail text');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE activity_log DROP COLUMN IF EXISTS detail');
  }
}
