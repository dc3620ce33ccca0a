"""The Powertools tracer (X-Ray SDK) for the asynchronous functions and the CRM API."""

from __future__ import annotations

from aws_lambda_powertools import Tracer

# Only the AWS SDK is traced: the send function's calls to the platforms carry people's ids in their URLs
# (X user ids, comment ids), which must not reach X-Ray.
tracer = Tracer(patch_modules=("boto3", "botocore"))
