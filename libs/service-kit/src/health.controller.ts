import { Controller, Get, HttpStatus, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ReadinessService } from './readiness.service';
import { SERVICE_CONTEXT, type ServiceContext } from './tokens';

@Controller('health')
export class HealthController {
  constructor(
    private readonly readiness: ReadinessService,
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
  ) {}

  @Get('live')
  live() {
    return { status: 'ok', service: this.ctx.service, node: this.ctx.config.nodeId };
  }

  @Get('ready')
  async ready(@Res() res: Response) {
    const r = await this.readiness.evaluate();
    res.status(r.ready ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE).json({
      status: r.ready ? 'ready' : 'not-ready',
      service: this.ctx.service,
      node: this.ctx.config.nodeId,
      uptimeSeconds: Math.round((Date.now() - this.ctx.startedAt.getTime()) / 1000),
      checks: r.checks,
    });
  }
}
