/** The five Tandem services and their default health ports (one HTTP health server each). */
export const SERVICES = {
  'host-executor': { healthPort: 9101 },
  heartbeat: { healthPort: 9102 },
  'resource-manager': { healthPort: 9103 },
  'replication-scheduler': { healthPort: 9104 },
  'api-gateway': { healthPort: 8080 },
} as const;

export type ServiceName = keyof typeof SERVICES;
export const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];
