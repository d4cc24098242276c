"""The `fondation` command: the operator CLI, the embedded stack it starts and the job
submission it shares with the benchmarks. The top floor: it may import every layer below."""
