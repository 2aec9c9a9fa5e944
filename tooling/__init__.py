"""The project's tooling, shared by `make`, the scripts, the test tiers and the benchmark.

Not part of the Pulumi program (which is `__main__.py`, `components/`, `platform_config/`): this package
runs the tools around it. `paths` names the project's folders once; `stackfiles` reads and derives stack
files; `helm` renders our charts and validates what they render; `engine` runs the real pulumi CLI on a
throwaway copy of the program; `stacks` runs the program under Pulumi's mocks; `outputs_contract`
checks stack outputs against the published schema.
"""
