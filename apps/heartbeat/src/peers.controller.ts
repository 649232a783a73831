import { Controller, Get } from '@nestjs/common';
import { LivenessService } from './liveness.service';

/** GET /health/peers: this node's view of its peers (up / suspect / down, per channel) and its local health. */
@Controller('health')
export class PeersController {
  constructor(private readonly liveness: LivenessService) {}

  @Get('peers')
  peers() {
    return this.liveness.view();
  }
}
