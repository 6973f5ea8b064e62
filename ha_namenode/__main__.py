"""``python -m ha_namenode --config FILE``: run one NameNode until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import logging
import sys

from ha_namenode.config import ConfigError, NameNodeConfig
from ha_namenode.consensus.raft import StartupError
from ha_namenode.node import DataDirInUse, NameNode
from hafs_api.settings import wait_for_stop_signal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ha_namenode", description="Run a hafs NameNode."
    )
    parser.add_argument("--config", required=True, help="the NameNode's TOML config file")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    try:
        config = NameNodeConfig.load(args.config)
    except ConfigError as e:
        print(f"hafs namenode: bad configuration: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format=f"%(asctime)s %(levelname)s [{config.namenode.id}] %(name)s: %(message)s",
    )
    try:
        node = NameNode.from_config(config).start()
    except (DataDirInUse, StartupError, OSError) as e:
        logging.getLogger("ha_namenode").error("cannot start: %s", e)
        return 1
    print(f"hafs namenode {config.namenode.id} serving on {node.address}", flush=True)
    wait_for_stop_signal()
    node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
