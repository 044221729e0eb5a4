"""Reading this process's Prometheus counters in tests: what moved, and by how much."""

from prometheus_client import REGISTRY


def counter_values(name: str) -> dict[str, float]:
    """Each series of the counter ``name``, keyed by its one label's value ("" for a counter without labels)."""
    for family in REGISTRY.collect():
        if family.name == name.removesuffix("_total"):
            return {next(iter(s.labels.values()), ""): s.value for s in family.samples if s.name == name}
    raise LookupError(f"no counter {name} in the registry")


class Counted:
    """A counter's values now, to compare with later: ``Counted(name).changes()`` is what moved since."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.before = counter_values(name)

    def changes(self) -> dict[str, float]:
        after = counter_values(self.name)
        return {
            key: value - self.before.get(key, 0) for key, value in after.items() if value != self.before.get(key, 0)
        }
