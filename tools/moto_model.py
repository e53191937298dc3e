"""What the CloudFormation models of tools/moto_serial.py and
tools/moto_edge.py share: a model created at once, updated in place or
replaced, and deleted through its own service's backend."""

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException


def absent(original, *args):
    """Delete what may already be gone: CloudFormation treats a resource
    deleted out of band (or with its API) as deleted."""
    try:
        original(*args)
    except Exception as error:  # noqa: BLE001 - only "not found" is tolerated
        if "NotFound" not in type(error).__name__:
            raise


# moto files every model class under the service named by its module
# (moto.<service>.models), so the models here say where they belong.
MODULE = "moto.cloudformation.stackwright"


class Model:
    """What the models below share: no name property, created at once.
    (moto finds models among CloudFormationModel's direct subclasses only,
    so each model names it as a base itself.)"""

    ATTRS: dict = {}

    @staticmethod
    def cloudformation_name_type():
        return ""

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr in cls.ATTRS

    def get_cfn_attribute(self, attribute_name):
        if attribute_name not in self.ATTRS:
            raise UnformattedGetAttTemplateException()
        return getattr(self, self.ATTRS[attribute_name])

    def is_created(self):
        return True

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        pass  # every model deletes itself through delete() below

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        props = cloudformation_json["Properties"]
        if any(props.get(p) != original_resource.props.get(p) for p in cls.REPLACE_ON):
            # A change CloudFormation makes by replacement: new first, then old.
            new = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json,
                                                      account_id, region_name)
            original_resource.delete(account_id, region_name)
            return new
        original_resource.modify(props)
        original_resource.props = props
        return original_resource

    REPLACE_ON: tuple = ()

