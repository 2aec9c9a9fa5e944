"""nexus-platform guardrails: `pulumi preview --policy-pack policy --policy-pack-config policy/config/<env>.json`.

Without a configuration every rule is mandatory (the prod posture), so forgetting the file can only make
the check stricter. See policy/README.md.
"""

from pack import policies
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(name="nexus-platform-guardrails", policies=policies(), enforcement_level=EnforcementLevel.MANDATORY)
