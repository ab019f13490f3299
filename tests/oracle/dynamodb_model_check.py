#!/usr/bin/python3
"""Validates DynamoDB request shapes against botocore's service model.

    /usr/bin/python3 tests/oracle/dynamodb_model_check.py requests.jsonl

Each line is {"op": "PutItem", "request": {...}} as the C++ client sent it,
with "service": "sqs" for a request to another service of the JSON protocol.
Uses botocore.validate.ParamValidator on the operation's input shape (the same
check boto3 makes before sending). Prints one line per problem; exit 1 if any.
"""
import json
import sys

import botocore.session
from botocore.validate import ParamValidator


def main(path):
    session = botocore.session.get_session()
    models = {}
    validator = ParamValidator()
    seen, problems = {}, 0
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            entry = json.loads(line)
            op = entry["op"]
            service = entry.get("service", "dynamodb")
            try:
                if service not in models:
                    models[service] = session.get_service_model(service)
                shape = models[service].operation_model(op).input_shape
            except Exception as e:  # an operation the model does not know
                print(f"line {n}: {op}: {e}")
                problems += 1
                continue
            report = validator.validate(entry["request"], shape)
            if report.has_errors():
                print(f"line {n}: {op}: {report.generate_report()}")
                problems += 1
            seen[op] = seen.get(op, 0) + 1
    print("checked " + ", ".join(f"{k}={v}" for k, v in sorted(seen.items())) +
          f" against botocore {botocore.__version__}; {problems} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
