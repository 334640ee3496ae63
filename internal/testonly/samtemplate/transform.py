"""Turn template.yaml into the CloudFormation that AWS would deploy.

Runs AWS's own SAM transform (aws-sam-translator, the code CloudFormation
runs for Transform: AWS::Serverless-2016-10-31) on a template, as
`sam deploy` hands it over: every function's CodeUri already packaged to
S3, the parameter values of samconfig.toml, the stack's pseudo parameters.
Prints one JSON object on stdout: for each template file given, the
template as written ("source", tags such as !Ref turned into their JSON
form) and either the transformed template ("transformed") or why the
transform refused it ("error").

Usage: python3 transform.py PARAMS_JSON TEMPLATE...
"""

import copy
import json
import logging
import os
import sys

# The transform asks boto for the region; no AWS account is involved.
REGION = "eu-west-1"
os.environ["AWS_DEFAULT_REGION"] = REGION
os.environ["AWS_REGION"] = REGION
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

from samtranslator.model.exceptions import InvalidDocumentException
# The transform records usage metrics that only AWS's own service
# publishes, and warns for each template that they were not: one line of
# noise per template on stderr, nothing about the template.
logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

# Where `sam deploy` would have uploaded each function's build.
PACKAGED_CODE = "s3://sam-deploy-bucket/complycube-createsession/0123456789abcdef0123456789abcdef"


class AWSManagedPolicies:
    """Stands in for the IAM lookup of AWS-managed policy names, which the
    transform does only when a template names one: the ARN of an
    AWS-managed policy is its name under arn:aws:iam::aws:policy/."""

    def load(self):
        return _AnyName()


class _AnyName(dict):
    def __contains__(self, name):
        return isinstance(name, str) and not name.startswith("arn:")

    def get(self, name, default=None):
        return self[name] if name in self else default

    def __getitem__(self, name):
        return "arn:aws:iam::aws:policy/" + name


def transform_one(path, params):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        source = yaml_parse(text)
    except Exception as e:  # a template that is not YAML at all
        return {"error": "not a YAML template: %s" % e}
    template = copy.deepcopy(source)
    for resource in template.get("Resources", {}).values():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::Function":
            props = resource.setdefault("Properties", {})
            props["CodeUri"] = PACKAGED_CODE
            # sam build consumed the build metadata.
            resource.pop("Metadata", None)
    try:
        out = transform(template, dict(params), AWSManagedPolicies())
    except InvalidDocumentException as e:
        return {"source": source, "error": "; ".join(c.message for c in e.causes)}
    except Exception as e:  # the transform's own failure on a broken template
        return {"source": source, "error": "%s: %s" % (type(e).__name__, e)}
    return {"source": source, "transformed": out}


def main():
    params = json.loads(sys.argv[1])
    params.setdefault("AWS::Region", REGION)
    params.setdefault("AWS::AccountId", "123456789012")
    params.setdefault("AWS::Partition", "aws")
    params.setdefault("AWS::StackName", "complycube-createsession")
    params.setdefault("AWS::URLSuffix", "amazonaws.com")
    results = {path: transform_one(path, params) for path in sys.argv[2:]}
    json.dump(results, sys.stdout, sort_keys=True, default=str)


if __name__ == "__main__":
    main()
