"""Credential rotation: new passwords that no client is ever handed before the server takes them.

A rotation is asked for by raising a credential's generation in stack config (platform_config.rotation). In one
`pulumi up`, in this order:

1. the generation feeds the RandomPassword's keepers: a new password (`alternating_slots`);
2. a rotation Job (`rotation_job`) teaches it to the running server, logged in with what the server takes now
   (the live Secret's current values; the next ones come from a Secret of their own, `<target>-next-credentials`);
3. only then does the live Secret the clients read change (its owner makes it depend on the Job), and the pods
   reading it roll (their `checksum/secret-<name>` annotation changes).

Two credentials alternate wherever clients hold them for long: a slot 0 and a slot 1 password, the active one
being `generation % 2`. A rotation replaces only the slot it activates, so the password clients held until now
is the other slot, untouched: it keeps working until the next rotation replaces it. That is the grace of every
alternating credential: from one rotation to the next. PostgreSQL and MongoDB give one password per login, so
their slots are two logins (`alternating_logins`: the service user and `<user>_alt`, a login acting as it);
Redis gives a user several passwords, so its slots are two passwords of one user. Admin and replication
credentials, held only by our own pods that roll in the same `up`, have one slot.

A Job that fails stops the `up` before the live Secret changes: clients keep the credentials they have, which the
server still takes (an alternating credential's old slot is never touched; a single one is changed last and only
after everything else, and the Job logs in with the next password first when run again). The next `up` replaces
the failed Job (`pulumi.com/replaceUnready`) and completes the rotation.

In a new stack the Job runs before the live Secret exists; its programs read the current values through optional
references, find none, and leave the database to be initialised with the next credentials.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from .kubernetes import client_job_spec, service_account, standard_labels
from .secrets import generated_password, opaque_secret

PROGRAMS = Path(__file__).resolve().parent / "rotation_programs"
# The second login of an alternating pair: `<user>_alt`, a login that acts as `<user>`.
ALTERNATE_SUFFIX = "_alt"
# Key of the password the last rotation retired from clients but the server still takes (Redis).
PREVIOUS_PASSWORD_KEY = "previous-password"
# ...and of its login, where the logins alternate (Kafka's brokers accept both).
PREVIOUS_USERNAME_KEY = "previous-username"
# The pods of a rotation Job carry this label (the data tier's strict network policy admits them).
ROTATION_OF_LABEL = "nexus.io/rotation-of"
COMPONENT = "credential-rotation"


@dataclass(frozen=True)
class Login:
    username: str
    password: pulumi.Output[str]


@dataclass(frozen=True)
class Slots:
    """The active password (the one clients get) and the one it replaced, still accepted (None before the first
    rotation)."""

    active: pulumi.Output[str]
    previous: pulumi.Output[str] | None


def slot_generations(generation: int) -> tuple[int, int | None]:
    """(slot 0's, slot 1's) generation at rotation `generation`: the last one at which each slot became active.
    Slot 0 is the password a stack was created with (generation 0: no keepers, unchanged); slot 1 exists from
    the first rotation on."""
    slot0 = generation - generation % 2
    slot1 = None if generation == 0 else generation - 1 + generation % 2
    return slot0, slot1


def alternating_slots(resource_name: str, opts: pulumi.ResourceOptions, generation: int, length: int = 32) -> Slots:
    """Two generated passwords that alternate (slot 0 keeps `resource_name`, so it is the password the stack already
    has; slot 1 is `<resource_name>-alternate`)."""
    slot0_generation, slot1_generation = slot_generations(generation)
    slot0 = generated_password(resource_name, opts, length, slot0_generation)
    if slot1_generation is None:
        return Slots(slot0, None)
    slot1 = generated_password(f"{resource_name}-alternate", opts, length, slot1_generation)
    return Slots(slot1, slot0) if generation % 2 else Slots(slot0, slot1)


def alternate_username(username: str) -> str:
    return f"{username}{ALTERNATE_SUFFIX}"


def active_username(username: str, generation: int) -> str:
    """The login clients get at `generation`: the service user itself, or its alternate at odd generations."""
    return alternate_username(username) if generation % 2 else username


def alternating_logins(
    username: str, resource_name: str, opts: pulumi.ResourceOptions, generation: int
) -> tuple[Login, Login | None]:
    """(the active login, the previous one, still working until the next rotation; None before the first)."""
    slots = alternating_slots(resource_name, opts, generation)
    active = Login(active_username(username, generation), slots.active)
    previous = None if slots.previous is None else Login(active_username(username, generation + 1), slots.previous)
    return active, previous


# --- the rotation Job ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RotationProgram:
    """A program in components/rotation_programs/ and how a pod runs it: `command` then the program's path, in
    the server's own image (it has the server's client), as the image's own user."""

    file: str
    command: tuple[str, ...]
    image: str
    run_as: int

    @property
    def text(self) -> str:
        return (PROGRAMS / self.file).read_text()


@dataclass(frozen=True)
class RotationTarget:
    """What a rotation Job rotates: the server (`target`, also the stem of the Job's object names), the live
    Secret its clients read, and the pods' labels (the network policy of the target's namespace must admit them)."""

    target: str
    namespace: pulumi.Input[str]
    live_secret: str
    pod_labels: Mapping[str, str]
    # With TLS on: the server's certificate Secret, whose `ca.crt` the Job verifies the server against.
    ca_secret: str | None = None


def rotation_service_account_name(target: str) -> str:
    """The ServiceAccount every rotation Job of `target` runs as (one per target: a workload of its own)."""
    return f"{target}-rotation"


def fingerprint(parts: Mapping[str, Any]) -> str:
    """Eight hex characters naming one rotation: its program, image, settings and generations."""
    return hashlib.sha256(json.dumps(dict(parts), sort_keys=True).encode()).hexdigest()[:8]


def next_secret_name(target: str) -> str:
    return f"{target}-next-credentials"


def _secret_env(env: str, secret: str, key: str, *, optional: bool) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": env, "valueFrom": {"secretKeyRef": ref}}


def rotation_job_spec(
    *,
    program: RotationProgram,
    target: RotationTarget,
    script_config_map: str,
    settings: Mapping[str, str],
    current: Mapping[str, str],
    next_keys: Mapping[str, str],
) -> dict[str, Any]:
    """The Job's spec. `settings`: plain environment; `current`: env -> key of the live Secret (optional
    references: absent in a new stack); `next_keys`: env -> key of the next-credentials Secret."""
    env = [{"name": name, "value": value} for name, value in settings.items()]
    env += [_secret_env(name, target.live_secret, key, optional=True) for name, key in current.items()]
    env += [_secret_env(name, next_secret_name(target.target), key, optional=False) for name, key in next_keys.items()]
    # psql and redis-cli look for rc files and history under HOME; the only writable path is /tmp.
    env.append({"name": "HOME", "value": "/tmp"})
    container = {"name": "rotate", "image": program.image, "command": [*program.command, f"/rotation/{program.file}"]}
    labels = {
        **standard_labels(COMPONENT, {"app.kubernetes.io/name": f"{target.target}-rotation"}),
        **target.pod_labels,
        ROTATION_OF_LABEL: target.target,
    }
    return client_job_spec(
        {**container, "env": env},
        uid=program.run_as,
        labels=labels,
        script_volume=("rotation", script_config_map, "/rotation"),
        # The programs retry while a server is still starting.
        backoff_limit=3,
        active_deadline_seconds=600,
        service_account_name=rotation_service_account_name(target.target),
        ca_secret=target.ca_secret,
        extra_pod_spec={"enableServiceLinks": False},
    )


@dataclass
class RotationJobs:
    """The two Jobs of one target's rotation, running the same program with the same environment:
    `rotate`, before the live Secret changes (the owner makes the Secret depend on it), and `converge(...)`, after
    the server (the owner passes what deploys it). In an existing stack `rotate` does the work and `converge`
    finds nothing left to do; in a new stack `rotate` finds no live Secret and `converge` creates what the
    server's own initialisation does not (the alternate login of an odd generation)."""

    resource_name: str
    object_stem: str
    namespace: pulumi.Input[str]
    labels: Mapping[str, str]
    spec: Mapping[str, Any]
    opts: pulumi.ResourceOptions
    rotate: k8s.batch.v1.Job

    def converge(self, depends_on: list[pulumi.Resource]) -> k8s.batch.v1.Job:
        return _job(
            f"{self.resource_name}-converge",
            f"{self.object_stem.replace('-rotate-', '-converge-')}",
            self.namespace,
            self.labels,
            self.spec,
            pulumi.ResourceOptions.merge(self.opts, pulumi.ResourceOptions(depends_on=[*depends_on, self.rotate])),
        )


def _job(
    resource_name: str,
    object_name: str,
    namespace: pulumi.Input[str],
    labels: Mapping[str, str],
    spec: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
) -> k8s.batch.v1.Job:
    return k8s.batch.v1.Job(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=object_name,
            namespace=namespace,
            labels=dict(labels),
            # A Job that failed (a server not up in time) is replaced on the next `up` instead of awaited again.
            annotations={"pulumi.com/replaceUnready": "true"},
        ),
        spec=dict(spec),
        opts=opts,
    )


def rotation_jobs(
    resource_name: str,
    *,
    program: RotationProgram,
    target: RotationTarget,
    generations: Mapping[str, int],
    settings: Mapping[str, str],
    current: Mapping[str, str],
    next_values: Mapping[str, pulumi.Input[str]],
    opts: pulumi.ResourceOptions,
) -> RotationJobs | None:
    """The Jobs that teach `target` its next credentials (`next_values`: env -> value), or None while every
    credential is at generation 0 (nothing was ever rotated: no Job, no next-credentials Secret).

    Everything that decides what the Jobs do is in their names (`<target>-rotate-<fingerprint>`): a new generation
    is a new Job, run before the live Secret changes; an unchanged one is left alone, however often `up` runs."""
    if not any(generations.values()):
        return None
    labels = standard_labels(COMPONENT, {ROTATION_OF_LABEL: target.target})
    # Keys of the next-credentials Secret: the env names, lower-cased (what the program reads is the env).
    next_keys = {env: env.lower().replace("_", "-") for env in next_values}
    next_secret = opaque_secret(
        f"{resource_name}-next",
        name=next_secret_name(target.target),
        namespace=target.namespace,
        labels=labels,
        data={next_keys[env]: value for env, value in next_values.items()},
        opts=opts,
    )
    digest = fingerprint(
        {
            "program": program.text,
            "image": program.image,
            "settings": dict(settings),
            "current": dict(current),
            "next": sorted(next_keys),
            "generations": dict(generations),
            # Only once TLS is on, so the Jobs of a stack without it keep their names.
            **({"caSecret": target.ca_secret} if target.ca_secret else {}),
        }
    )
    object_name = f"{target.target}-rotate-{digest}"
    account = service_account(
        f"{resource_name}-account",
        name=rotation_service_account_name(target.target),
        namespace=target.namespace,
        labels=labels,
        opts=opts,
    )
    script = k8s.core.v1.ConfigMap(
        f"{resource_name}-program",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=target.namespace, labels=labels),
        data={program.file: program.text},
        immutable=True,
        opts=opts,
    )
    spec = rotation_job_spec(
        program=program,
        target=target,
        script_config_map=object_name,
        settings=settings,
        current=current,
        next_keys=next_keys,
    )
    rotate = _job(
        resource_name,
        object_name,
        target.namespace,
        labels,
        spec,
        pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[next_secret, script, account])),
    )
    return RotationJobs(resource_name, object_name, target.namespace, labels, spec, opts, rotate)
