"""The suite's order (conftest.py): modules longest first, each module's tests together and in their
order, and the table of module times names modules that exist."""

from __future__ import annotations

from pathlib import Path

import conftest

TESTS = Path(__file__).parent


class Item:
    def __init__(self, module: str, name: str, slow: bool = False):
        self.path, self.name, self.slow = TESTS / module, name, slow

    def get_closest_marker(self, name: str):
        return object() if name == "slow" and self.slow else None


def test_every_module_of_the_time_table_exists():
    assert conftest.MODULE_SECONDS
    missing = [m for m in conftest.MODULE_SECONDS if not (TESTS / m).is_file()]
    assert not missing, f"MODULE_SECONDS names modules that are not in tests/: {missing}"


def test_longest_modules_first_and_each_module_whole_and_in_order():
    longest, second = sorted(conftest.MODULE_SECONDS, key=conftest.MODULE_SECONDS.get, reverse=True)[:2]
    items = [Item("test_a_fast.py", "a1"), Item(second, "s1"), Item("test_a_fast.py", "a2"),
             Item("test_unlisted_slow.py", "u1", slow=True), Item(longest, "l1"), Item(second, "s2"),
             Item(longest, "l2")]
    conftest.pytest_collection_modifyitems(items)
    assert [i.name for i in items] == ["l1", "l2", "s1", "s2", "u1", "a1", "a2"]
