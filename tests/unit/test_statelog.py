"""The Raft state log: appended, fsynced JSON lines; a torn last line is skipped."""

from ha_namenode.consensus.statelog import StateLog, read


def test_records_roles_by_term_and_skips_a_torn_line(tmp_path):
    path = tmp_path / "raft-states.log"
    log = StateLog(path, "nn2", "ns1")
    log.record(3, "candidate")
    log.record(3, "leader")
    with open(path, "a") as f:
        f.write('{"term": 4, "sta')  # a crash mid-write
    records = read(path)
    assert [(r["term"], r["state"], r["node"], r["nameservice"]) for r in records] == [
        (3, "candidate", "nn2", "ns1"),
        (3, "leader", "nn2", "ns1"),
    ]
    assert read(tmp_path / "missing.log") == []


def test_a_failed_write_is_logged_not_raised(tmp_path, caplog):
    log = StateLog(tmp_path / "no-such-dir" / "raft-states.log", "nn1", "ns1")
    log.record(1, "leader")
    assert "cannot record Raft state leader of term 1" in caplog.text
