"""AWS::SNS::Subscription in templates, for tools/moto_serial.py.

moto's CloudFormation has no model for it: a template's subscription is
reported CREATE_COMPLETE and nothing is subscribed, so a message published
to the topic never reaches the subscription's queue. The model below
subscribes through moto's own sns backend (ListSubscriptionsByTopic shows
it, and Publish delivers to the queue), with the Ref CloudFormation
documents (the subscription's ARN). Changing TopicArn, Protocol or Endpoint
replaces it, as in CloudFormation; the attributes CloudFormation passes
(RawMessageDelivery, FilterPolicy, RedrivePolicy...) are set on it and
updated in place. Deleting it unsubscribes.
"""

import json

from moto.core.common_models import CloudFormationModel
from moto.sns.models import sns_backends

from moto_model import MODULE as _MODULE, Model as _Model, absent as _absent

# Properties that are subscription attributes (SetSubscriptionAttributes).
ATTRIBUTES = ("DeliveryPolicy", "FilterPolicy", "FilterPolicyScope", "RawMessageDelivery",
              "RedrivePolicy", "SubscriptionRoleArn", "ReplayPolicy")


def _sns(account_id, region_name):
    return sns_backends[account_id][region_name]


def _text(value):
    """An attribute's value as SNS takes it: text, JSON for a policy."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


class SubscriptionModel(_Model, CloudFormationModel):
    __module__ = _MODULE
    REPLACE_ON = ("TopicArn", "Protocol", "Endpoint")

    def __init__(self, arn, props, account_id, region_name):
        self.arn, self.props = arn, props
        self.account_id, self.region_name = account_id, region_name

    @staticmethod
    def cloudformation_type():
        return "AWS::SNS::Subscription"

    @property
    def physical_resource_id(self):
        return self.arn

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        sns = _sns(account_id, region_name)
        subscription = sns.subscribe(p["TopicArn"], p["Endpoint"], p["Protocol"])
        model = cls(subscription.arn, p, account_id, region_name)
        model.modify(p)
        return model

    def modify(self, p):
        sns = _sns(self.account_id, self.region_name)
        for name in ATTRIBUTES:
            if name in p:
                sns.set_subscription_attributes(self.arn, name, _text(p[name]))

    def delete(self, account_id, region_name):
        _absent(_sns(account_id, region_name).unsubscribe, self.arn)
