"""Rotations the engine and cluster tiers ask of the dev stack: one credential of each kind that has a rotation
Job (a data-tier service login and admin, Redis, a Bitnami cluster's user, core-pipeline's login)."""

DEV_ROTATION = {
    "dataTier.product-postgres.user": 1,
    "dataTier.product-postgres.admin": 1,
    "dataTier.redis.password": 1,
    "postgresClusters.orders.user": 1,
    "corePipeline.database": 1,
}
