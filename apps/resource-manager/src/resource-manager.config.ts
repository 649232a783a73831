import { z } from 'zod';
import { nodeIdSchema } from '@tandem/contracts';
import { readEnv } from '@tandem/config';

/** resource-manager's own settings. */
export function readResourceManagerConfig(source: NodeJS.ProcessEnv = process.env) {
  const e = readEnv(
    {
      TANDEM_NODES: z
        .string()
        .refine((v) => v.split(',').every((n) => nodeIdSchema.safeParse(n.trim()).success), 'must be a comma-separated list of node ids')
        .optional()
        .describe('the storage nodes of the cluster, e.g. node-a,node-b'),
    },
    source,
  );
  return { nodes: e.TANDEM_NODES ? e.TANDEM_NODES.split(',').map((n) => n.trim()) : [] };
}
export type ResourceManagerConfig = ReturnType<typeof readResourceManagerConfig>;
export const RESOURCE_MANAGER_CONFIG = Symbol('RESOURCE_MANAGER_CONFIG');
