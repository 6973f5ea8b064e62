"""The ClientNamenode servicer: namespace operations, translated to the Namesystem;
block placement, locations and tokens through the BlockManager.

Every call that names a path passes the federation's ownership check first
(``Federation.admit``: a no-op without federation or with mount version 0).
"""

from __future__ import annotations

from ha_namenode.blocks.manager import BlockManager
from ha_namenode.blocks.monitor import BlockMonitor
from ha_namenode.federation.access import access_of, reading
from ha_namenode.federation.service import Federation
from ha_namenode.namespace import commands as c
from ha_namenode.namespace import queries, xattrs
from ha_namenode.namespace.model import Inode, LocatedBlock
from ha_namenode.namespace.resolve import resolve
from ha_namenode.namesystem import Namesystem
from ha_namenode.rpc import convert
from ha_namenode.rpc.errors import rpc
from hafs_api import paths, tokens
from hafs_api.errors import RecoveryInProgress, Unavailable
from hafs_api.v1 import namenode_pb2 as pb
from hafs_api.v1 import namenode_pb2_grpc


class ClientService(namenode_pb2_grpc.ClientNamenodeServicer):
    def __init__(
        self,
        namesystem: Namesystem,
        blocks: BlockManager,
        monitor: BlockMonitor,
        federation: Federation,
    ) -> None:
        self.ns = namesystem
        self.blocks = blocks
        self.monitor = monitor
        self.fed = federation

    def _mutate(self, request, command):
        header = convert.header(request.header)
        self.fed.admit(header.mount_version, access_of(command))
        return self.ns.mutate(header, command)

    def _read(self, request, query, path: str, *args):
        header = convert.header(request.header)
        self.fed.admit(header.mount_version, reading(path))
        return self.ns.read(header, query, path, *args)

    def _opening(self, request, command):
        """Create/Append: a file whose dead writer left an open block starts its recovery."""
        try:
            return self._mutate(request, command)
        except RecoveryInProgress:
            self.monitor.request_recovery(command.path)
            raise

    def _file(self, path: str) -> Inode | None:
        return self.ns.view(lambda view: resolve(view, path).last)

    def _located(self, block: LocatedBlock, mode: str, client_host: str = "", *, sort: bool):
        term = self.blocks.ensure_term()
        if sort:
            nodes = self.blocks.sorted_locations(block, client_host)
        else:
            views = self.blocks.views()
            nodes = [views[t] for t in block.targets if t in views]
        token = self.blocks.token(block.block_id, mode)
        return convert.located_block(block, nodes, term, token, self.blocks.block_pool)

    @rpc
    def Mkdir(self, request, context):
        status = self._mutate(
            request,
            c.Mkdir(
                paths.validate(request.path),
                request.permission & 0o1777,
                request.parents,
                request.exist_ok,
            ),
        )
        return pb.MkdirResponse(status=convert.file_status(status))

    @rpc
    def Create(self, request, context):
        command = self.ns.create_command(
            paths.validate(request.path),
            request.permission,
            request.header.client_id,
            request.replication,
            request.block_size,
            request.overwrite,
            request.create_parent,
        )
        return pb.CreateResponse(status=convert.file_status(self._opening(request, command)))

    @rpc
    def AddBlock(self, request, context):
        path = paths.validate(request.path)
        self.blocks.ensure_term()
        node = self._file(path)
        targets: tuple[str, ...] = ()
        if node is not None and node.is_file:
            targets = self.blocks.targets(
                node.replication,
                convert.peer_host(context.peer()),
                list(request.excluded_datanodes),
                node.block_size,
            )
            if not targets:
                live = sum(1 for n in self.blocks.views().values() if n.usable)
                raise Unavailable(
                    f"no DataNode can take a new block of {path}: {live} usable, "
                    f"{len(request.excluded_datanodes)} excluded",
                    path,
                )
        command = c.AddBlock(
            path,
            request.header.client_id,
            request.file_id,
            convert.block_ref(request.previous, request.HasField("previous")),
            targets,
        )
        block = self._mutate(request, command)
        return pb.AddBlockResponse(block=self._located(block, tokens.WRITE, sort=False))

    @rpc
    def AbandonBlock(self, request, context):
        self._mutate(
            request,
            c.AbandonBlock(
                paths.validate(request.path),
                request.header.client_id,
                request.block.block_id,
                request.file_id,
            ),
        )
        return pb.AbandonBlockResponse()

    @rpc
    def Complete(self, request, context):
        path = paths.validate(request.path)
        node = self._file(path)
        minimum = self.blocks.settings.min_replication
        if node is not None and node.is_file:
            minimum = min(minimum, node.replication)
        done = self._mutate(
            request,
            c.Complete(
                path,
                request.header.client_id,
                request.file_id,
                convert.block_ref(request.last, request.HasField("last")),
                minimum,
            ),
        )
        return pb.CompleteResponse(completed=done.value)

    @rpc
    def Append(self, request, context):
        result = self._opening(
            request,
            c.Append(paths.validate(request.path), request.header.client_id, self.ns.soft_limit_ms),
        )
        response = pb.AppendResponse(status=convert.file_status(result.status))
        if result.last_block is not None:
            located = self._located(result.last_block, tokens.WRITE, sort=False)
            response.last_block.CopyFrom(located)
        return response

    @rpc
    def UpdatePipeline(self, request, context):
        located = self._mutate(
            request,
            c.UpdatePipeline(
                paths.validate(request.path),
                request.header.client_id,
                request.block.block_id,
                request.block.gen_stamp,
                tuple(request.datanodes),
                request.file_id,
            ),
        )
        return pb.UpdatePipelineResponse(block=self._located(located, tokens.WRITE, sort=False))

    @rpc
    def ReportBadBlocks(self, request, context):
        self.blocks.report_bad(
            [(r.block.block_id, r.block.gen_stamp, r.datanode_id) for r in request.replicas]
        )
        return pb.ReportBadBlocksResponse()

    @rpc
    def Rename(self, request, context):
        self._mutate(
            request,
            c.Rename(paths.validate(request.src), paths.validate(request.dst), request.overwrite),
        )
        return pb.RenameResponse()

    @rpc
    def Delete(self, request, context):
        result = self._mutate(
            request, self.ns.delete_command(request.path, request.recursive, request.skip_trash)
        )
        return pb.DeleteResponse(trash_path=result.trash_path)

    @rpc
    def GetFileInfo(self, request, context):
        status = self._read(request, queries.stat, paths.validate(request.path))
        return pb.GetFileInfoResponse(status=convert.file_status(status))

    @rpc
    def GetListing(self, request, context):
        limit = min(
            request.limit or self.ns.config.namespace.listing_limit,
            self.ns.config.namespace.listing_limit,
        )
        listing = self._read(
            request,
            queries.listing,
            paths.validate(request.path),
            request.start_after,
            limit,
        )
        return pb.GetListingResponse(
            entries=[convert.file_status(s) for s in listing.entries], remaining=listing.remaining
        )

    @rpc
    def GetBlockLocations(self, request, context):
        located = self._read(
            request,
            queries.block_locations,
            paths.validate(request.path),
            request.offset,
            request.length,
        )
        host = convert.peer_host(context.peer())
        return pb.GetBlockLocationsResponse(
            status=convert.file_status(located.status),
            blocks=[self._located(b, tokens.READ, host, sort=True) for b in located.blocks],
        )

    @rpc
    def GetContentSummary(self, request, context):
        summary = self._read(request, queries.content_summary, paths.validate(request.path))
        return pb.GetContentSummaryResponse(summary=convert.content_summary(summary))

    @rpc
    def SetPermission(self, request, context):
        self._mutate(request, c.SetPermission(paths.validate(request.path), request.permission))
        return pb.SetPermissionResponse()

    @rpc
    def SetOwner(self, request, context):
        self._mutate(
            request, c.SetOwner(paths.validate(request.path), request.owner, request.group)
        )
        return pb.SetOwnerResponse()

    @rpc
    def SetReplication(self, request, context):
        self.ns.check_replication(request.replication, request.path)
        done = self._mutate(
            request, c.SetReplication(paths.validate(request.path), request.replication)
        )
        return pb.SetReplicationResponse(changed=done.value)

    @rpc
    def SetTimes(self, request, context):
        self._mutate(
            request, c.SetTimes(paths.validate(request.path), request.mtime_ms, request.atime_ms)
        )
        return pb.SetTimesResponse()

    @rpc
    def SetQuota(self, request, context):
        self._mutate(
            request,
            c.SetQuota(
                paths.validate(request.path),
                request.ns_quota if request.HasField("ns_quota") else None,
                request.ds_quota if request.HasField("ds_quota") else None,
            ),
        )
        return pb.SetQuotaResponse()

    @rpc
    def RenewLease(self, request, context):
        self._mutate(request, c.RenewLease(request.header.client_id))
        return pb.RenewLeaseResponse()

    @rpc
    def RecoverLease(self, request, context):
        path = paths.validate(request.path)
        done = self._mutate(request, c.RecoverLease(path, request.header.client_id))
        closed = done.value or self.monitor.recover(path)  # an open block: recover it now
        return pb.RecoverLeaseResponse(closed=closed)

    @rpc
    def ExpungeTrash(self, request, context):
        user = request.header.user
        result = self._mutate(
            request, c.ExpungeTrash(user, self.ns.trash_interval_ms, request.immediate)
        )
        return pb.ExpungeTrashResponse(
            checkpoint=result.checkpoints[0] if result.checkpoints else "",
            removed=list(result.removed),
        )

    @rpc
    def GetServerDefaults(self, request, context):
        ns = self.ns.config.namespace
        return pb.GetServerDefaultsResponse(
            block_size=ns.default_block_size,
            replication=ns.default_replication,
            bytes_per_checksum=ns.bytes_per_checksum,
            trash_interval_ms=self.ns.trash_interval_ms,
            listing_limit=ns.listing_limit,
        )

    @rpc
    def SetXAttr(self, request, context):
        command = self.ns.set_xattr_command(
            request.path,
            request.name,
            request.value,
            int(request.flag),
            request.compare,
            request.expected if request.HasField("expected") else None,
        )
        done = self._mutate(request, command)
        return pb.SetXAttrResponse(swapped=done.value)

    @rpc
    def RemoveXAttr(self, request, context):
        self._mutate(request, c.RemoveXAttr(paths.validate(request.path), request.name))
        return pb.RemoveXAttrResponse()

    @rpc
    def GetXAttrs(self, request, context):
        found = self._read(
            request, xattrs.get_xattrs, paths.validate(request.path), tuple(request.names)
        )
        return pb.GetXAttrsResponse(xattrs=[pb.XAttr(name=n, value=v) for n, v in found])

    @rpc
    def ListXAttrs(self, request, context):
        names = self._read(request, xattrs.list_xattrs, paths.validate(request.path))
        return pb.ListXAttrsResponse(names=names)
