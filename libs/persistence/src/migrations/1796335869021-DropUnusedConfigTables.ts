import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Cluster configuration lives in replicated JetStream KV; these tables from the first schema
 * were never read or written. `down` recreates them exactly as Initial1763683200000 made them.
 */
export class DropUnusedConfigTables1796335869021 implements MigrationInterface {
  name = 'DropUnusedConfigTables1796335869021';

  async up(q: QueryRunner): Promise<void> {
    // referencing tables first, so no drop needs CASCADE
    for (const t of ['share', 'floating_ip', 'ha_pool', 'node', 'cluster']) await q.query(`DROP TABLE IF EXISTS ${t}`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE cluster (
      id text PRIMARY KEY,
      heartbeat_interface text NOT NULL,
      maintenance boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE TABLE node (
      id text PRIMARY KEY,
      cluster_id text REFERENCES cluster(id) ON DELETE SET NULL,
      heartbeat_address text,
      admin_state text NOT NULL DEFAULT 'online' CHECK (admin_state IN ('online','offline')),
      created_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE TABLE ha_pool (
      name text PRIMARY KEY,
      cluster_id text NOT NULL REFERENCES cluster(id) ON DELETE CASCADE,
      mode text NOT NULL CHECK (mode IN ('shared-storage','shared-nothing')),
      preferred_node text,
      fibre_channel boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE TABLE floating_ip (
      address text PRIMARY KEY,
      pool text NOT NULL REFERENCES ha_pool(name) ON DELETE CASCADE,
      interface text NOT NULL,
      prefix int NOT NULL CHECK (prefix BETWEEN 1 AND 128))`);
    await q.query(`CREATE TABLE share (
      pool text NOT NULL REFERENCES ha_pool(name) ON DELETE CASCADE,
      name text NOT NULL,
      protocol text NOT NULL CHECK (protocol IN ('smb','nfs')),
      path text NOT NULL,
      read_only boolean NOT NULL DEFAULT false,
      PRIMARY KEY (pool, name, protocol))`);
  }
}
