"""`python -m tooling.local_cluster`: see the package docstring (or run it without a command)."""

from __future__ import annotations

import argparse
import sys

from tooling.local_cluster import __doc__ as USAGE
from tooling.local_cluster.binaries import BuildError
from tooling.local_cluster.cluster import ClusterError, LocalCluster, _log
from tooling.local_cluster.config import INSTANCES, instance

COMMANDS = ("build", "start", "stop", "reset", "status", "kubeconfig", "env", "clean")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/local-cluster.sh", description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instance", choices=INSTANCES, default="default", help="which cluster (default: make up's)")
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("--fresh", action="store_true", help="start: delete the cluster's data first")
    args = parser.parse_args(argv)
    cluster = LocalCluster(instance(args.instance))
    try:
        if args.command == "build":
            cluster.build()
        elif args.command == "start":
            with cluster.lock():
                print(cluster.start(fresh=args.fresh))
        elif args.command == "stop":
            with cluster.lock():
                cluster.stop()
        elif args.command == "reset":
            with cluster.lock():
                cluster.reset()
        elif args.command == "status":
            return 0 if cluster.status() else 1
        elif args.command == "kubeconfig":
            print(cluster.instance.kubeconfig)
        elif args.command == "env":
            sys.stdout.write(cluster.env())
        elif args.command == "clean":
            from tooling.local_cluster.clean import clean

            return clean(_log)
    except (ClusterError, BuildError) as error:
        _log(f"ERROR: {error}")
        return 1
    except ModuleNotFoundError as error:
        _log(f"ERROR: the Python package {error.name} is missing: run `make venv` (this runs with .venv/bin/python)")
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
