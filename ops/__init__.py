"""Operator tooling around the Pulumi program: derived stacks for local runs, tests and benchmarks."""
