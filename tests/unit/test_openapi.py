"""The published API description stays true: its examples are accepted by the real models."""

import pytest

from api.main import create_app
from api.schemas import CreateOrderIn, StatusChangeIn
from oms.settings import Settings


@pytest.mark.parametrize("model", [CreateOrderIn, StatusChangeIn])
def test_documented_examples_are_valid_requests(model):
    for example in model.model_config["json_schema_extra"]["examples"]:
        model.model_validate(example)


def test_every_operation_is_described():
    spec = create_app(Settings(_env_file=None)).openapi()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation.get("description"), f"{method.upper()} {path} has no docstring"
