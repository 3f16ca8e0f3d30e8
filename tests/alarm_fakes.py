"""In-memory AlarmStates (chalicelib/domain/alarms.py port), held to the DynamoDB adapter's
behaviour by tests/integration/test_alarm_states_contract.py."""

from __future__ import annotations

from chalicelib.domain.alarms import AlarmState


class FakeAlarmStates:
    def __init__(self) -> None:
        self.states: dict[str, AlarmState] = {}

    def get(self, name: str) -> AlarmState | None:
        return self.states.get(name)

    def replace(self, new: AlarmState, expected: AlarmState | None) -> bool:
        current = self.states.get(new.name)
        if expected is None:
            if current is not None:
                return False
        elif current is None or (current.state, current.changed_at) != (
            expected.state,
            expected.changed_at,
        ):
            return False
        self.states[new.name] = new
        return True

    def undo(self, new: AlarmState, previous: AlarmState | None) -> None:
        current = self.states.get(new.name)
        if current is None or (current.state, current.changed_at) != (new.state, new.changed_at):
            return
        if previous is None:
            del self.states[new.name]
        else:
            self.states[new.name] = previous

    def all(self) -> list[AlarmState]:
        return list(self.states.values())
