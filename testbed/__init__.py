"""The rig both the tests and the benchmarks run the product on: stand-ins for the outside
world (the Claude Messages API and CLI, Convex, a git repository), the services started as
processes, the ledger engine, and the fault scenarios. Not tests themselves, and not
shipped: bench/ imports it where it would otherwise import tests/."""
