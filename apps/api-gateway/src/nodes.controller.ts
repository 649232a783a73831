import { Controller, Get, Param } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiPaths, ErrorCode, TandemError, describeZodError, hostOpResults, nodeIdSchema } from '@tandem/contracts';
import { HostClient } from '@tandem/messaging';
import { ApiProblems, ref, schemaOf } from './openapi';

/** Any node's gateway answers for every node: requests go to that node's host-executor. Errors become problem details (problem.ts). */
@ApiTags('nodes')
@Controller(ApiPaths.nodes.slice(1))
export class NodesController {
  constructor(private readonly host: HostClient) {}

  private node(id: string): string {
    const r = nodeIdSchema.safeParse(id);
    if (!r.success) throw new TandemError(ErrorCode.InvalidArgument, describeZodError(r.error, ['node']).message, 'node');
    return id;
  }

  @Get(':node')
  @ApiOperation({ summary: "A node's host-executor facts" })
  @ApiParam({ name: 'node', schema: ref('NodeId') })
  @ApiResponse({ status: 200, schema: schemaOf(hostOpResults['node.info']) })
  @ApiProblems(400, 404, 502, 504)
  info(@Param('node') node: string) {
    return this.host.call(this.node(node), 'node.info', {}, 5_000);
  }

  @Get(':node/pools')
  @ApiOperation({ summary: 'The pools imported on a node (as ZFS sees them)' })
  @ApiParam({ name: 'node', schema: ref('NodeId') })
  @ApiResponse({ status: 200, schema: schemaOf(hostOpResults['pool.list']) })
  @ApiProblems(400, 404, 502, 504)
  pools(@Param('node') node: string) {
    return this.host.call(this.node(node), 'pool.list', {}, 10_000);
  }

  @Get(':node/importable-pools')
  @ApiOperation({ summary: 'The pools a node could import (not imported anywhere it sees): what an attach can take there' })
  @ApiParam({ name: 'node', schema: ref('NodeId') })
  @ApiResponse({ status: 200, schema: schemaOf(hostOpResults['pool.importable']) })
  @ApiProblems(400, 404, 502, 504)
  importable(@Param('node') node: string) {
    return this.host.call(this.node(node), 'pool.importable', {}, 30_000);
  }

  @Get(':node/addresses')
  @ApiOperation({ summary: 'The IP addresses on a node' })
  @ApiParam({ name: 'node', schema: ref('NodeId') })
  @ApiResponse({ status: 200, schema: schemaOf(hostOpResults['ip.list']) })
  @ApiProblems(400, 404, 502, 504)
  addresses(@Param('node') node: string) {
    return this.host.call(this.node(node), 'ip.list', {}, 10_000);
  }
}
