"""The list of scenarios, in the order they run.

A scenario is a function taking the run's context; it raises
harness.Fail (or any exception) to fail and may return a short detail
string for the PASS line.
"""

SCENARIOS = []


def scenario(name):
    def register(function):
        if any(n == name for n, _ in SCENARIOS):
            raise ValueError(f"duplicate scenario name {name}")
        SCENARIOS.append((name, function))
        return function
    return register
