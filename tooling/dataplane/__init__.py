"""The data plane for tests: real servers on loopback, running exactly the programs our charts put into pods.

- `processes`: every server and script runs in its own process group, tracked, stopped (and killed when it
  does not stop) at teardown, whatever the tests did.
- `pods`: a rendered pod (StatefulSet, Job, CronJob) turned into processes on this machine: its containers'
  command, args and env taken from `helm template` output, Secrets and the downward API resolved, its
  volumes made directories in a temporary tree. What differs from a pod is done in two visible tables:
  in-pod paths -> directories (`Pod.paths`) and in-cluster DNS names -> loopback addresses (`Network`).
- `postgres`, `confluent`: stand-ins for what the images do before our scripts run (the official postgres
  image's docker-entrypoint.sh, Confluent's /etc/confluent/docker/run), reproduced from their sources.
- `paths`: where scripts/dataplane-servers.sh installs the servers.
"""
