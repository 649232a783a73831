import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { HostOpParsed, HostOpResults } from '@tandem/contracts';
import { HookService } from './hook.service';

/** hook.run: the operator's hooks of one point of a pool's start or stop. */
@Controller()
export class HookConsumer {
  constructor(private readonly hooks: HookService) {}

  @MessagePattern('hook.run')
  run(@Payload() req: HostOpParsed<'hook.run'>): Promise<HostOpResults['hook.run']> {
    return this.hooks.run(req);
  }
}
