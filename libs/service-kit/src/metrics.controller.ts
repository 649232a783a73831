import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import { metricsText } from '@tandem/telemetry';

/** Prometheus' scrape target on the health port: the text exposition format. */
@Controller('metrics')
export class MetricsController {
  @Get()
  async metrics(@Res() res: Response): Promise<void> {
    const m = await metricsText();
    res.status(200).type(m.contentType).send(m.body);
  }
}
