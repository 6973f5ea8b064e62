"""Scenarios of the replicated location map: registration, reports, corruption,
minimum replication on complete, appends, pipeline and block recovery."""

from __future__ import annotations

from nsharness import BS, Namespace

from ha_namenode.namespace.commands import (
    REPORTED_CORRUPT,
    REPORTED_FINALIZED,
    REPORTED_RBW,
    AddBlock,
    Append,
    BlockRef,
    Complete,
    Create,
    Delete,
    ExpireMaintenance,
    MarkCorrupt,
    RegisterDatanode,
    ReportReplicas,
    SetDatanodeAdmin,
    UpdatePipeline,
)
from ha_namenode.namespace.model import AdminState, Done, ReplicaState, ReportResult
from hafs_api.errors import FileNotFound, InvalidArgument

DNS = ("dn1", "dn2", "dn3")


def register(ns: Namespace, *ids: str) -> None:
    for i in ids or DNS:
        ns.do(RegisterDatanode(i, f"127.0.0.1:{9000 + int(i[2:])}", "/r1"))


def states(ns: Namespace, block_id: int) -> dict[str, tuple[int, int, str]]:
    with ns.store.read() as view:
        return {
            r.datanode: (r.gen_stamp, r.num_bytes, r.state.name) for r in view.replicas(block_id)
        }


def open_block(ns: Namespace, path: str = "/f", targets: tuple[str, ...] = DNS):
    ns.do(Create(path, 0o644, "c1", 3, BS))
    return ns.do(AddBlock(path, "c1", targets=targets))


def report(ns: Namespace, dn: str, *received, deleted=(), full=False) -> ReportResult:
    return ns.do(ReportReplicas(dn, tuple(received), tuple(deleted), full))


def test_register_keeps_the_admin_state_and_is_idempotent(ns: Namespace) -> None:
    assert ns.do(RegisterDatanode("dn1", "h:1", "/r1")) == Done()
    assert ns.do(RegisterDatanode("dn1", "h:1", "/r1")) == Done(False)
    assert ns.do(SetDatanodeAdmin("dn1", int(AdminState.DECOMMISSIONING))) == Done()
    ns.do(RegisterDatanode("dn1", "h:2", "/r2"))
    with ns.store.read() as view:
        assert view.datanode("dn1").admin is AdminState.DECOMMISSIONING
        assert view.datanode("dn1").address == "h:2"
    ns.fails(SetDatanodeAdmin("dn9", 2), FileNotFound)
    ns.fails(RegisterDatanode("", "h:1", "/r"), InvalidArgument)


def admin(ns: Namespace, dn: str = "dn1") -> tuple[AdminState, int]:
    with ns.store.read() as view:
        node = view.datanode(dn)
        return node.admin, node.maintenance_expiry


ENTERING, IN_MAINT = AdminState.ENTERING_MAINTENANCE, AdminState.IN_MAINTENANCE


def test_maintenance_keeps_its_expiry_through_the_leaders_transition(ns: Namespace) -> None:
    register(ns, "dn1")
    until = ns.now + 60_000
    assert ns.do(SetDatanodeAdmin("dn1", int(ENTERING), until)) == Done()
    assert admin(ns) == (ENTERING, until)
    ns.do(RegisterDatanode("dn1", "h:2", "/r1"))  # a restart keeps both
    assert admin(ns) == (ENTERING, until)
    done = SetDatanodeAdmin("dn1", int(IN_MAINT), only_from=int(ENTERING))
    assert ns.do(done) == Done()
    assert admin(ns) == (IN_MAINT, until)
    assert ns.do(done) == Done(False)  # only from ENTERING_MAINTENANCE
    later = until + 60_000  # asked again: only the expiry changes
    assert ns.do(SetDatanodeAdmin("dn1", int(ENTERING), later)) == Done()
    assert admin(ns) == (IN_MAINT, later)
    assert ns.do(SetDatanodeAdmin("dn1", int(AdminState.IN_SERVICE))) == Done()
    assert admin(ns) == (AdminState.IN_SERVICE, 0)


def test_the_leaders_transition_loses_to_an_operators_change(ns: Namespace) -> None:
    register(ns, "dn1")
    ns.do(SetDatanodeAdmin("dn1", int(ENTERING)))
    ns.do(SetDatanodeAdmin("dn1", int(AdminState.IN_SERVICE)))  # recommissioned meanwhile
    late = SetDatanodeAdmin("dn1", int(IN_MAINT), only_from=int(ENTERING))
    assert ns.do(late) == Done(False)
    assert admin(ns) == (AdminState.IN_SERVICE, 0)


def test_maintenance_refuses_a_past_expiry_and_a_decommissioned_node(ns: Namespace) -> None:
    register(ns, "dn1", "dn2")
    ns.fails(SetDatanodeAdmin("dn1", int(ENTERING), ns.now), InvalidArgument)
    ns.fails(SetDatanodeAdmin("dn1", int(ENTERING), -5), InvalidArgument)
    ns.fails(SetDatanodeAdmin("dn1", 9), InvalidArgument)
    ns.do(SetDatanodeAdmin("dn2", int(AdminState.DECOMMISSIONING)))
    ns.fails(SetDatanodeAdmin("dn2", int(ENTERING)), InvalidArgument)
    ns.do(SetDatanodeAdmin("dn1", int(ENTERING)))  # 0: no expiry
    assert admin(ns) == (ENTERING, 0)
    assert ns.do(SetDatanodeAdmin("dn1", int(AdminState.DECOMMISSIONING))) == Done()
    assert admin(ns) == (AdminState.DECOMMISSIONING, 0)


def test_maintenance_expires_only_once_its_time_has_come(ns: Namespace) -> None:
    register(ns, "dn1", "dn2")
    until = ns.now + 1000
    ns.do(SetDatanodeAdmin("dn1", int(ENTERING), until))
    ns.do(SetDatanodeAdmin("dn2", int(ENTERING)))  # never expires
    assert ns.do(ExpireMaintenance("dn1"), now=until - 1) == Done(False)
    assert ns.do(ExpireMaintenance("dn2"), now=until + 10**9) == Done(False)
    assert ns.do(ExpireMaintenance("dn9")) == Done(False)
    assert ns.do(ExpireMaintenance("dn1"), now=until) == Done()
    assert admin(ns) == (AdminState.IN_SERVICE, 0)
    assert admin(ns, "dn2") == (ENTERING, 0)
    assert ns.do(ExpireMaintenance("dn1"), now=until) == Done(False)  # in service already


def test_pipeline_targets_are_expected_until_reported(ns: Namespace) -> None:
    register(ns)
    block = open_block(ns)
    assert block.targets == DNS
    assert set(states(ns, block.block_id).values()) == {(block.gen_stamp, 0, "EXPECTED")}
    ns.fails(ReportReplicas("dn9", ()), InvalidArgument)  # unregistered
    report(ns, "dn1", (block.block_id, block.gen_stamp, 700, REPORTED_FINALIZED))
    assert states(ns, block.block_id)["dn1"] == (block.gen_stamp, 700, "FINALIZED")
    assert ns.locations("/f").blocks[0].targets == DNS  # open: expected ones count


def test_complete_waits_for_the_minimum_replication(ns: Namespace) -> None:
    register(ns)
    block = open_block(ns)
    last = BlockRef(block.block_id, block.gen_stamp, 700)
    assert ns.do(Complete("/f", "c1", last=last, min_replication=2)) == Done(False)
    assert ns.stat("/f").under_construction
    report(ns, "dn1", (block.block_id, block.gen_stamp, 700, REPORTED_FINALIZED))
    report(ns, "dn2", (block.block_id, block.gen_stamp, 699, REPORTED_FINALIZED))  # short
    assert ns.do(Complete("/f", "c1", last=last, min_replication=2)) == Done(False)
    report(ns, "dn3", (block.block_id, block.gen_stamp, 700, REPORTED_FINALIZED))
    assert ns.do(Complete("/f", "c1", last=last, min_replication=2)) == Done()
    assert states(ns, block.block_id)["dn2"][2] == "CORRUPT"  # the wrong length
    located = ns.locations("/f").blocks[0]
    assert (located.targets, located.corrupt) == (("dn1", "dn3"), ("dn2",))


def test_reports_of_unknown_or_stale_replicas_are_invalidated(ns: Namespace) -> None:
    register(ns)
    block = open_block(ns)
    result = report(
        ns,
        "dn1",
        (block.block_id, block.gen_stamp - 1, 5, REPORTED_FINALIZED),  # stale stamp
        (999, 1, 5, REPORTED_FINALIZED),  # no such block
        (block.block_id, block.gen_stamp + 5, 5, REPORTED_FINALIZED),  # newer: a recovery
    )
    assert result == ReportResult(((block.block_id, block.gen_stamp - 1), (999, 1)))
    # the current expected location stays: only the stale copy goes
    assert states(ns, block.block_id)["dn1"] == (block.gen_stamp, 0, "EXPECTED")


def test_a_full_report_replaces_the_datanodes_locations(ns: Namespace) -> None:
    register(ns)
    a = open_block(ns, "/a")
    ns.do(Complete("/a", "c1", last=BlockRef(a.block_id, a.gen_stamp, 10)))
    b = open_block(ns, "/b")
    report(ns, "dn1", (a.block_id, a.gen_stamp, 10, REPORTED_FINALIZED))
    report(ns, "dn1", (b.block_id, b.gen_stamp, 3, REPORTED_RBW), full=True)
    assert "dn1" not in states(ns, a.block_id)  # not in the full report: gone
    assert states(ns, b.block_id)["dn1"] == (b.gen_stamp, 0, "EXPECTED")


def test_corruption_is_sticky_and_deleting_files_invalidates_replicas(ns: Namespace) -> None:
    register(ns)
    block = open_block(ns)
    ns.do(Complete("/f", "c1", last=BlockRef(block.block_id, block.gen_stamp, 10)))
    for dn in DNS:
        report(ns, dn, (block.block_id, block.gen_stamp, 10, REPORTED_FINALIZED))
    ns.do(MarkCorrupt(((block.block_id, block.gen_stamp, "dn2"),)))
    report(ns, "dn3", (block.block_id, block.gen_stamp, 10, REPORTED_CORRUPT))
    report(ns, "dn2", (block.block_id, block.gen_stamp, 10, REPORTED_FINALIZED))  # still bad
    assert [s[2] for s in states(ns, block.block_id).values()] == [
        "FINALIZED",
        "CORRUPT",
        "CORRUPT",
    ]
    ns.do(Delete("/f", skip_trash=True))
    with ns.store.read() as view:
        assert [(i.block, i.datanode) for dn in DNS for i in view.invalidations(dn)] == [
            (block.block_id, dn) for dn in DNS
        ]
    report(ns, "dn1", deleted=((block.block_id, block.gen_stamp),))
    with ns.store.read() as view:
        assert view.invalidations("dn1") == []


def test_append_reopens_the_good_replicas_under_a_new_stamp(ns: Namespace) -> None:
    register(ns)
    block = open_block(ns)
    ns.do(Complete("/f", "c1", last=BlockRef(block.block_id, block.gen_stamp, 10)))
    report(ns, "dn1", (block.block_id, block.gen_stamp, 10, REPORTED_FINALIZED))
    report(ns, "dn3", (block.block_id, block.gen_stamp, 10, REPORTED_FINALIZED))
    result = ns.do(Append("/f", "c2"))
    assert result.last_block.targets == ("dn1", "dn3")
    new = result.last_block.gen_stamp
    assert new > block.gen_stamp
    assert states(ns, block.block_id) == {
        "dn1": (new, 10, "EXPECTED"),
        "dn3": (new, 10, "EXPECTED"),
    }


def test_update_pipeline_keeps_the_survivors_under_a_new_stamp(ns: Namespace) -> None:
    register(ns)
    block = open_block(ns)
    located = ns.do(UpdatePipeline("/f", "c1", block.block_id, block.gen_stamp, ("dn1", "dn3")))
    assert located.targets == ("dn1", "dn3") and located.gen_stamp > block.gen_stamp
    assert set(states(ns, block.block_id)) == {"dn1", "dn3"}
    ns.fails(  # a repeated recovery with the old stamp
        UpdatePipeline("/f", "c1", block.block_id, block.gen_stamp, ("dn1",)), InvalidArgument
    )
    ns.fails(UpdatePipeline("/f", "c1", block.block_id, located.gen_stamp, ()), InvalidArgument)
    last = BlockRef(block.block_id, located.gen_stamp, 10)
    for dn in ("dn1", "dn3"):
        report(ns, dn, (block.block_id, located.gen_stamp, 10, REPORTED_FINALIZED))
    assert ns.do(Complete("/f", "c1", last=last, min_replication=2)) == Done()


def test_block_recovery_commits_the_agreed_length(ns: Namespace) -> None:
    register(ns)
    open_block(ns)
    block = ns.locations("/f").blocks[0]
    ns.recover("/f", 300, ("dn2", "dn3"))
    status = ns.stat("/f")
    assert (status.length, status.under_construction) == (300, False)
    after = ns.locations("/f").blocks[0]
    assert after.gen_stamp > block.gen_stamp and after.targets == ("dn2", "dn3")
    assert states(ns, block.block_id)["dn2"] == (after.gen_stamp, 300, "FINALIZED")
    assert ReplicaState.FINALIZED.name == "FINALIZED"


def test_complete_checks_the_last_two_blocks_only(ns: Namespace) -> None:
    register(ns)
    ns.do(Create("/big", 0o644, "c1", 3, BS))
    refs = []
    previous = None
    for _ in range(3):
        b = ns.do(AddBlock("/big", "c1", previous=previous, targets=DNS))
        previous = BlockRef(b.block_id, b.gen_stamp, BS)
        refs.append(previous)
    last = refs[-1]
    report(ns, "dn1", (refs[1].block_id, refs[1].gen_stamp, BS, REPORTED_FINALIZED))
    assert ns.do(Complete("/big", "c1", last=last, min_replication=1)) == Done(False)
    report(ns, "dn1", (last.block_id, last.gen_stamp, BS, REPORTED_FINALIZED))
    # the first block's report is still on its way: its pipeline acknowledged it long ago
    assert ns.do(Complete("/big", "c1", last=last, min_replication=1)) == Done()
