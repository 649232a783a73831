import { readDatabaseConfig } from '@tandem/config';
import { Logger } from '@nestjs/common';
import { runService } from '@tandem/service-kit';
import { apiCertificate } from './api-certificate';
import { ApiGatewayModule } from './app.module';
import { readGatewayConfig } from './config';
import { ApiDocs } from './openapi';

runService({
  service: 'api-gateway',
  readConfig: () => {
    readDatabaseConfig();
    readGatewayConfig();
  },
  module: (ctx) => ApiGatewayModule.register(ctx),
  listenOn: () => readGatewayConfig().bind ?? [],
  tls: async (ctx) => {
    const cfg = readGatewayConfig();
    const c = await apiCertificate(cfg, ctx.config.stateDir, ctx.config.nodeId);
    new Logger('api-gateway').log(
      `API certificate SHA-256 ${c.fingerprint} (${c.made ? 'made now' : cfg.certificate ? "the operator's" : 'kept'}): a node joining through this one pins it (tandem cluster join --peer-fingerprint)`,
    );
    return c;
  },
  afterStart: async (app) => app.get(ApiDocs).attach(app),
});
