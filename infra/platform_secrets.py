"""The Secrets Manager secret holding the platform-secrets document (``schemas/platform-secrets.schema.json``)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

# Shown in the console next to the secret: what an operator must put in it.
DESCRIPTION_FOR_OPERATORS = (
    "socialcrm platform secrets: one JSON document. Format: "
    '{"meta": {"app_secret": "...", "verify_token": "..."}, "x": {"consumer_secret": "..."}, '
    '"linkedin": {"client_secret": "..."}, "tiktok": {"client_secret": "..."}, '
    '"youtube": {"hub_secret": "...", "verify_token": "..."}, "generic": {"webhook_secret": "whsec_..."}, '
    '"subject_pepper": "..."}. Each platform entry is optional: a platform without one answers 404. '
    "subject_pepper is generated at creation and keys every subject_id: keep it when you edit the "
    "document and never change it. JSON Schema: schemas/platform-secrets.schema.json."
)
# The document a new secret starts from: no platform configured yet (each answers 404 until added).
INITIAL_DOCUMENT = "{}"
PEPPER_LENGTH = 64


class PlatformSecrets(Construct):
    """The secret, created with a valid document (no platform yet, a random ``subject_pepper``)."""

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey, secret_name: str) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            secret_name=secret_name,
            description=DESCRIPTION_FOR_OPERATORS,
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=INITIAL_DOCUMENT,
                generate_string_key="subject_pepper",
                password_length=PEPPER_LENGTH,
                exclude_punctuation=True,
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        NagSuppressions.add_resource_suppressions(
            self.secret,
            [
                NagPackSuppression(
                    id="AwsSolutions-SMG4",
                    reason=(
                        "The document holds webhook signing secrets issued by each social platform's "
                        "developer console, which a rotation Lambda cannot renew, and the subject_id "
                        "pepper, which must never change (it keys every data subject's records). "
                        "Operators rotate platform secrets on the platform, then update the document."
                    ),
                )
            ],
        )
