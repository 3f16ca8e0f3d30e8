"""The second half of the chaos proof's 20 seeded runs with faults in the AWS client layer
(tests/integration/test_chaos_aws_layer.py has the first half and the proof itself): a file of
its own so that `--dist loadfile` runs the two halves on CI's two workers at once."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_chaos_aws_layer import (
    SECOND_HALF,
    check_faults_change_nothing_but_the_number_of_tries,
    faults,  # noqa: F401 - the fixture, shared with the first half
)


@pytest.mark.parametrize("faults", SECOND_HALF, indirect=True)
def test_aws_faults_change_nothing_but_the_number_of_tries(faults: Any, stack_env: Any) -> None:  # noqa: F811
    check_faults_change_nothing_but_the_number_of_tries(faults, stack_env)
