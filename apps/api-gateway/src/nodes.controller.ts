import { Controller, Get, HttpException, HttpStatus, Param } from '@nestjs/common';
import { ErrorCode, TandemError, nodeIdSchema } from '@tandem/contracts';
import { HostClient } from '@tandem/messaging';

const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.InvalidArgument]: HttpStatus.BAD_REQUEST,
  [ErrorCode.UnknownNode]: HttpStatus.NOT_FOUND,
  [ErrorCode.Unavailable]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCode.Timeout]: HttpStatus.GATEWAY_TIMEOUT,
};

/** Any node's gateway answers for every node: requests go to that node's host-executor. */
@Controller('api/v1/nodes')
export class NodesController {
  constructor(private readonly host: HostClient) {}

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof TandemError) {
        throw new HttpException({ type: `urn:tandem:error:${err.code}`, title: err.code, status: STATUS[err.code] ?? 502, detail: err.message, field: err.field }, STATUS[err.code] ?? 502);
      }
      throw err;
    }
  }

  private node(id: string): string {
    const r = nodeIdSchema.safeParse(id);
    if (!r.success) throw new HttpException({ title: ErrorCode.InvalidArgument, status: 400, detail: `node: ${r.error.issues[0]?.message}`, field: 'node' }, 400);
    return id;
  }

  @Get(':node')
  info(@Param('node') node: string) {
    return this.call(() => this.host.call(this.node(node), 'node.info', {}, 5_000));
  }

  @Get(':node/pools')
  pools(@Param('node') node: string) {
    return this.call(() => this.host.call(this.node(node), 'pool.list', {}, 10_000));
  }

  @Get(':node/addresses')
  addresses(@Param('node') node: string) {
    return this.call(() => this.host.call(this.node(node), 'ip.list', {}, 10_000));
  }
}
