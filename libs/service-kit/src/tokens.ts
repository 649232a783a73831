import type { NatsConnection } from 'nats';
import type { BaseConfig } from '@tandem/config';
import type { ServiceName } from '@tandem/contracts';

export const NATS_CONNECTION = Symbol('NATS_CONNECTION');
export const SERVICE_CONTEXT = Symbol('SERVICE_CONTEXT');

export interface ServiceContext {
  service: ServiceName;
  config: BaseConfig;
  nc: NatsConnection;
  startedAt: Date;
}
