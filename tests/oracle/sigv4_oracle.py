#!/usr/bin/python3
"""Signs requests with botocore's SigV4Auth at a fixed time: the oracle for
adapters/aws/sigv4. Reads JSON lines on stdin, writes one JSON line per
request: {"authorization": ..., "amz_date": ..., "token": ...}.

Run with Debian's /usr/bin/python3 (python3-botocore), not a pyenv python.
"""
import base64
import datetime
import json
import sys
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def sign(case):
    request = AWSRequest(method=case["method"], url=case["url"], data=base64.b64decode(case["body"]))
    for name, value in case["headers"]:
        request.headers[name] = value  # HTTPHeaders appends: repeated names are kept
    creds = Credentials(case["access_key"], case["secret_key"], case.get("token"))
    fixed = datetime.datetime.utcfromtimestamp(case["unix"])
    with mock.patch("botocore.auth.datetime") as dt:
        dt.datetime.utcnow.return_value = fixed
        dt.datetime.strptime = datetime.datetime.strptime
        SigV4Auth(creds, case["service"], case["region"]).add_auth(request)
    return {
        "authorization": request.headers["Authorization"],
        "amz_date": request.headers["X-Amz-Date"],
        "token": request.headers.get("X-Amz-Security-Token"),
    }


for line in sys.stdin:
    if line.strip():
        print(json.dumps(sign(json.loads(line))), flush=True)
