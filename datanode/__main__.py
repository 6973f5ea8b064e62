"""``python -m datanode --config FILE``: run one DataNode until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import logging
import sys

from datanode.config import ConfigError, DataNodeConfig
from datanode.node import DataNode
from hafs_api.settings import wait_for_stop_signal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datanode", description="Run a hafs DataNode.")
    parser.add_argument("--config", required=True, help="the DataNode's TOML config file")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    try:
        config = DataNodeConfig.load(args.config)
    except ConfigError as e:
        print(f"hafs datanode: bad configuration: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        node = DataNode.from_config(config).start()
    except OSError as e:
        logging.getLogger("datanode").error("cannot start: %s", e)
        return 1
    print(f"hafs datanode {node.datanode_id} serving on {node.address}", flush=True)
    wait_for_stop_signal()
    node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
