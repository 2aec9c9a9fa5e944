"""Backup operations on a deployed stack's data tier, as commands (docs/backups.md):

    python -m backups backup-now product-postgres --stack prod     # a Job from the CronJob; waits; reports
    python -m backups backup-now fluxion/acme --stack prod         # a FluxionDB tenant's, in its namespace
    python -m backups list product-postgres cart-mongodb --stack prod [--source offsite]
    python -m backups restore product-postgres --stack prod --backup-date 2026-12-01 [--force] [--into HOST]

The Jobs are the chart's backup pods (backups/jobs.py); a bucket is read with rclone (backups/store.py),
its credentials taken from the cluster's Secret; the cluster is the one KUBECONFIG names.
"""
